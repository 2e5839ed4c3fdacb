"""state, list, ps, events --stats, features."""

from __future__ import annotations

import os
import sys

from .. import _jsonlite
from . import _light
from ._argv import root_of
from ._common import load
from ._errors import CliError
from ._log import Logger

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Dict, List

    from ..container import Container
    from ..state import State
    from ._argv import Args
    from ._light import Record

#: The OCI version of the state documents (runc's field, ours).
OCI_VERSION = "1.0.2"


def _rfc3339(created: str) -> str:
    """Our record's ISO 8601 UTC time as Go's RFC3339Nano ("...Z")."""
    return created[:-6] + "Z" if created.endswith("+00:00") else created


def _owner(root: str, cid: str) -> str:
    import pwd

    try:
        uid = os.stat(os.path.join(root, cid)).st_uid
        return pwd.getpwuid(uid).pw_name
    except (OSError, KeyError):
        return ""


def state_doc(root: str, record: State | Record, status: str, *, owner: bool = False) -> Dict[str, Any]:
    """runc's containerState: same fields, same order (annotations omitted
    when empty, as runc's omitempty; pid 0 once stopped); ``owner`` is
    filled by ``list`` only, as runc does."""
    doc: Dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "id": record.id,
        "pid": 0 if status == "stopped" else record.pid,
        "status": status,
        "bundle": record.bundle or "",
        "rootfs": record.rootfs or "",
        "created": _rfc3339(record.created),
        "owner": _owner(root, record.id) if owner else "",
    }
    if record.annotations:
        doc["annotations"] = dict(record.annotations)
    return doc


def cmd_state(args: Args, log: Logger) -> int:
    root = root_of(args)
    record, status = _light.load(root, args.container_id)
    print(_jsonlite.dumps(state_doc(root, record, status), indent=2))
    return 0


def cmd_list(args: Args, log: Logger) -> int:
    from .._statedir import list_ids

    root = root_of(args)
    docs = []
    for cid in list_ids(root):
        try:
            record, status = _light.load(root, cid)
        except CliError:
            continue  # removed meanwhile
        except Exception as exc:
            if not _light.is_container_error(exc):
                raise
            # an unreadable record: left out, as Container.list() does, with runc's words
            print(f"load container {cid}: {exc}", file=sys.stderr)
            continue
        docs.append(state_doc(root, record, status, owner=True))
    if args.quiet:
        for d in docs:
            print(d["id"])
        return 0
    if args.format == "json":
        print(_jsonlite.dumps(docs, compact=True))
        return 0
    rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
    rows += [[d["id"], str(d["pid"]), d["status"], d["bundle"], d["created"], d["owner"]] for d in docs]
    # Go's tabwriter(minwidth 12, padding 3), last column unpadded.
    widths = [max(12, max(len(r[i]) for r in rows) + 3) for i in range(5)]
    for r in rows:
        print("".join(cell.ljust(w) for cell, w in zip(r, widths)) + r[5])
    return 0


def cmd_ps(args: Args, log: Logger) -> int:
    pids = _light.pids(root_of(args), args.container_id)
    if pids is None:
        c = load(args)
        pids = [] if c.status() == "stopped" else sorted(c.pids())
    if args.format == "json":
        print(_jsonlite.dumps(pids or None))  # runc (Go) prints an empty list as null
        return 0
    import subprocess

    ps_args = args.ps_args or ["-ef"]
    out = subprocess.run(["ps", *ps_args], capture_output=True, text=True)
    if out.returncode != 0:
        raise CliError(f"ps: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    if not lines:
        return 0
    header = lines[0]
    try:
        col = header.split().index("PID")
    except ValueError:
        raise CliError("couldn't find PID field in ps output") from None
    wanted = {str(p) for p in pids}
    print(header)
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col] in wanted:
            print(line)
    return 0


def stats_doc(c: Container) -> Dict[str, Any]:
    """runc's ``events --stats`` object as far as our Stats go.  Left out:
    memory.kernel/kernelTCP (not in Stats), per-device blkio of v1's other
    files (only bytes/ops serviced), network interfaces, rdt."""
    st = c.stats()
    data: Dict[str, Any] = {}
    if st.cpu is not None:
        data["cpu"] = {
            "usage": {
                "total": st.cpu.usage_ns,
                **({"percpu": list(st.cpu.per_cpu_ns)} if st.cpu.per_cpu_ns else {}),
                "kernel": st.cpu.system_ns or 0,
                "user": st.cpu.user_ns or 0,
            },
            "throttling": {
                "periods": st.cpu.periods,
                "throttledPeriods": st.cpu.throttled_periods,
                "throttledTime": st.cpu.throttled_ns,
            },
        }
    if st.memory is not None:
        m = st.memory
        data["memory"] = {
            "usage": {
                "limit": m.limit if m.limit is not None else 2**64 - 1,
                "usage": m.usage,
                "max": m.peak or 0,
                "failcnt": m.failcnt,
            },
            **({"swap": {"usage": m.swap_usage}} if m.swap_usage is not None else {}),
            "raw": dict(m.stat),
        }
    if st.pids is not None:
        data["pids"] = {"current": st.pids.current, **({"limit": st.pids.limit} if st.pids.limit is not None else {})}
    if st.io:
        blkio: Dict[str, List[Dict[str, Any]]] = {"ioServiceBytesRecursive": [], "ioServicedRecursive": []}
        for d in st.io:
            for op, b, n in (("Read", d.read_bytes, d.read_ops), ("Write", d.write_bytes, d.write_ops)):
                blkio["ioServiceBytesRecursive"].append({"major": d.major, "minor": d.minor, "op": op, "value": b})
                blkio["ioServicedRecursive"].append({"major": d.major, "minor": d.minor, "op": op, "value": n})
        data["blkio"] = blkio
    else:
        data["blkio"] = {}
    data["hugetlb"] = {
        size: {"usage": h.usage, "max": h.peak or 0, "failcnt": h.failcnt} for size, h in st.hugetlb.items()
    }
    return {"type": "stats", "id": c.id, "data": data}


def cmd_events(args: Args, log: Logger) -> int:
    c = load(args)
    if c.status() == "stopped":
        raise CliError(f"container with id {c.id} is not running")
    if args.stats:
        print(_jsonlite.dumps(stats_doc(c), compact=True))
        return 0
    # Streaming: stats every interval, and OOM events as runc's "oom" type.
    import time

    interval = _duration(args.interval)
    next_stats = 0.0
    baseline = c.cgroup
    if baseline is not None:
        baseline.poll_events()  # before the first line: no OOM after it goes unreported
    try:
        while c.status() != "stopped":
            now = time.monotonic()
            if now >= next_stats:
                print(_jsonlite.dumps(stats_doc(c), compact=True), flush=True)
                next_stats = now + interval
            cg = c.cgroup
            if cg is not None:
                for ev in cg.poll_events():
                    if ev.kind in ("oom", "oom_kill"):
                        print(_jsonlite.dumps({"type": "oom", "id": c.id}, compact=True), flush=True)
            time.sleep(min(0.2, interval))
    except BrokenPipeError:
        sys.stderr.close()
    return 0


_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _duration(text: str) -> float:
    """Seconds in a Go duration, as runc's flag takes it: ``5s``, ``300ms``,
    ``1.5s``, ``1m30s``."""
    import re

    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)", text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise CliError(f"invalid interval {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def cmd_features(args: Args, log: Logger) -> int:
    from ..capabilities import CAPABILITY_NAMES
    from ..namespaces import NAMESPACE_KINDS
    from ..oci.mounts import _REFUSED, FLAG_NAMES
    from ..seccomp.config import ARCHITECTURES, OPS, Action

    doc = {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": sorted(FLAG_NAMES - set(_REFUSED)),  # refused ones left out
        "linux": {
            "namespaces": sorted(k.oci_type for k in NAMESPACE_KINDS),
            "capabilities": list(CAPABILITY_NAMES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {
                "enabled": True,
                "actions": sorted("SCMP_ACT_" + a.name for a in Action),
                "operators": sorted("SCMP_CMP_" + op.upper() for op in OPS),
                "archs": sorted("SCMP_ARCH_" + a.upper() for a in ARCHITECTURES),
            },
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.opencontainers.runc.checkpoint.enabled": "false"},
    }
    print(_jsonlite.dumps(doc, indent=4))
    return 0
