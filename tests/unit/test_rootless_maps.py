"""Rootless id maps from /etc/subuid-style files (pure: files in tmp_path)."""

from __future__ import annotations

import os

import pytest

import libcontainer_py as lc
from libcontainer_py import rootless


def test_subordinate_ranges_by_name_or_number_in_file_order(tmp_path, monkeypatch) -> None:
    path = tmp_path / "subuid"
    path.write_text("alice:100000:65536\n# comment\n1000:300000:10\nbob:200000:65536\nbad line\n1000:1:0\n")
    monkeypatch.setattr(rootless, "_user_name", lambda uid: "alice" if uid == 1000 else None)
    assert rootless.subordinate_ranges(str(path), 1000) == ((100000, 65536), (300000, 10))
    assert rootless.subordinate_ranges(str(tmp_path / "missing"), 1000) == ()


def test_automatic_maps_stack_the_ranges_after_the_callers_id(tmp_path, monkeypatch) -> None:
    (tmp_path / "subuid").write_text("1000:100000:65536\n1000:300000:10\n")
    (tmp_path / "subgid").write_text("1000:200000:65536\n")
    monkeypatch.setattr(rootless, "SUBUID", str(tmp_path / "subuid"))
    monkeypatch.setattr(rootless, "SUBGID", str(tmp_path / "subgid"))
    monkeypatch.setattr(rootless, "_which", lambda name: f"/usr/bin/{name}")
    maps = rootless.automatic_maps(1000, 1000)
    assert maps.shortfall is None
    assert maps.uids == (lc.IDMap(0, 1000, 1), lc.IDMap(1, 100000, 65536), lc.IDMap(65537, 300000, 10))
    assert maps.gids == (lc.IDMap(0, 1000, 1), lc.IDMap(1, 200000, 65536))
    monkeypatch.setattr(rootless, "_which", lambda name: None)
    os.utime(tmp_path / "subuid", ns=(1, 1))  # a change of the file invalidates the cache
    missing = rootless.automatic_maps(1000, 1000)
    assert missing.uids == (lc.IDMap(0, 1000, 1),) and "apt-get install uidmap" in (missing.shortfall or "")


def test_maps_of_other_ids_are_refused_naming_the_callers(tmp_path, monkeypatch) -> None:
    (tmp_path / "subuid").write_text("1000:100000:65536\n")
    monkeypatch.setattr(rootless, "SUBUID", str(tmp_path / "subuid"))
    monkeypatch.setattr(rootless, "_which", lambda name: f"/usr/bin/{name}")
    rootless.check_maps("uid", [lc.IDMap(0, 1000, 1), lc.IDMap(1, 100000, 65536)], 1000)
    rootless.check_maps("uid", [lc.IDMap(0, 1000, 1)], 1000)  # one's own id: no helper needed
    with pytest.raises(rootless.RootlessConfigError) as info:
        rootless.check_maps("uid", [lc.IDMap(0, 100000, 65537)], 1000)
    assert info.value.field == "uid_mappings" and "1000-1000, 100000-165535" in str(info.value)
    assert not rootless.needs_helper([lc.IDMap(0, 1000, 1)], 1000)
    assert rootless.needs_helper([lc.IDMap(0, 1000, 2)], 1000)
