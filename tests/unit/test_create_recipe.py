"""The create recipes' plain parts: which values are marked in a
config.json, what is left to the library's path, the record's time."""

from __future__ import annotations

import datetime
import json
import os
from typing import Any, Dict
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libcontainer_py import _jsonlite
from libcontainer_py._statedir import utc_now
from libcontainer_py.cli._argv import parse
from libcontainer_py.cli._create_recipe import ID_MARK, ROOT_MARK, SHORT_MARK, Inputs, read_inputs

CID = "0123456789abcdef" * 4


def _doc(root: str, cid: str = CID) -> Dict[str, Any]:
    return {
        "ociVersion": "1.0.2-dev",
        "process": {"args": ["true"], "env": ["HOME=/root", f"HOSTNAME={cid[:12]}"], "cwd": "/"},
        "root": {"path": root},
        "hostname": cid[:12],
        "mounts": [{"destination": "/etc/hosts", "type": "bind", "source": f"/run/c/{cid}/userdata/hosts"}],
        "annotations": {"io.kubernetes.cri-o.Created": "now"},
        "linux": {"cgroupsPath": f"/libpod_parent/libpod-{cid}"},
    }


def _inputs(tmp_path: Any, doc: Dict[str, Any], cid: str = CID, *flags: str) -> Any:
    bundle = tmp_path / cid
    bundle.mkdir(exist_ok=True)
    (bundle / "config.json").write_text(json.dumps(doc))
    args = parse(["--root", str(tmp_path / "state"), "create", *flags, "--bundle", str(bundle), cid])
    assert args is not None
    return read_inputs(args)


def test_the_varying_values_are_marked(tmp_path: Any) -> None:
    root = tmp_path / "layers" / ("f" * 64) / "merged"
    root.mkdir(parents=True)
    inputs = _inputs(tmp_path, _doc(str(root)))
    assert isinstance(inputs, Inputs)
    key = json.loads(inputs.key)  # the marks read back as the NUL-marked strings
    flags, doc = key
    assert doc["hostname"] == SHORT_MARK and doc["root"]["path"] == ROOT_MARK
    assert doc["linux"]["cgroupsPath"] == f"/libpod_parent/libpod-{ID_MARK}"
    assert "annotations" not in doc
    assert flags[3] == str(tmp_path / ID_MARK)  # the bundle
    assert inputs.unmark(doc["mounts"][0]["source"]) == f"/run/c/{CID}/userdata/hosts"
    # another container of the same kind: the same key
    other = "fedcba9876543210" * 4
    root2 = tmp_path / "layers" / ("e" * 64) / "merged"
    root2.mkdir(parents=True)
    doc2 = _doc(str(root2), other)
    doc2["annotations"] = {"io.kubernetes.cri-o.Created": "later"}
    assert _inputs(tmp_path, doc2, other).key == inputs.key
    # a limit that differs, or a flag: another key
    doc2["linux"]["resources"] = {"pids": {"limit": 10}}
    assert _inputs(tmp_path, doc2, other).key != inputs.key
    assert _inputs(tmp_path, _doc(str(root)), CID, "--no-pivot").key != inputs.key


@pytest.mark.parametrize(
    "change",
    ["terminal", "hooks", "an env without =", "bad annotations", "symlinked root", "short id", "a NUL"],
)
def test_what_the_library_alone_takes(tmp_path: Any, change: str) -> None:
    root = tmp_path / "rootfs"
    root.mkdir()
    doc, cid = _doc(str(root)), CID
    if change == "terminal":
        doc["process"]["terminal"] = True
    elif change == "hooks":
        doc["hooks"] = {"prestart": [{"path": "/bin/true"}]}
    elif change == "an env without =":
        doc["process"]["env"] = ["PATH"]
    elif change == "bad annotations":
        doc["annotations"] = {"": "x"}
    elif change == "symlinked root":
        os.symlink(root, tmp_path / "link")
        doc["root"]["path"] = str(tmp_path / "link")
    elif change == "short id":
        cid = "c1"
    elif change == "a NUL":
        doc["process"]["env"].append("X=\0")
    assert _inputs(tmp_path, doc, cid) is None


@pytest.mark.parametrize("ns", [0, 1_000, 999_999_000, 1_700_000_000_000_000_000, 1_700_000_000_123_456_789])
def test_utc_now_is_datetimes_isoformat(ns: int) -> None:
    with mock.patch("time.time_ns", return_value=ns):
        text = utc_now()
    micro = ns // 1000
    expected = datetime.datetime.fromtimestamp(micro // 1_000_000, datetime.timezone.utc)
    assert text == expected.replace(microsecond=micro % 1_000_000).isoformat()


@settings(max_examples=200)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=6),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
        max_leaves=20,
    )
)
def test_sorted_keys_is_jsons_sort_keys(doc: Any) -> None:
    expected = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    assert _jsonlite.dumps(_jsonlite.sorted_keys(doc), compact=True) == expected
