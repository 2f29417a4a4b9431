import asyncio
import os
import sys
import time

from piranha.runtime.notify import notify
from piranha.runtime.process import run_command, split_command


def test_output_and_exit_code():
    res = asyncio.run(run_command([sys.executable, "-c", "print('OK'); raise SystemExit(3)"], timeout=10))
    assert res.returncode == 3 and res.stdout == b"OK\n" and not res.ok


def test_timeout_kills_the_whole_group(tmp_path):
    marker = tmp_path / "child.pid"
    script = (
        "import os, subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(marker)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    res = asyncio.run(run_command([sys.executable, "-c", script], timeout=1.0))
    assert res.returncode is None and "timed out" in res.error
    child = int(marker.read_text())
    for _ in range(50):  # the grandchild dies with its group
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("grandchild survived the timeout")


def test_missing_program_is_an_error_not_an_exception():
    res = asyncio.run(run_command(["/nonexistent/check"], timeout=1))
    assert res.returncode is None and "cannot run /nonexistent/check" in res.error


def test_split_is_on_blanks_without_shell():
    assert split_command("/bin/check  %h $(reboot)") == ["/bin/check", "%h", "$(reboot)"]


def test_notify_datagram(tmp_path):
    import socket

    path = tmp_path / "n.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(path))
        assert notify("READY=1", env={"NOTIFY_SOCKET": str(path)})
        assert s.recv(100) == b"READY=1"
    assert not notify("READY=1", env={})
