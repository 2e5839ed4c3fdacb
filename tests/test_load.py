"""Load: many containers from one process, at once and in a row, and many
malformed documents; every result correct, nothing growing, nothing left."""

from __future__ import annotations

import copy
import glob
import os
import random
import threading
import uuid
import warnings
from typing import Any, List

from support.observe import open_fds

import libcontainer_py as lc


def _fds() -> int:
    return len(open_fds())


def _cgroups(prefix: str) -> List[str]:
    return glob.glob(f"/sys/fs/cgroup/*/libcontainer_py/{prefix}*") + glob.glob(
        f"/sys/fs/cgroup/libcontainer_py/{prefix}*"
    )


def test_four_threads_by_forty_runs_with_cgroups(no_leaks: None) -> None:
    prefix = f"load-{uuid.uuid4().hex[:6]}-"
    config = lc.Config(cgroup=lc.CgroupConfig(pids=lc.Pids(max=16), memory=lc.Memory(max="64M")))
    fds = _fds()
    wrong: List[Any] = []

    def worker(t: int) -> None:
        for i in range(40):
            cid = f"{prefix}{t}-{i}"
            r = lc.run(["sh", "-c", "echo $(hostname) $$"], container_id=cid, config=config, capture_output=True)
            if (r.returncode, r.stdout) != (0, f"{cid} 1\n".encode()):
                wrong.append((cid, r))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
    assert _fds() == fds and _cgroups(prefix) == []


def test_three_hundred_live_containers_then_destroyed(tmp_path: Any, no_leaks: None) -> None:
    root = str(tmp_path / "state")
    prefix = f"live-{uuid.uuid4().hex[:6]}-"
    config = lc.Config(cgroup=lc.CgroupConfig(pids=lc.Pids(max=4)), process=lc.Process(args=["sleep", "300"]))
    made = []
    fds = _fds()
    try:
        for i in range(300):
            c = lc.Container.create(f"{prefix}{i}", config, root=root)
            made.append(c)
            c.start()
        assert [c.status() for c in lc.Container.list(root=root)] == ["running"] * 300
        assert len({c.pid for c in made}) == 300
        assert _fds() == fds  # a live detached container holds no fd of its owner
    finally:
        for c in made:
            c.destroy()
    assert os.listdir(root) == [] and _cgroups(prefix) == []


_ODD_VALUES: List[Any] = [None, 0, -1, 2**63, 1.5, "", "x", "/", [], {}, [1], {"a": 1}, True, "\0", "../.."]


def _mutate(doc: Any, rng: random.Random) -> Any:
    """One random change somewhere in the document: a value replaced by an
    odd one, a key dropped, a key added, a list item duplicated."""
    paths: List[List[Any]] = []

    def walk(node: Any, path: List[Any]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, [*path, k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, [*path, i])

    walk(doc, [])
    path = rng.choice(paths[1:])
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    action = rng.randrange(4)
    if action == 0 or (isinstance(parent, list) and action == 1):
        parent[last] = rng.choice(_ODD_VALUES)
    elif action == 1:
        del parent[last]
    elif action == 2 and isinstance(parent, dict):
        parent[rng.choice(["x-unknown", "type", "path", "limit", "options"])] = rng.choice(_ODD_VALUES)
    elif isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    else:
        parent[last] = rng.choice(_ODD_VALUES)
    return doc


def test_three_thousand_fuzzed_documents_give_only_typed_errors(tmp_path: Any) -> None:
    cgroup = lc.CgroupConfig(pids=lc.Pids(max=8), memory=lc.Memory(max="64M"))
    base = lc.Config(rootfs=str(tmp_path), hostname="fuzz", cgroup=cgroup).to_oci()
    base["root"] = {"path": str(tmp_path)}
    rng = random.Random(20261203)
    accepted = refused = 0
    for _ in range(3000):
        doc = copy.deepcopy(base)
        for _ in range(rng.randint(1, 4)):
            doc = _mutate(doc, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                lc.Config.from_oci(doc, bundle=str(tmp_path))
                accepted += 1
            except lc.ConfigError:
                refused += 1
    assert accepted + refused == 3000 and refused > 1000 and accepted > 100
