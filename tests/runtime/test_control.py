import asyncio
import os
import stat

import pytest

from piranha.runtime.control import ControlClient, ControlError, ControlServer, NotRunning, acall


def _serve(tmp_path, handlers):
    path = tmp_path / "d.sock"
    server = ControlServer(path, handlers)
    return path, server


def test_round_trip_errors_and_permissions(tmp_path):
    async def main():
        async def slow(req):
            await asyncio.sleep(0.01)
            return {"echo": req["value"]}

        def refuse(req):
            raise ControlError("No such service")

        def crash(req):
            raise ZeroDivisionError

        path, server = _serve(tmp_path, {"echo": slow, "refuse": refuse, "crash": crash})
        await server.start()
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == 0o600

        def client_side():
            with ControlClient(path) as c:
                assert c.call("echo", value=[1, "x"]) == {"echo": [1, "x"]}
                with pytest.raises(ControlError, match="No such service"):
                    c.call("refuse")
                with pytest.raises(ControlError, match="internal error"):
                    c.call("crash")
                with pytest.raises(ControlError, match="unknown op 'nope'"):
                    c.call("nope")
                # the connection survives errors
                assert c.call("echo", value=2) == {"echo": 2}

        await asyncio.to_thread(client_side)
        assert await acall(path, "echo", value="a") == {"echo": "a"}
        await server.close()
        assert not path.exists()

    asyncio.run(main())


def test_not_running_and_stale_socket(tmp_path):
    path = tmp_path / "gone.sock"
    with pytest.raises(NotRunning):
        ControlClient(path).call("status")
    # a stale socket file left by a crash is replaced, a live one is refused
    import socket

    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()

    async def main():
        server = ControlServer(path, {"status": lambda r: "up"})
        await server.start()
        other = ControlServer(path, {})
        with pytest.raises(RuntimeError, match="already serving"):
            await other.start()
        assert await acall(path, "status") == "up"
        await server.close()

    asyncio.run(main())


def test_bad_json_gets_an_answer(tmp_path):
    async def main():
        path, server = _serve(tmp_path, {"x": lambda r: 1})
        await server.start()
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b"{not json\n[1]\n")
        first = await reader.readline()
        second = await reader.readline()
        assert b"bad request" in first and b"bad request" in second
        writer.close()
        await server.close()

    asyncio.run(main())
