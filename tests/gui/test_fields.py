"""Reading what was typed: one rule per kind of field, and nothing dangerous gets through."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piranha.config import Environment
from piranha.config.values import FORBIDDEN
from piranha.gui.fields import (
    GLOBAL_FIELDS,
    PANEL_FIELDS,
    SCRIPT_FIELDS,
    VIRTUAL_FIELDS,
    FieldError,
    FieldSpec,
    read_form,
    read_json,
    read_text_value,
    spec_named,
)

PORTS = Environment.hermetic().service_port
TEXT_KINDS = ("text", "name", "device", "command", "probe", "path", "host")


def spec(kind: str, **kw) -> FieldSpec:
    return FieldSpec("f", "F", kind, **kw)


def test_numbers_ports_and_addresses():
    assert read_text_value(spec("int"), " 42 ") == 42
    assert read_text_value(spec("int"), "-1") == -1  # the range is `piranha check`'s to judge
    for bad in ("4 2", "0x10", "1e3", "٤٢", "12345678901"):
        with pytest.raises(FieldError):
            read_text_value(spec("int"), bad)
    assert read_text_value(spec("port"), "http", PORTS) == 80  # the guide's "Application: http"
    with pytest.raises(FieldError, match="service name"):
        read_text_value(spec("port"), "nonsense", PORTS)
    assert read_text_value(spec("ip"), "192.168.1.100") == "192.168.1.100"
    for bad in ("10.1", "1.2.3.4.5", "256.1.1.1", "a.b.c.d", "010.0.0.1"):
        with pytest.raises(FieldError):
            read_text_value(spec("ip"), bad)
    assert read_text_value(spec("host"), "lvs2.example.com") == "lvs2.example.com"
    with pytest.raises(FieldError):
        read_text_value(spec("host"), "-oProxyCommand=x")
    assert read_text_value(spec("mask"), " 255.255.255.0 ") == "255.255.255.0"
    with pytest.raises(FieldError, match="netmask"):
        read_text_value(spec("mask"), "255.255.255.0x")


def test_blank_optional_fields_and_required_ones():
    assert read_text_value(spec("ip", optional=True), "  ") is None
    assert read_text_value(spec("int", optional=True, blank=0), "") == 0
    with pytest.raises(FieldError, match="required"):
        read_text_value(spec("ip"), "")
    assert read_text_value(spec("bool"), "1") is True
    assert read_text_value(spec("bool"), "") is False


def test_names_devices_and_commands():
    assert read_text_value(spec("name"), "web farm 1") == "web_farm_1"
    for bad in ('we"b', "a{b", "x=y", "#x", "a\\b", "a'b"):
        with pytest.raises(FieldError):
            read_text_value(spec("name"), bad)
    assert read_text_value(spec("device"), "eth0:1") == "eth0:1"
    for bad in ("eth0 1", "eth0;reboot", "a" * 16, "eth0/1"):
        with pytest.raises(FieldError):
            read_text_value(spec("device"), bad)
    assert (
        read_text_value(spec("command"), "/usr/local/bin/check_dns %h %p")
        == "/usr/local/bin/check_dns %h %p"
    )
    for bad in (
        '/bin/sh -c "x"',
        "/bin/x 'y'",
        "/bin/x \\n",
        "/bin/x `id`",
        "/bin/x\n/bin/y",
        "/bin/é",
    ):
        with pytest.raises(FieldError):
            read_text_value(spec("command"), bad)


def test_probe_strings_keep_their_blanks_and_escapes():
    assert (
        read_text_value(spec("probe", optional=True), "GET / HTTP/1.0\\r\\n\\r\\n")
        == "GET / HTTP/1.0\\r\\n\\r\\n"
    )
    assert read_text_value(spec("probe", optional=True), " 220 ") == " 220 "
    assert read_text_value(spec("probe", optional=True), "") is None
    with pytest.raises(FieldError, match="printable ASCII"):
        read_text_value(spec("probe", optional=True), "caf\u00e9")


@given(st.text(min_size=1, max_size=30).filter(lambda s: FORBIDDEN.search(s) or "\t" in s))
def test_no_control_character_passes_any_text_field(text):
    for kind in TEXT_KINDS:
        with pytest.raises(FieldError):
            read_text_value(spec(kind, optional=True), "a" + text + "b")


@given(st.text(max_size=40))
def test_a_command_that_passes_is_a_single_line_of_printable_ascii_without_quotes(text):
    try:
        value = read_text_value(spec("command", optional=True), text)
    except FieldError:
        return
    assert value is None or all(" " <= c <= "~" and c not in "\"'\\`" for c in value)


def test_read_form_skips_missing_fields_but_not_checkboxes():
    values, errors = read_form(SCRIPT_FIELDS, {"send": "x"})
    assert values == {"send": "x", "use_regex": False, "check_tls": False}
    assert errors == {}
    values, errors = read_form(GLOBAL_FIELDS, {"primary": "not an address!", "tcp_timeout": "10"})
    assert values == {"tcp_timeout": 10} and set(errors) == {"primary"}


def test_read_json_types_and_unknown_fields():
    specs = PANEL_FIELDS["server"]
    values, errors = read_json(specs, {"weight": 3, "address": "10.0.0.2", "port": None})
    assert values == {"weight": 3, "address": "10.0.0.2", "port": None} and errors == {}
    values, errors = read_json(specs, {"weight": True, "colour": "red", "name": 5})
    assert set(errors) == {"weight", "colour", "name"}


def test_every_virtual_field_maps_to_a_model_attribute():
    from piranha.config import Virtual

    names = {f for f in Virtual.__dataclass_fields__}
    for s in VIRTUAL_FIELDS + SCRIPT_FIELDS:
        assert s.name in names, s.name
    assert spec_named(VIRTUAL_FIELDS, "name").diagnostic_keys == ("{",)
