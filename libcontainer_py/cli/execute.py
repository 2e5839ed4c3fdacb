"""exec: a new process in a running container."""

from __future__ import annotations

from ._argv import root_of
from ._common import (
    check_console,
    copy_winsize,
    foreground_status,
    hand_over,
    load,
    signals_forwarded,
    use_seccomp_cache,
)
from ._errors import CliError
from ._log import Logger

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional

    from ._argv import Args


def _process_json(path: str) -> Dict[str, Any]:
    import json

    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as exc:
        raise CliError(f"open {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise CliError(f"{path}: invalid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise CliError(f"{path}: expected a JSON object")
    return doc


def _user(text: str) -> Any:
    from ..process import User

    uid, _, gid = text.partition(":")
    try:
        return User(int(uid), int(gid) if gid else 0)
    except ValueError:
        raise CliError(f"parsing {text} as uid[:gid]: only numeric ids are supported") from None


def _sub_cgroups(values: List[str]) -> Dict[str, str]:
    """``--cgroup [<controller>[,<controller>]:]<path>``, given once or more:
    controller ("" for any) -> the sub-cgroup's path below the container's."""
    out: Dict[str, str] = {}
    for value in values:
        names, sep, path = value.rpartition(":")
        if not path:
            raise CliError(f"invalid --cgroup argument: {value!r}")
        for name in names.split(",") if sep else [""]:
            if name in out:
                raise CliError(f"--cgroup: duplicate cgroup paths for controller {name!r}")
            out[name] = path
    return out


def _with_caps(caps: Any, names: List[str]) -> Any:
    """``exec --cap``, as runc: each name added to the bounding, effective
    and permitted sets (and to the ambient one where it is inheritable)."""
    from ..capabilities import Capabilities

    caps = caps if caps is not None else Capabilities.default()
    added = Capabilities.of(*names).bounding  # normalised names; unknown ones refused
    return Capabilities(
        bounding=caps.bounding | added,
        effective=caps.effective | added,
        permitted=caps.permitted | added,
        inheritable=caps.inheritable,
        ambient=caps.ambient | (added & caps.inheritable),
    )


def _save_plan(args: Args, c: Any, doc: Optional[Dict[str, Any]], plan: Any) -> None:
    """Keep this exec's plan for the next ones with the same inputs (the
    fast path of _exec_light.py)."""
    from ..seccomp.cache import filter_key
    from ..seccomp.compiler import library_id
    from . import _exec_light, _exec_plan

    seccomp = c.config.seccomp
    seccomp_key = None if seccomp is None else filter_key(seccomp, False, library_id())
    _exec_plan.save(root_of(args), c.stored_state, _exec_light.plan_key(args, doc), plan, seccomp_key)


def cmd_exec(args: Args, log: Logger) -> int:
    """runc's convention: when the process could not be run (no such or a
    stopped container, a bad --process file, a failed spawn) the status is
    255 and the message starts with ``exec failed:``, so that a caller can
    tell it from the process's own exit status."""
    try:
        return _exec(args, log)
    except CliError as exc:
        raise CliError(f"exec failed: {exc}", 255) from exc
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:
        if args.debug:
            import traceback

            log.debug(traceback.format_exc())
        raise CliError(f"exec failed: {exc or type(exc).__name__}", 255) from exc


def _exec(args: Args, log: Logger) -> int:
    from . import _exec_light

    fast = _exec_light.run(args, log)
    if fast is not None:
        return fast
    use_seccomp_cache(args)
    c = load(args)
    status = c.status()
    if status == "stopped":
        raise CliError("cannot exec in a stopped container")
    if status == "paused" and not args.ignore_paused:
        raise CliError("cannot exec in a paused container (use --ignore-paused to override)")
    if status not in ("created", "running", "paused"):  # runc lets exec into a created container too
        raise CliError(f"cannot exec in a {status} container")
    overrides: Dict[str, Any] = {}
    process_doc: Optional[Dict[str, Any]] = None
    terminal = args.tty
    argv: List[str] = list(args.args)
    env: Optional[Dict[str, str]] = None
    base_env = dict(c.config.process.env) if c.config is not None else {}
    console_size = None
    if args.process:
        import warnings

        from ..oci.spec import _process

        doc = process_doc = _process_json(args.process)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # unknown capability names: ignored with a warning, as runc does
            proc_cfg, console_size, _, unknown_caps = _process(doc, lenient_caps=True)
        for w in caught:
            log.warning(f"process: {w.message}")  # unknown properties, ignored
        if unknown_caps:
            log.warning(f"process.capabilities: {sorted(unknown_caps)} ignored: not capabilities this runtime knows")
        argv = list(proc_cfg.args)
        env = dict(proc_cfg.env)
        overrides.update(
            cwd=proc_cfg.cwd,
            user=proc_cfg.user,
            capabilities=proc_cfg.capabilities if "capabilities" in doc else None,
            no_new_privileges=proc_cfg.no_new_privileges if "noNewPrivileges" in doc else None,
        )
        terminal = proc_cfg.terminal
    if not argv:
        raise CliError("exec args cannot be empty")
    if args.env:
        env = dict(base_env if env is None else env)
        for item in args.env:
            k, sep, v = item.partition("=")
            if not sep:
                raise CliError(f"invalid environment variable {item!r}: expected KEY=VALUE")
            env[k] = v
    if env is not None:
        overrides["env"] = env
    if args.cwd:
        overrides["cwd"] = args.cwd
    if args.user:
        overrides["user"] = _user(args.user)
    if args.no_new_privs:
        overrides["no_new_privileges"] = True
    base = c.config.process if c.config is not None else None
    if args.cap:
        overrides["capabilities"] = _with_caps(overrides.get("capabilities") or (base and base.capabilities), args.cap)
    if args.additional_gids:
        import attrs

        user = overrides.get("user") or (base.user if base is not None else _user("0"))
        gids = tuple(user.additional_gids) + tuple(args.additional_gids)
        overrides["user"] = attrs.evolve(user, additional_gids=gids)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if args.process:  # the process.json's scheduling, or none (as runc)
        overrides.update(
            scheduler=proc_cfg.scheduler,
            io_priority=proc_cfg.io_priority,
            exec_cpu_affinity=proc_cfg.exec_cpu_affinity,
        )
    check_console(terminal, args.console_socket, args.detach)
    pass_fds = tuple(range(3, 3 + args.preserve_fds))
    # With a terminal the process waits before execve until its terminal has
    # its size (and the console socket its master): no program sees 0x0.
    proc = c.exec(
        argv,
        terminal=terminal,
        pass_fds=pass_fds,
        wait_start=terminal,
        ignore_paused=args.ignore_paused,
        sub_cgroups=_sub_cgroups(args.cgroup),
        dies_with_owner=False,  # as runc's: the process outlives this command if it is killed
        new_session=True,  # as runc's, terminal or not
        passwd_home=True,  # as runc's: HOME from the container's /etc/passwd when the env has none
        **overrides,
    )
    proxy = terminal and proc.tty_fd >= 0 and not args.console_socket
    try:
        hand_over(proc.tty_fd if terminal else -1, console_size, args.console_socket, args.pid_file, int(proc.pid))
        if proxy:
            copy_winsize(proc.tty_fd)  # our terminal's size wins over consoleSize, as runc's
        if not proc.started:
            proc.start()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if not (terminal or args.preserve_fds or args.cgroup):
        _save_plan(args, c, process_doc, proc.plan)
    if args.detach:
        proc.disown()  # the engine's subreaper reaps it, and must see its status
        return 0

    with signals_forwarded(proc, proxy):
        return foreground_status(proc, proxy)
