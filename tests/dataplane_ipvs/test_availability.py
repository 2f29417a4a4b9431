"""Where the IPVS data plane runs: only on kernels with IPVS, and `auto` picks it first there."""

from __future__ import annotations

import os
from pathlib import Path

from piranha.dataplane import choose
from piranha.dataplane.ipvs import IPVSBackend


def test_this_kernel_has_no_ipvs_and_says_so():
    assert not Path("/proc/net/ip_vs").exists(), "this test documents the machine it runs on"
    why = IPVSBackend.unavailable_reason()
    assert why is not None and "/proc/net/ip_vs" in why
    cls, notes = choose("auto")
    assert cls is not IPVSBackend
    assert any(note.startswith("ipvs: the kernel has no IPVS") for note in notes)


def test_auto_picks_ipvs_where_proc_net_ip_vs_exists(tmp_path, monkeypatch):
    fake = tmp_path / "ip_vs"
    fake.write_text("IP Virtual Server version 1.2.1 (size=4096)\n")
    monkeypatch.setattr(IPVSBackend, "proc_path", str(fake))
    if os.geteuid() == 0:
        assert IPVSBackend.unavailable_reason() is None
        assert choose("auto")[0] is IPVSBackend
    else:
        assert "root" in IPVSBackend.unavailable_reason()
