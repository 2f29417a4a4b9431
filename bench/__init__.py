"""Benchmarks: ``python -m bench [NAME ...]``.

Each entry of ``BENCHMARKS`` names a module with ``run(args) -> dict`` that
prints a human-readable table and returns the numbers (modules also write
them as JSON under ``bench/out/``).  Benchmarks measure; they never assert.
"""

from __future__ import annotations

from pathlib import Path

# name -> module (imported only when that benchmark runs)
BENCHMARKS: dict[str, str] = {
    "schedulers": "bench.schedulers",
    "failover": "bench.failover",
    "proxy": "bench.proxy",
    "kernel": "bench.kernel",
    "health": "bench.health",
}

OUT_DIR = Path(__file__).resolve().parent / "out"
