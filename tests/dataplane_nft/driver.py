"""A small lvsd for tests and benchmarks: the nftables backend driven over stdin/stdout.

Runs inside the director's network namespace (``ip netns exec DIR python
driver.py``) and answers one JSON line per request line, as lvsd's control
socket would:

    {"op": "lvsadm", "argv": ["-A", "-t", "10.0.0.1:80", "-s", "rr"]}
        -> ipvsadm's language on the table, then converge if it changed
    {"op": "match", "fwmark": 80, "match": [[6, "10.0.0.1", 80, 80], ...]}
    {"op": "sysctl", "expire_nodest_conn": true, "expire_quiescent_template": false}
    {"op": "converge"} / {"op": "refresh"} / {"op": "nft", "text": "list ruleset"}
    {"op": "counts"} -> per real server: weight, active, inactive, persistent, stats
    {"op": "stop"}

Answers: {"ok": true, ...} or {"ok": false, "error": "..."}.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from piranha.dataplane.base import BackendError, BackendOptions
from piranha.dataplane.nftables import NftablesBackend
from piranha.table import ipvsadm
from piranha.table.estimator import EstimatorClock
from piranha.table.model import MarkMatch, ServiceKey, VirtualTable


class Driver:
    def __init__(self, extra: dict[str, str]) -> None:
        self.table = VirtualTable()
        self.log = logging.getLogger("driver")
        self.converge_seconds = 0.0
        self.estimator = EstimatorClock()
        kind = extra.pop("backend", "nftables")
        options = BackendOptions(extra=extra)
        if kind == "userspace":
            from piranha.dataplane.userspace import UserspaceBackend

            self.backend = UserspaceBackend(self.table, options, log=self.log)
        else:
            self.backend = NftablesBackend(self.table, options, log=self.log)

    async def converge(self) -> dict:
        started = time.perf_counter()
        try:
            await self.backend.converge()
        except BackendError as exc:
            return {"failed": {str(k): why for k, why in exc.failed.items()}}
        finally:
            self.converge_seconds = time.perf_counter() - started
        return {"failed": {}}

    async def handle(self, req: dict) -> dict:
        op = req["op"]
        if op == "start":
            await self.backend.start()
            return {}
        if op == "stop":
            await self.backend.stop()
            return {}
        if op == "lvsadm":
            now = time.monotonic()
            if req.get("refresh", True):
                await self.backend.refresh(now)
            res = ipvsadm.run(self.table, req["argv"], stdin=req.get("stdin", ""), now=now)
            out = {"exit_code": res.exit_code, "stdout": res.stdout, "stderr": res.stderr}
            if res.changed:
                out.update(await self.converge())
            return out
        if op == "match":
            svc = self.table.services[ServiceKey.mark(req["fwmark"])]
            svc.match = tuple(MarkMatch(p, a, lo, hi) for p, a, lo, hi in req["match"])
            return await self.converge()
        if op == "sysctl":
            for name in ("expire_nodest_conn", "expire_quiescent_template"):
                if name in req:
                    setattr(self.table, name, bool(req[name]))
            return await self.converge()
        if op == "converge":
            return await self.converge()
        if op == "refresh":  # as lvsd's housekeeping: refresh, and the estimator every 2 s
            now = time.monotonic()
            await self.backend.refresh(now)
            self.estimator.advance(self.table, now)
            return {}
        if op == "nft":
            return {"output": self.backend._nft.run(req["text"])}
        if op == "restore":  # ipvsadm -R without listing first (large tables)
            res = ipvsadm.run(self.table, ["-R"], stdin=req["stdin"], now=time.monotonic())
            return {"exit_code": res.exit_code, "stderr": res.stderr[-2000:], **(await self.converge())}
        if op == "counts":
            out = {}
            for svc in self.table.services.values():
                for d in svc.destinations:
                    out[f"{svc.key}|{d.address}:{d.port}"] = {
                        "weight": d.weight,
                        "active": d.activeconns,
                        "inactive": d.inactconns,
                        "persistent": d.persistconns,
                        "overloaded": d.overloaded,
                        "conns": d.stats.conns,
                        "inpkts": d.stats.inpkts,
                        "outpkts": d.stats.outpkts,
                        "inbytes": d.stats.inbytes,
                        "outbytes": d.stats.outbytes,
                    }
            return {"counts": out}
        if op == "timing":
            return {
                "converge_seconds": self.converge_seconds,
                "apply_seconds": getattr(self.backend, "last_apply_seconds", None),
                "steps": getattr(self.backend, "last_steps", None),
            }
        raise ValueError(f"unknown op {op!r}")


async def main() -> None:
    extra = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="driver: %(message)s")
    driver = Driver(extra)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 << 20)  # large -R inputs
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            answer = {"ok": True, **(await driver.handle(json.loads(line)))}
        except Exception as exc:  # report, keep serving
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if json.loads(line)["op"] == "stop":
            break


if __name__ == "__main__":
    asyncio.run(main())
