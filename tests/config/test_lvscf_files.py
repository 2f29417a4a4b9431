"""load() and save(): the only file I/O of piranha.config."""

from __future__ import annotations

import fcntl
import os
import stat
import threading

import pytest
from lvscf_helpers import EXAMPLE_1_6, env

from piranha.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    config_path,
    load,
    parse,
    read_text,
    save,
)


def test_default_path(monkeypatch):
    monkeypatch.delenv("PIRANHA_CONFIG", raising=False)
    assert DEFAULT_CONFIG_PATH == "/etc/sysconfig/ha/lvs.cf"
    assert str(config_path()) == DEFAULT_CONFIG_PATH
    monkeypatch.setenv("PIRANHA_CONFIG", "/tmp/elsewhere.cf")
    assert str(config_path()) == "/tmp/elsewhere.cf"
    assert str(config_path("given.cf")) == "given.cf"


def test_load_reads_and_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "lvs.cf"
    path.write_text(EXAMPLE_1_6)
    monkeypatch.setenv("PIRANHA_CONFIG", str(path))
    c = load(environment=env())
    assert c == parse(EXAMPLE_1_6, environment=env())
    assert c.filename == str(path)
    path.write_text("keepalive = x\n")
    with pytest.raises(ConfigError) as info:
        load(path, env())
    assert str(info.value).startswith(f"{path}:1:13: error:")


def test_load_of_a_missing_file_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.cf", env())


def test_text_round_trips_bytes_exactly(tmp_path):
    raw = b"# caf\xc3\xa9 \xff\xfe not utf-8 in a comment\r\nkeepalive = 3\r\n"
    path = tmp_path / "lvs.cf"
    path.write_bytes(raw)
    text = read_text(path)
    assert parse(text, environment=env()).keepalive == 3
    save(path, text)
    assert path.read_bytes() == raw


def test_bytes_that_are_not_utf8_in_a_value_are_an_error(tmp_path):
    path = tmp_path / "lvs.cf"
    path.write_bytes(b"rsh_command = ss\xffh\n")
    with pytest.raises(ConfigError) as info:
        load(path, env())
    assert "a byte that is not UTF-8 is not allowed in lvs.cf values" in str(info.value)


def test_save_creates_a_new_file_without_backup(tmp_path):
    path = tmp_path / "lvs.cf"
    save(path, "keepalive = 3\n")
    assert path.read_text() == "keepalive = 3\n"
    assert not (tmp_path / "lvs.cf.bak").exists()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_save_keeps_one_backup_and_the_mode_and_owner(tmp_path):
    path = tmp_path / "lvs.cf"
    path.write_text("first\n")
    os.chmod(path, 0o640)
    uid, gid = (12345, 23456) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(path, uid, gid)
    save(path, "second\n")
    save(path, "third\n")
    assert path.read_text() == "third\n"
    assert (tmp_path / "lvs.cf.bak").read_text() == "second\n"
    for p in (path, tmp_path / "lvs.cf.bak"):
        st = p.stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, uid, gid)
    assert sorted(os.listdir(tmp_path)) == ["lvs.cf", "lvs.cf.bak"]  # no temporary files left


def test_save_follows_a_symlink(tmp_path):
    real = tmp_path / "real.cf"
    real.write_text("old\n")
    link = tmp_path / "lvs.cf"
    link.symlink_to(real)
    save(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    assert (tmp_path / "real.cf.bak").read_text() == "old\n"


def test_a_failed_save_leaves_the_old_file_and_no_litter(tmp_path, monkeypatch):
    path = tmp_path / "lvs.cf"
    path.write_text("old\n")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        save(path, "new\n")
    assert path.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["lvs.cf"]


def test_save_waits_for_the_directory_lock(tmp_path):
    path = tmp_path / "lvs.cf"
    path.write_text("old\n")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        saver = threading.Thread(target=save, args=(path, "new\n"))
        saver.start()
        saver.join(0.3)
        assert saver.is_alive() and path.read_text() == "old\n"  # blocked behind our lock
        fcntl.flock(fd, fcntl.LOCK_UN)
        saver.join(10)
        assert not saver.is_alive()
        assert path.read_text() == "new\n"
    finally:
        os.close(fd)
