"""A box's plan cut in two: what its server does once (namespaces, mounts,
hostname, its seccomp filter, then SERVE) and what each run's process
does once it is in the run's cgroup (stdio, rlimits, working directory,
credentials, exec).

Pure functions of a planned Config, unit-tested without root.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import attrs

from .._lcnative import lib
from ..namespaces import CLONE_FLAGS
from ..plan import Op, Plan, Step, ops

#: Where a run's stdin, stdout and stderr land in its process (serve.c).
FD_BASE: int = lib.LC_SERVE_FD_BASE
#: At most this many cgroup.procs files come with a PREPARE.
MAX_FDS: int = lib.LC_SERVE_MAX_FDS
#: The directories the server empties after each run.
SCRATCH = ("/tmp", "/dev/shm")

#: What the server does once for every run's process, which inherits it:
#: dropping the bounding set, dying with the owner, the seccomp filter.
_ONCE = (Op.DROP_BOUNDING, Op.PDEATHSIG, Op.SECCOMP)
#: What a run's process does not do: the server has done it, or it has no
#: use in a box (waiting to be started, an init: the server is PID 1).
_NOT_PER_RUN = frozenset({*_ONCE, Op.FIND_EXEC, Op.WAIT_START, Op.WAIT_ACCEPT, Op.INIT})


def _process_start(steps: Sequence[Step]) -> int:
    for i, s in enumerate(steps):
        if s.op is Op.SETUP_FDS:
            return i
    raise ValueError("the plan has no SETUP_FDS step")


def _joins_cgroup(step: Step) -> bool:
    return step.op is Op.JOIN_CGROUP or (step.op is Op.UNSHARE and step.n1 == CLONE_FLAGS["cgroup"])


def server_plan(plan: Plan, *, region: int, box: Optional[str], creator_areas: bytes, loopback: bool) -> Plan:
    """The box's own steps: the set-up, joining its cgroup (last: moving
    into a cgroup can wait for an RCU grace period, which the first run's
    process, moving right after, then shares; the set-up has no limit to
    count against), its stdio, what every run inherits (the bounding set
    dropped, dying with the owner, no_new_privs, the seccomp filter), then
    SERVE on the shared ``region``.  ``box``: the box directory the server
    opens files in for the parent (None: the parent opens them itself);
    ``loopback``: bring the box's loopback up."""
    k = _process_start(plan.steps)
    join = tuple(s for s in plan.steps[:k] if _joins_cgroup(s))
    setup = tuple(s for s in plan.steps[:k] if not _joins_cgroup(s) and (loopback or s.op is not Op.LOOPBACK_UP))
    process = plan.steps[k:]
    serve = ops.serve("serve the sandbox's runs", region, box, SCRATCH, creator_areas)
    steps = (
        *setup,
        *join,
        plan.steps[k],
        *(s for s in process if s.op in (Op.DROP_BOUNDING, Op.PDEATHSIG)),
        ops.no_new_privs("set no_new_privs"),
        *(s for s in process if s.op is Op.SECCOMP),
        serve,
    )
    return attrs.evolve(plan, steps=steps)


def run_steps(plan: Plan) -> Tuple[Step, ...]:
    """A run's steps: the plan's process part, from SETUP_FDS (its stdio at
    FD_BASE + 0, 1, 2) down to EXEC."""
    k = _process_start(plan.steps)
    return tuple(s for s in plan.steps[k:] if s.op not in _NOT_PER_RUN)
