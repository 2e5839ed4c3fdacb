"""Rootless containers, run by a real unprivileged user (support/rootless.py):
``lcrootless``, with subordinate ids 3000000-3065535 in /etc/subuid and
/etc/subgid, running this project from a venv of Debian's /usr/bin/python3.

What is asserted is what the kernel shows: the maps in /proc/self/uid_map,
the owners of files on the host, the state directory, cgroup files.
"""

from __future__ import annotations

import json
import os
import textwrap
from typing import Any, Iterator

import pytest
from support.rootless import SUB_START, RootlessUser


def as_user(user: RootlessUser, code: str, **kwargs: Any) -> Any:
    """Run ``code`` (Python, dedented) as the user; it ends with ``emit(x)``,
    whose ``x`` (JSON) is returned."""
    prelude = "import json, sys\ndef emit(x):\n    print('\\n' + json.dumps(x))\n"
    done = user.python_code(prelude + textwrap.dedent(code), **kwargs)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture
def shared(rootless_user: RootlessUser) -> Iterator[str]:
    """A directory of the user's, removed afterwards whoever owns what is in it."""
    path = os.path.join(rootless_user.home, "shared")
    os.mkdir(path)
    os.chown(path, rootless_user.uid, rootless_user.gid)
    try:
        yield path
    finally:
        import shutil

        shutil.rmtree(path)


def test_run_maps_root_to_the_user_and_the_rest_to_its_range(rootless_user: RootlessUser, shared: str) -> None:
    out = as_user(
        rootless_user,
        f"""
        import warnings
        warnings.simplefilter("error")
        import libcontainer_py as lc
        cfg = lc.Config(mounts=lc.Mounts.default() + [lc.Mount.bind({shared!r}, "/data")])
        r = lc.run(["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; touch /data/a /data/b;"
                    "chown 1000:1000 /data/a && chown 0:0 /data/b && echo chowned"],
                   config=cfg, capture_output=True, text=True)
        emit([r.returncode, r.stdout, r.stderr, lc.Namespaces.default().user])
        """,
    )
    returncode, stdout, stderr, default_user = out
    assert returncode == 0, stderr
    lines = stdout.splitlines()
    u, g = rootless_user.uid, rootless_user.gid
    assert lines[0] == "0"
    assert [line.split() for line in lines[1:5]] == [
        ["0", str(u), "1"],
        ["1", str(SUB_START), "65536"],
        ["0", str(g), "1"],
        ["1", str(SUB_START), "65536"],
    ]
    assert lines[5] == "chowned" and default_user is True
    # on the host: container uid 1000 is subordinate id 3000000 + 999; root is the user
    a, b = os.stat(os.path.join(shared, "a")), os.stat(os.path.join(shared, "b"))
    assert (a.st_uid, a.st_gid) == (SUB_START + 999, SUB_START + 999)
    assert (b.st_uid, b.st_gid) == (u, g)
