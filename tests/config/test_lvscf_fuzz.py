"""Robustness: random bytes and broken variants of valid files.

Whatever the input, parse() returns a Config or raises ConfigError, never
anything else; its diagnostics point inside the file; and whatever it
accepts, dumps() and update() handle exactly.  Seeded loops (not timing
dependent): 12,000 cases in all.
"""

from __future__ import annotations

import random

import pytest
from lvscf_helpers import EXAMPLE_1_6, SEEDS, env, seed_text

from piranha.config import ConfigError, dumps, parse, update
from piranha.config.lexer import split_lines

SMALL = """\
primary = 10.0.0.1
network = direct
virtual www {
     active = 1
     address = 10.0.0.100 eth0:1
     port = http
     send = "GET / HTTP/1.0\\r\\n\\r\\n"
     expect = 'HTTP'
     scheduler = sh
     sched_flags = sh-port
     server a {
         address = 10.1.0.1
         active = 1
     }
}
failover f {
     address = 10.0.0.9 eth0:2
     start_cmd = "/bin/start it"
     stop_cmd = /bin/stop
}
"""

BASES = [SMALL, SMALL, SMALL, EXAMPLE_1_6, *(seed_text(name) for name in SEEDS)]

TOKENS = [
    "=", "{", "}", "[", "]", "#", '"', "'", '""', "virtual", "server", "failover", "x", "0", "-1", "0x", "08",
    "99999999999999999999", "255.255.255.255", "10.1", "eth0:1", "http", "port", "address", "active",
    "scheduler", "wlc", "weight", "\t", "\ufeff", "\u2028", "\x00", "\x1b[31m", "\udcff", "é", "\u00a0", "\r", "\n",
]  # fmt: skip
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 \t\n\r=#{}[]\"'.:-_/\\"


def mutate(text: str, rng: random.Random) -> str:
    lines = [t + e for t, e in split_lines(text)] or [""]
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        op = rng.randrange(10)
        if op == 0 and len(lines) > 1:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[i])
        elif op == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3:  # insert a token somewhere in the line
            line = lines[i]
            k = rng.randint(0, len(line))
            lines[i] = (
                line[:k]
                + rng.choice([" ", ""])
                + rng.choice(TOKENS)
                + rng.choice([" ", ""])
                + line[k:]
            )
        elif op == 4:  # flip, drop or add quotes
            line = lines[i]
            k = rng.randint(0, len(line))
            lines[i] = rng.choice(
                [
                    line.replace('"', "'"),
                    line.replace("'", '"'),
                    line.replace('"', "", 1),
                    line[:k] + '"' + line[k:],
                ]
            )
        elif op == 5:  # truncate the file here
            cut = rng.randint(0, len(lines[i]))
            lines = [*lines[:i], lines[i][:cut]]
        elif op == 6:  # random unicode
            line = lines[i]
            k = rng.randint(0, len(line))
            lines[i] = (
                line[:k]
                + "".join(
                    chr(
                        rng.choice(
                            [
                                rng.randrange(0x20),
                                rng.randrange(0x80, 0x3000),
                                0xFEFF,
                                0x2028,
                                0xDCFF,
                            ]
                        )
                    )
                    for _ in range(rng.randint(1, 3))
                )
                + line[k:]
            )
        elif op == 7:  # line-end variants
            lines[i] = lines[i].rstrip("\r\n") + rng.choice(["\n", "\r\n", "\r", "", "\n\r"])
        elif op == 8:  # replace a value
            line = lines[i]
            if " = " in line:
                head = line.split(" = ", 1)[0]
                lines[i] = f"{head} = {rng.choice(TOKENS)}" + rng.choice(["\n", " junk\n", "\n"])
        else:  # join two lines
            if i + 1 < len(lines):
                lines[i : i + 2] = [lines[i].rstrip("\r\n") + " " + lines[i + 1]]
    return "".join(lines)


def random_text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        return raw.decode("utf-8", "surrogateescape")
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 400)))


def exercise(text: str) -> str:
    """Parse; check what comes back.  Returns "ok" or "error"."""
    n_lines = max(1, len(split_lines(text)))
    try:
        config = parse(text, filename="fuzz.cf", environment=env())
    except ConfigError as exc:
        assert exc.errors, "ConfigError without an error"
        for d in exc.diagnostics:
            assert 1 <= d.line <= n_lines and d.col >= 1, (str(d), n_lines)
            assert str(d).startswith(f"fuzz.cf:{d.line}:{d.col}: {d.severity}: ")
        return "error"
    assert parse(dumps(config), environment=env()) == config
    assert update(text, config, env()) == text
    return "ok"


@pytest.mark.parametrize("seed", range(8))
def test_mutations_of_valid_files(seed):
    rng = random.Random(seed)
    outcomes = {"ok": 0, "error": 0}
    for case in range(1000):
        text = mutate(rng.choice(BASES), rng)
        try:
            outcomes[exercise(text)] += 1
        except Exception as exc:  # report the reproducer, not just the exception
            raise AssertionError(
                f"seed {seed} case {case}: {type(exc).__name__}: {exc}\n{text!r}"
            ) from exc
    # Both paths were exercised: the mutations are neither all harmless nor all fatal.
    assert outcomes["ok"] > 50 and outcomes["error"] > 300, outcomes


@pytest.mark.parametrize("seed", range(4))
def test_random_text(seed):
    rng = random.Random(1000 + seed)
    for case in range(1000):
        text = random_text(rng)
        try:
            exercise(text)
        except Exception as exc:
            raise AssertionError(
                f"seed {seed} case {case}: {type(exc).__name__}: {exc}\n{text!r}"
            ) from exc
