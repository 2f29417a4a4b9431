"""-S -n then -R gives the same table back (property test over random tables)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from piranha.table import model
from piranha.table.ipvsadm import render_save, run

SCHEDULERS = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"]
FORWARDS = [model.Forward.MASQ, model.Forward.ROUTE, model.Forward.TUNNEL]

addresses = st.integers(1, 2**32 - 2).map(model.int_to_ip)
ports = st.integers(0, 65535)


@st.composite
def services(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(["tcp", "udp", "fwm"]))
    if kind == "fwm":
        key = model.ServiceKey.mark(draw(st.integers(1, 2**32 - 1)))
    else:
        proto = model.IPPROTO_TCP if kind == "tcp" else model.IPPROTO_UDP
        key = model.ServiceKey(proto, draw(addresses), draw(ports))
    scheduler = draw(st.sampled_from(SCHEDULERS))
    if scheduler in ("sh", "mh"):
        names = [f"{scheduler}-fallback", f"{scheduler}-port"]  # the ones -S can write
    else:
        names = ["flag-1", "flag-2", "flag-3"]
    persistent = draw(st.one_of(st.just(0), st.integers(1, model.MAX_PERSISTENT)))
    if not key.is_fwmark and key.port == 0 and not persistent:
        persistent = draw(st.integers(1, model.MAX_PERSISTENT))  # port 0 must be persistent
    netmask = draw(addresses) if persistent and draw(st.booleans()) else "255.255.255.255"
    dests = draw(
        st.lists(
            st.tuples(addresses, ports, st.sampled_from(FORWARDS), st.integers(0, 65535)),
            max_size=5,
        )
    )
    return {
        "key": key,
        "scheduler": scheduler,
        "sched_flags": frozenset(draw(st.sets(st.sampled_from(names)))),
        "persistent": persistent,
        "netmask": netmask,
        "ops": draw(st.booleans()) and (key.is_fwmark or key.protocol == model.IPPROTO_UDP),
        "pe_name": draw(st.sampled_from(["", "sip"])),
        "dests": dests,
    }


def build(specs: list[dict]) -> model.VirtualTable:
    table = model.VirtualTable()
    for spec in specs:
        key = spec["key"]
        if key in table.services:
            continue
        table.add_service(
            key,
            spec["scheduler"],
            persistent=spec["persistent"],
            netmask=spec["netmask"],
            sched_flags=spec["sched_flags"],
            ops=spec["ops"],
            pe_name=spec["pe_name"],
        )
        for address, port, forward, weight in spec["dests"]:
            if not key.is_fwmark and forward is not model.Forward.MASQ:
                port = key.port  # -S/-R cannot express another port for -g/-i (nor can ipvsadm)
            if table.services[key].find(address, port) is None:
                table.add_dest(key, address, port, weight=weight, forward=forward)
    return table


def canonical(table: model.VirtualTable) -> list[tuple]:
    return sorted(
        (
            svc.key.sort_key(),
            svc.scheduler_name,
            tuple(sorted(svc.sched_flags)),
            svc.persistent,
            svc.netmask,
            svc.ops,
            svc.pe_name,
            tuple(sorted((d.address, d.port, d.forward.value, d.weight) for d in svc.destinations)),
        )
        for svc in table.services.values()
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(services(), max_size=6))
def test_save_restore_round_trip(specs: list[dict]) -> None:
    original = build(specs)
    saved = render_save(original)
    assert run(original, ["-S", "-n"]).stdout == saved
    restored = model.VirtualTable()
    result = run(restored, ["-R"], stdin=saved)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.changed is bool(saved)
    assert run(restored, ["-S", "-n"]).stdout == saved
    assert canonical(restored) == canonical(original)
    # and the listing of both is the same, line for line
    assert run(restored, ["-L", "-n"]).stdout == run(original, ["-L", "-n"]).stdout


def test_round_trip_of_an_empty_table() -> None:
    assert render_save(model.VirtualTable()) == ""
    assert run(model.VirtualTable(), ["-R"], stdin="").exit_code == 0
