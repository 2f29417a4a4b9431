"""Round-trip properties of the reader and both writers, over generated configurations."""

from __future__ import annotations

import contextlib
import difflib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lvscf_helpers import configs, env, layout, names

from piranha.config import ConfigError, check, dumps, parse, update
from piranha.config.model import schema_fields

SETTINGS = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@SETTINGS
@given(configs(), st.integers(0, 2**32))
def test_round_trips(c, seed):
    # The strategy draws valid configurations only.
    assert [d for d in check(c, env()) if d.is_error] == []
    # The canonical layout reads back as the same configuration.
    assert parse(dumps(c), environment=env()) == c
    # So does a hand-written layout (comments, odd spacing, mixed line ends,
    # duplicate keys, other number bases), and update() leaves it alone.
    text = layout(c, seed)
    parsed = parse(text, environment=env())
    assert parsed == c
    assert update(text, parsed, env()) == text


@settings(SETTINGS, max_examples=100)
@given(configs(), configs(), st.integers(0, 2**32), st.data())
def test_parse_of_update_is_the_new_config(old, new, seed, data):
    text = layout(old, seed)
    parsed = parse(text, environment=env())
    # Let some of the new blocks claim the identity of old ones (edits,
    # renames, moves), and leave the others new.
    olds = {
        kind: [b.origin for b in blocks]
        for kind, blocks in (
            ("v", parsed.virtuals),
            ("f", parsed.failovers),
            ("s", [s for v in parsed.virtuals for s in v.servers]),
        )
    }
    for kind, blocks in (
        ("v", new.virtuals),
        ("f", new.failovers),
        ("s", [s for v in new.virtuals for s in v.servers]),
    ):
        for block in blocks:
            if olds[kind] and data.draw(st.booleans()):
                block.origin = data.draw(st.sampled_from(olds[kind]))
    result = update(text, new, env())
    assert parse(result, environment=env()) == new


# Keys whose value can change freely without making the configuration invalid.
FREE = {
    "global": {
        "serial_no": st.integers(0, 1000),
        "heartbeat_port": st.integers(1, 65535),
        "tcp_timeout": st.integers(0, 900),
        "syncd_id": st.integers(0, 255),
        "hard_shutdown": st.booleans(),
        "autoreload": st.booleans(),
        "rsh_command": st.sampled_from(["ssh", "rsh", "/usr/bin/ssh -x"]),
    },
    "virtual": {
        "timeout": st.integers(1, 99),
        "reentry": st.integers(1, 999),
        "persistent": st.integers(0, 9999),
        "quiesce_server": st.booleans(),
        "send": st.sampled_from(["x", "GET / HTTP/1.0\\r\\n\\r\\n", "it's"]),
        "load_monitor": st.sampled_from(["uptime", "ruptime"]),
    },
    "server": {"weight": st.integers(0, 65535)},
    "failover": {"timeout": st.integers(1, 99)},
}


@settings(SETTINGS, max_examples=120)
@given(configs(), st.integers(0, 2**32), st.data())
def test_editing_one_value_changes_exactly_one_line(c, seed, data):
    text = layout(c, seed)
    parsed = parse(text, environment=env())
    candidates = [(parsed, "global")]
    candidates += [(v, "virtual") for v in parsed.virtuals] + [
        (f, "failover") for f in parsed.failovers
    ]
    candidates += [(s, "server") for v in parsed.virtuals for s in v.servers]
    block, section = data.draw(st.sampled_from(candidates))
    present = [k for k in FREE[section] if k in block.loc]
    if section != "global" and data.draw(st.booleans()):
        key, value = "name", data.draw(names)
    elif present:
        key = data.draw(st.sampled_from(present))
        value = data.draw(FREE[section][key])
    else:
        return
    unchanged = getattr(block, key) == value
    setattr(block, key, value)
    result = update(text, parsed, env())
    assert parse(result, environment=env()) == parsed
    diff = [
        d for d in difflib.ndiff(text.splitlines(True), result.splitlines(True)) if d[:1] in "+-"
    ]
    if unchanged:
        assert result == text
    else:
        assert [d[:1] for d in diff] == ["-", "+"], diff


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 70000),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.lists(st.text(max_size=3), max_size=2),
    st.sampled_from(
        [
            "0.0.0.0",
            "10.1",
            "web",
            "eth0:1",
            "wlc",
            "sh-port",
            "255.0.255.0",
            "a b",
            "#x",
            "'\"",
            "a\nb",
        ]
    ),
)


@settings(SETTINGS, max_examples=100)
@given(configs(), st.data())
def test_whatever_check_accepts_is_written_exactly(c, data):
    """Code (the GUI) may put anything in a field: check() is the gate to the writer."""
    blocks = [c, *c.virtuals, *c.failovers, *(s for v in c.virtuals for s in v.servers)]
    for _ in range(data.draw(st.integers(1, 3))):
        block = data.draw(st.sampled_from(blocks))
        setattr(block, data.draw(st.sampled_from([*schema_fields(block), "name"])), data.draw(JUNK))
    if any(d.is_error for d in check(c, env())):
        with contextlib.suppress(ConfigError):
            dumps(c)  # may write it (check is stricter) or refuse; never anything else
    else:
        assert parse(dumps(c), environment=env()) == c
