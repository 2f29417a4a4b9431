"""The only way the tool writes lvs.cf: conflict check, `piranha check` gate, minimal edit, serial_no."""

from __future__ import annotations

import os
import threading

import pytest

from piranha.config import Environment, Server, load
from piranha.gui.edits import add_server, add_virtual, edited
from piranha.gui.store import ABSENT, ConfigStore, Conflict, Invalid, WriteFailed

TEXT = "# comment kept\nprimary = 10.0.0.1\n\nvirtual www {\n\taddress = 10.0.0.100 eth0:1\n\tactive = 1\n\tserver a {\n\t\taddress = 10.0.0.2\n\t\tactive = 1\n\t}\n}\n"


def store_for(tmp_path, text=TEXT) -> ConfigStore:
    path = tmp_path / "lvs.cf"
    if text is not None:
        path.write_text(text)
    return ConfigStore(path, Environment.hermetic)


def test_save_edits_in_place_and_raises_serial_no(tmp_path):
    store = store_for(tmp_path)
    snap = store.snapshot()
    config = edited(snap.config)
    config.virtuals[0].servers[0].weight = 5
    saved = store.save(snap.digest, config)
    text = store.path.read_text()
    assert text.startswith("# comment kept\n") and "\t\tweight = 5\n" in text
    assert "serial_no = 1\n" in text
    assert saved.changed and "+\t\tweight = 5" in saved.diff and "+serial_no = 1" in saved.diff
    assert (tmp_path / "lvs.cf.bak").read_text() == TEXT
    again = store.snapshot()
    second = edited(again.config)
    second.virtuals[0].servers[0].weight = 6
    store.save(again.digest, second)
    assert load(store.path, Environment.hermetic()).serial_no == 2


def test_nothing_changed_means_nothing_written(tmp_path):
    store = store_for(tmp_path)
    snap = store.snapshot()
    mtime = os.stat(store.path).st_mtime_ns
    saved = store.save(snap.digest, edited(snap.config))
    assert not saved.changed and os.stat(store.path).st_mtime_ns == mtime


def test_a_stale_digest_is_a_conflict(tmp_path):
    store = store_for(tmp_path)
    snap = store.snapshot()
    store.path.write_text(TEXT + "# someone else\n")
    config = edited(snap.config)
    config.primary = "10.0.0.9"
    with pytest.raises(Conflict, match="changed since this page was shown"):
        store.save(snap.digest, config)
    assert store.path.read_text().endswith("# someone else\n")


def test_what_piranha_check_refuses_is_never_written(tmp_path):
    store = store_for(tmp_path)
    snap = store.snapshot()
    config = edited(snap.config)
    config.virtuals[0].servers.append(
        Server(name="b", address="10.0.0.2", active=True)
    )  # the same real server twice
    with pytest.raises(Invalid) as info:
        store.save(snap.digest, config)
    assert any("are the same real server" in d.message for d in info.value.diagnostics)
    config = edited(snap.config)
    config.virtuals[0].send_program = "/bin/check\n     active = 1"
    with pytest.raises(Invalid, match="newline"):
        store.save(snap.digest, config)
    assert store.path.read_text() == TEXT


def test_a_missing_file_is_created_by_the_first_save(tmp_path):
    store = store_for(tmp_path, None)
    snap = store.snapshot()
    assert snap.digest == ABSENT and not snap.exists and snap.config is not None
    config = edited(snap.config)
    config.primary = "10.0.0.1"
    i = add_virtual(config)
    add_server(config.virtuals[i])
    store.save(ABSENT, config)
    written = load(store.path, Environment.hermetic())
    assert written.primary == "10.0.0.1" and written.serial_no == 1
    assert [v.name for v in written.virtuals] == ["[server_name]"]
    assert [s.name for s in written.virtuals[0].servers] == ["[unnamed]"]


def test_concurrent_saves_from_the_same_page_one_wins(tmp_path):
    store = store_for(tmp_path)
    snap = store.snapshot()
    results: list[str] = []

    def attempt(weight: int) -> None:
        config = edited(snap.config)
        config.virtuals[0].servers[0].weight = weight
        try:
            store.save(snap.digest, config)
            results.append("saved")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=attempt, args=(w,)) for w in (2, 3, 4, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 3 + ["saved"]
    assert load(store.path, Environment.hermetic()).serial_no == 1


def test_a_failed_write_is_reported_and_leaves_the_file(tmp_path):
    store = store_for(tmp_path)
    (tmp_path / "lvs.cf.bak").mkdir()  # the backup copy cannot be made (as root too)
    (tmp_path / "lvs.cf.bak" / "x").write_text("")
    snap = store.snapshot()
    config = edited(snap.config)
    config.primary = "10.0.0.2"
    with pytest.raises(WriteFailed, match="cannot write"):
        store.save(snap.digest, config)
    assert store.path.read_text() == TEXT


def test_an_unreadable_file_is_reported(tmp_path):
    store = store_for(tmp_path, None)
    store.path.mkdir()
    snap = store.snapshot()
    assert snap.config is None and "cannot read" in (snap.read_error or "")
