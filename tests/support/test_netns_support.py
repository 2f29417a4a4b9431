"""The namespace helpers themselves: two hosts on a bridge can talk, and nothing is left behind."""

import subprocess

import pytest

from tests.support.netns import Topology

pytestmark = pytest.mark.netns


def test_two_hosts_on_a_segment_and_cleanup():
    with Topology() as topo:
        a, b = topo.host("a"), topo.host("b")
        lan = topo.segment("lan")
        topo.attach(a, lan, "10.66.0.1/24")
        topo.attach(b, lan, "10.66.0.2/24")
        a.run(["ping", "-c1", "-W2", "10.66.0.2"])
        sleeper = b.spawn(["sleep", "600"])
        names = [h.name for h in topo.hosts]
    assert sleeper.poll() is not None
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(n in listed for n in names)
