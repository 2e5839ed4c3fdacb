"""Config -> Plan: the ordered child-side steps, as plain data.

A pure function of the config and of what the host looks like (the HostFS
seam), so it is unit-tested without root.  The native layer turns the plan
into a C array that the child walks between clone and execve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Mapping, Optional, Sequence

from ..config import Config
from ..namespaces import CLONE_FLAGS
from ..process import DEFAULT_PATH
from . import ops
from .filesystem import DEV_SYMLINKS, SCRATCH_CANDIDATES, choose_scratch, chroot_steps, mount_steps, root_steps
from .namespaces import (
    become_namespace_root,
    default_mappings,
    id_maps,
    namespace_ids,
    namespace_steps,
    own_map_steps,
    preopen_bind_sources,
)
from .process import (
    RUNTIME_SYSCALLS_AFTER_SECCOMP,
    affinity_step,
    early_writes,
    exec_candidates,
    final_steps,
    identity_steps,
)
from .steps import (
    Flag,
    HostFS,
    Op,
    Plan,
    Step,
)

if TYPE_CHECKING:
    from ..cgroups.layout import Layout

__all__ = [
    "DEV_SYMLINKS",
    "Flag",
    "RUNTIME_SYSCALLS_AFTER_SECCOMP",
    "SCRATCH_CANDIDATES",
    "HostFS",
    "Op",
    "Plan",
    "Step",
    "build_plan",
    "choose_scratch",
    "default_mappings",
    "exec_candidates",
    "namespace_ids",
]


def build_plan(
    config: Config,
    container_id: str,
    *,
    host: Optional[HostFS] = None,
    wait_start: bool = False,
    cgroup_procs: Sequence[str] = (),
    cgroup_at_clone: bool = False,
    start_socket: Optional[str] = None,
    create_hooks: bool = False,
    cgroup_layout: Optional[Layout] = None,
    cgroup_dirs: Optional[Mapping[str, str]] = None,
    joining: bool = False,
    dies_with_owner: bool = False,
    no_process: bool = False,
) -> Plan:
    """Turn a validated config into the child's steps.

    ``cgroup_procs``: the cgroup.procs files the child moves itself into,
    first thing, before any other step; ``cgroup_at_clone``: clone3 places
    it (CLONE_INTO_CGROUP).  Either way a new cgroup namespace is unshared
    after the placement, so that its root is the container's cgroup.
    ``wait_start``: the child waits before execve for spawn.start() from this
    process; ``start_socket``: for a connection to that path from any process.
    ``create_hooks``: the child also waits for the parent right before
    pivot_root, while the parent runs the create hooks.
    ``cgroup_layout`` (default: detected when needed) and ``cgroup_dirs``
    (hierarchy mount point -> the container's cgroup directory there, made
    before the spawn; the caller's own cgroup elsewhere) place the binds of
    a ``Mount.cgroup``.  ``joining``: the process joins an existing
    container (exec): ``process.exec_cpu_affinity`` applies, ``initial``
    before the cgroup is joined and ``final`` after.  ``dies_with_owner``:
    the process is killed when the thread that clones it exits (an attached
    process: see _parents.py).  ``no_process``: the process is a stand-in
    never started (its program is not looked for).
    """
    host = host or HostFS()
    affinity = config.process.exec_cpu_affinity if joining else None
    steps: List[Step] = []
    if affinity is not None and affinity.initial is not None:
        steps.append(affinity_step(affinity.initial, "initial"))
    steps += [ops.join_cgroup("join the cgroup", path) for path in cgroup_procs]
    if affinity is not None and affinity.final is not None:
        steps.append(affinity_step(affinity.final, "final"))
    clone_flags = namespace_steps(config, steps)
    if (cgroup_procs or cgroup_at_clone) and clone_flags & CLONE_FLAGS["cgroup"]:
        clone_flags &= ~CLONE_FLAGS["cgroup"]
        steps.append(ops.unshare("create the cgroup namespace", CLONE_FLAGS["cgroup"]))
    maps = id_maps(config, host)
    uid_map, deny = maps.uid_map, maps.deny_setgroups
    parent_work = _parent_has_work(config)
    # An unprivileged caller's one-id maps are the child's to write itself
    # (as bwrap does): no round trip to the parent while the child waits.
    own_maps = deny and not maps.helper and not parent_work
    if own_maps:
        steps.extend(own_map_steps(maps))
    elif uid_map or parent_work:
        steps.append(ops.wait_parent("wait for the parent's set-up"))
    # Until execve the child is a copy of the caller: nothing in the
    # container may ptrace it or read its memory, fds or exe.  (After the
    # parent's part: an unprivileged parent writes the id maps of a dumpable
    # child only.)
    steps.append(ops.not_dumpable("make the process non-dumpable"))
    if config.namespaces.net is True:
        steps.append(ops.loopback_up("bring the loopback interface up"))
    steps.extend(early_writes(config))
    mounts: List[Step] = []
    if config.rootfs is not None and config.namespaces.mount is False:
        mounts = chroot_steps(config, host, create_hooks)
    elif config.rootfs is not None:
        steps.extend(root_steps(config, host, namespace_ids(config, host) if uid_map else None))
        mounts = mount_steps(config, host, create_hooks, cgroup_layout, cgroup_dirs)
    slots = 0
    if uid_map:
        # Host paths are looked up with the caller's credentials, before the
        # child takes ids of the new namespace (which may not traverse them).
        mounts, preopens = preopen_bind_sources(mounts)
        slots = len(preopens)
        steps.extend(preopens)
        steps.extend(become_namespace_root(config, host))
    steps.extend(mounts)
    if create_hooks and config.rootfs is None:
        # No pivot_root to wait before: the hooks run once the namespaces exist.
        steps.append(ops.wait_parent("wait for the create hooks", phase="hooks"))
    identity_steps(config, container_id, deny, steps, host, joining=joining)
    final_steps(config, steps, wait_start, start_socket, host, dies_with_owner, no_process)
    argv = config.process.args
    env = dict(config.process.env)
    return Plan(
        container_id=container_id,
        clone_flags=clone_flags,
        steps=tuple(steps),
        argv=argv,
        envp=tuple(f"{k}={v}" for k, v in env.items()),
        exec_paths=(config.process.executable,)
        if config.process.executable
        else exec_candidates(argv[0], env.get("PATH", DEFAULT_PATH)),
        uid_map="" if own_maps else uid_map,
        gid_map="" if own_maps else maps.gid_map,
        deny_setgroups=deny and not own_maps,
        map_helper=maps.helper,
        slots=slots,
    )


def _parent_has_work(config: Config) -> bool:
    """The parent attaches CNI networks while the child waits (after its
    namespaces exist, before its root is set up: resolv.conf and hosts)."""
    return bool(config.network)
