"""Layers of a non-root caller's store, unpacked and removed in a user
namespace that maps its subordinate ids (see rootless.py), so that the
layers' owners are kept: container uid 1000 is the caller's subordinate id
999 on disk, as rootless podman stores them.  A small Python program runs
there (a container of its own: no root filesystem, only a user namespace),
reading the layer on stdin and answering with one JSON line.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from typing import IO, Any, Dict, List, Optional

from .errors import ImageError, UnsafeLayerError

_PROGRAM = r"""
import json, shutil, sys
from libcontainer_py.images import unpack
from libcontainer_py.images.errors import ImageError, UnsafeLayerError
what, dest = sys.argv[1], sys.argv[2]
try:
    if what == "unpack":
        out = unpack.unpack_layer(sys.stdin.buffer, dest, digest=sys.argv[3] or None, diff_id=sys.argv[4] or None)
    else:
        shutil.rmtree(dest)
        out = ""
    print(json.dumps({"ok": out}))
except UnsafeLayerError as e:
    print(json.dumps({"unsafe": [e.entry, e.reason]}))
except (ImageError, OSError) as e:
    print(json.dumps({"error": f"{type(e).__name__}: {e}", "errno": getattr(e, "errno", None)}))
"""


def needed() -> bool:
    """Whether layers are unpacked in a user namespace: a caller that is not
    root of the initial user namespace and has subordinate ids to map."""
    from ..rootless import automatic_maps

    return os.geteuid() != 0 and automatic_maps(os.geteuid(), os.getegid()).shortfall is None


def _run(args: List[str], blob: Optional[IO[bytes]]) -> Dict[str, Any]:
    from ..config import Config
    from ..namespaces import Namespaces
    from ..popen import PIPE, ContainerProcess
    from ..process import Process

    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    config = Config(
        rootfs=None,
        namespaces=Namespaces(user=True),
        process=Process(
            args=[sys.executable, "-c", _PROGRAM, *args],
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": package_parent, "PYTHONDONTWRITEBYTECODE": "1"},
            cwd="/",
        ),
    )
    with ContainerProcess(config=config, stdin=PIPE, stdout=PIPE, stderr=PIPE) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        try:
            if blob is not None:
                shutil.copyfileobj(blob, proc.stdin, 1 << 20)
        except BrokenPipeError:
            pass  # it stopped reading: its answer says why
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
        out, err = proc.stdout.read(), proc.stderr.read()
        status = proc.wait()
    lines = out.decode(errors="replace").strip().splitlines()
    if status != 0 or not lines:
        raise ImageError(f"the layer helper in the user namespace failed ({status}): {err.decode(errors='replace')}")
    answer: Dict[str, Any] = json.loads(lines[-1])
    return answer


def unpack_layer(blob: IO[bytes], dest: str, *, digest: Optional[str], diff_id: Optional[str]) -> str:
    """unpack.unpack_layer, run in the caller's user namespace of all its ids."""
    answer = _run(["unpack", dest, digest or "", diff_id or ""], blob)
    if "unsafe" in answer:
        raise UnsafeLayerError(*answer["unsafe"])
    if "error" in answer:
        message = answer["error"]
        if answer.get("errno") == errno.EINVAL:
            message += (
                " (an owner the user namespace does not map: the layer needs more ids than "
                "the user's ranges in /etc/subuid and /etc/subgid give)"
            )
        raise ImageError(f"layer {digest or diff_id or ''}: {message}")
    return str(answer["ok"])


def rmtree(path: str) -> None:
    """Remove a tree whose files belong to the caller's subordinate ids."""
    answer = _run(["rmtree", path], None)
    if "error" in answer:
        raise ImageError(f"cannot remove {path}: {answer['error']}")
