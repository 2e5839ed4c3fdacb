"""create, start, run, kill, pause, resume, delete, update."""

from __future__ import annotations

import os
import warnings

from ._argv import root_of
from ._common import (
    check_console,
    copy_winsize,
    foreground_status,
    hand_over,
    load,
    parse_signal,
    signals_forwarded,
    use_seccomp_cache,
)
from ._errors import CliError
from ._log import Logger

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Dict, List

    from ._argv import Args


def _create(args: Args, log: Logger, *, detach: bool, recipe_of: Any = None) -> Any:
    """The library's create; ``recipe_of``: the create's inputs
    (_create_recipe.Inputs) to save a recipe of, when nothing but the
    document itself was warned of."""
    import attrs

    from ..cgroups.errors import CgroupWarning
    from ..container import Container, ContainerExists
    from ..oci import OciWarning, load_bundle

    bundle = os.path.abspath(args.bundle or os.getcwd())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OciWarning)
        oci = load_bundle(os.path.join(bundle, "config.json"))
    for w in caught:
        log.warning(f"config.json: {w.message}")
    # The document's warnings are the document's: a recipe repeats them.
    said = [str(w.message) for w in caught] if all(issubclass(w.category, OciWarning) for w in caught) else None
    # As runc's: the container's process (and so every exec'd one, which
    # inherits its settings) leads a session of its own, terminal or not,
    # gets HOME from the root's /etc/passwd when its environment has none,
    # and joins a session keyring of the container's, not the caller's.
    keyring = None if args.no_new_keyring else f"_ses.{args.container_id}"
    # A missing working directory is made, as runc makes it (ctr run --cwd,
    # a pod's workingDir that the image lacks).
    process = attrs.evolve(
        oci.config.process, new_session=True, passwd_home=True, session_keyring=keyring, make_cwd=True
    )
    # No hostname in config.json: none is set (a new uts namespace keeps
    # its copy of the host's), as runc; the library would use the id.
    hostname = "" if oci.config.hostname is None else oci.config.hostname
    config = attrs.evolve(oci.config, process=process, hostname=hostname)
    if args.no_pivot and config.rootfs is not None:
        config = attrs.evolve(config, rootfs=attrs.evolve(config.rootfs, no_pivot=True))
    terminal = config.process.terminal
    check_console(terminal, args.console_socket, detach)
    pass_fds = tuple(range(3, 3 + args.preserve_fds))
    use_seccomp_cache(args)

    recorder = None
    if recipe_of is not None and said is not None:
        from ..cgroups.script import Recorder

        recorder = Recorder()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CgroupWarning)
            container = Container.create(
                args.container_id,
                config,
                root=root_of(args),
                bundle=bundle,
                annotations=dict(oci.annotations),
                pass_fds=pass_fds,
                no_process=not oci.has_process,
                _cgroup_fs=recorder,
            )
    except ContainerExists:
        raise CliError("container with given ID already exists") from None
    for w in caught:
        log.warning(str(w.message))
    try:
        proc = container.process
        tty_fd = proc.tty_fd if terminal and proc is not None else -1
        hand_over(tty_fd, oci.console_size, args.console_socket, args.pid_file, container.pid)
    except BaseException:
        container.destroy()
        raise
    if recorder is not None and said is not None and not caught:  # said: for mypy (set with recorder)
        _save_recipe(args, log, recipe_of, container, recorder, said)
    return container


def _save_recipe(args: Args, log: Logger, inputs: Any, container: Any, recorder: Any, said: List[str]) -> None:
    """Keep what this create did for the next ones (cli/_create_light.py),
    with the config.json warnings it gave; a recipe is only a shortcut, so
    failing to save one is no error."""
    from . import _create_recipe

    try:
        saved = _create_recipe.save(args, inputs, container, recorder, said)
    except Exception as exc:
        log.debug(f"no create recipe saved: {exc}")
        return
    log.debug(f"create recipe {'saved' if saved else 'not saved (not repeatable)'}")


def _disown(container: Any) -> None:
    """This command exits now: whoever inherits the container's process
    (init, or the engine's subreaper) must be the one to reap it."""
    if container.process is not None:
        container.process.disown()


def cmd_create(args: Args, log: Logger) -> int:
    from . import _create_light

    done, inputs = _create_light.create(args, log)
    if done:
        log.debug("created through a recipe")
        return 0
    _disown(_create(args, log, detach=True, recipe_of=inputs))
    return 0


def cmd_start(args: Args, log: Logger) -> int:
    from . import _light

    if _light.start(root_of(args), args.container_id):
        return 0
    return _by_container(args, "start")


def cmd_run(args: Args, log: Logger) -> int:
    c = _create(args, log, detach=args.detach)
    proc = c.process
    assert proc is not None
    if args.detach:
        try:
            c.start()
        except BaseException:
            c.destroy()
            raise
        _disown(c)
        return 0

    proxy = proc.tty_fd >= 0 and not args.console_socket
    try:
        with signals_forwarded(proc, proxy):
            if proxy:
                copy_winsize(proc.tty_fd)  # our terminal's size wins over consoleSize, as runc's
            c.start()
            status = foreground_status(proc, proxy)
    finally:
        if not args.keep:
            c.destroy()
    return status


def cmd_kill(args: Args, log: Logger) -> int:
    from . import _light

    sig = parse_signal(args.signal)
    root = root_of(args)
    record, status = _light.load(root, args.container_id)
    if status == "stopped" and args.all:
        return 0  # as runc: nothing left to signal (the containerd shim sends it after the exit)
    _light.refuse_as_runc("kill", record.id, status)
    if not args.all:
        _light.signal_first(record, sig)  # the fast path: no cgroup, no config
        return 0
    if _light.kill_all(root, args.container_id, sig):
        return 0
    load(args).kill(sig, all=True)
    return 0


def cmd_pause(args: Args, log: Logger) -> int:
    from . import _light

    if _light.freeze(root_of(args), args.container_id, frozen=True):
        return 0
    return _by_container(args, "pause")


def cmd_resume(args: Args, log: Logger) -> int:
    from . import _light

    if _light.freeze(root_of(args), args.container_id, frozen=False):
        return 0
    return _by_container(args, "resume")


def _by_container(args: Args, verb: str) -> int:
    """What the light path could not do (start, pause, resume): the
    container's method of that name, after runc's refusals."""
    from . import _light

    c = load(args)
    _light.refuse_as_runc(verb, c.id, c.status())
    getattr(c, verb)()
    return 0


def cmd_delete(args: Args, log: Logger) -> int:
    from . import _light

    if _light.delete(root_of(args), args.container_id, args.force):
        return 0
    from ..container import Container
    from ..state import StateNotFound

    try:
        c = Container.load(args.container_id, root=root_of(args))
    except StateNotFound:
        if args.force:
            return 0
        raise CliError("container does not exist") from None
    if not args.force:
        _light.refuse_as_runc("delete", c.id, c.status())
    # stopped, or creating (a create that failed half-way: nothing runs)
    c.destroy()
    return 0


def _resources_doc(args: Args) -> Dict[str, Any]:
    import json
    import sys

    if args.resources:
        text = sys.stdin.read() if args.resources == "-" else open(args.resources).read()
        given: Dict[str, Any] = json.loads(text)
        return given
    for flag, value in (("--l3-cache-schema", args.l3_cache_schema), ("--mem-bw-schema", args.mem_bw_schema)):
        if value:
            raise CliError(f"{flag}: Intel RDT is not supported")
    memory = {
        key: _bytes(text)
        for key, text in (("limit", args.memory), ("reservation", args.memory_reservation), ("swap", args.memory_swap))
        if text
    }
    cpu: Dict[str, Any] = {
        key: value
        for key, value in (
            ("shares", args.cpu_shares),
            ("quota", args.cpu_quota),
            ("period", args.cpu_period),
            ("realtimePeriod", args.cpu_rt_period),
            ("realtimeRuntime", args.cpu_rt_runtime),
            ("cpus", args.cpuset_cpus or None),
            ("mems", args.cpuset_mems or None),
        )
        if value is not None
    }
    doc: Dict[str, Any] = {"memory": memory, "cpu": cpu}
    if args.pids_limit is not None:
        doc["pids"] = {"limit": args.pids_limit}
    if args.blkio_weight is not None:
        doc["blockIO"] = {"weight": args.blkio_weight}
    return {key: value for key, value in doc.items() if value}


def _bytes(text: str) -> int:
    """A size as runc reads it: bytes, or with a k, m, g (b) suffix; -1."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("b")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        raise CliError(f"invalid size {text!r}") from None


def cmd_update(args: Args, log: Logger) -> int:
    """Only the resources Config has: memory, cpu, pids, io, hugetlb.

    Device rules in the document are ignored, as runc's update ignores them."""
    from ..oci.resources import cgroup_from_oci

    doc = _resources_doc(args)
    c = load(args)
    if c.status() == "stopped":
        raise CliError("container not running")  # runc's message
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cg = cgroup_from_oci({"resources": doc})
        changes: List[Any] = [getattr(cg, name) for name in ("memory", "cpu", "pids", "io", "hugetlb")] if cg else []
        for resource in changes:
            if resource is not None:
                c.update(resource)
    for w in caught:
        log.warning(str(w.message))  # unknown properties, memory.kernel, kernelTCP without its file
    return 0


def cmd_unsupported(args: Args, log: Logger) -> int:
    """checkpoint and restore: a clear refusal, not a usage error."""
    raise CliError(f"{args.command} is not supported: libcontainer-py has no CRIU integration")


cmd_checkpoint = cmd_restore = cmd_unsupported
