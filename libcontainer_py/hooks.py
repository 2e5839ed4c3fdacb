"""Hooks: programs (and, in-process, Python callables) run at the points of a
container's life that the OCI runtime spec names.

- ``prestart`` / ``create_runtime``: during create, once the namespaces and
  mounts exist, before pivot_root; in the runtime's namespaces.
- ``create_container``: right after those, in the container's namespaces
  (the path is resolved before pivot_root, i.e. in the runtime's view).
- ``start_container``: during start, before the program executes, as the
  container's process would run (its namespaces, cgroup, user,
  capabilities and seccomp filter; after pivot_root: the path is the
  container's).
- ``poststart``: after the program started; ``poststop``: after destroy.

A failing prestart/create*/start_container hook fails the operation (create
is rolled back: nothing is left); a failing poststart or poststop hook only
warns.  Each executable gets the container's state as JSON on stdin.
"""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import attrs

from ._fields import (
    FieldCheck,
    absolute_path_field,
    fail,
    field_options,
    instance_tuple_field,
    named_fields,
    str_tuple,
    str_tuple_field,
)
from ._log import log
from .errors import ContainerError

PHASES: Tuple[str, ...] = (
    "prestart",
    "create_runtime",
    "create_container",
    "start_container",
    "poststart",
    "poststop",
)
#: A failure in these phases only warns (OCI runtime spec).
WARN_ONLY = frozenset({"poststart", "poststop"})

#: A Python hook: called with the state document (a dict, as executables
#: get it as JSON on stdin).
Callback = Callable[[Dict[str, Any]], None]


class HookError(ContainerError):
    """A hook failed (non-zero exit, timeout, exception)."""

    def __init__(self, phase: str, hook: str, message: str) -> None:
        super().__init__(f"{phase} hook {hook}: {message}")
        self.phase = phase
        self.hook = hook


def _env(field: str, value: Any) -> Tuple[str, ...]:
    env = str_tuple(field, value)
    for item in env:
        if "=" not in item:
            raise fail(field, f"expected KEY=VALUE, got {item!r}")
    return env


def _timeout(field: str, value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise fail(field, f"expected a positive number of seconds, got {value!r}")
    return value


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _env_field(value: Any) -> Tuple[str, ...]: ...
    def _timeout_field(value: Any) -> Optional[int]: ...

else:
    _env_field = FieldCheck(_env)
    _timeout_field = FieldCheck(_timeout, keeps_none=True)


@attrs.frozen(field_transformer=named_fields("hook"))
class Hook:
    """An executable hook: ``path`` run with ``args`` (argv, ``args[0]``
    included as in OCI; empty means just the path) and exactly ``env``."""

    path: str = attrs.field(converter=absolute_path_field)
    args: Tuple[str, ...] = attrs.field(
        default=(), converter=str_tuple_field, metadata=field_options(allow_empty_items=True)
    )
    env: Tuple[str, ...] = attrs.field(default=(), converter=_env_field)
    timeout: Optional[int] = attrs.field(default=None, converter=_timeout_field)

    @property
    def argv(self) -> Tuple[str, ...]:
        """The argv the hook is run with: ``args``, or the path alone."""
        return self.args or (self.path,)


#: The metadata of a Hooks field: a sequence of Hook.
_HOOKS = field_options(cls=Hook)


@attrs.frozen(field_transformer=named_fields("hooks"))
class Hooks:
    """The executable hooks of each phase, in order."""

    prestart: Tuple[Hook, ...] = attrs.field(default=(), converter=instance_tuple_field, metadata=_HOOKS)
    create_runtime: Tuple[Hook, ...] = attrs.field(default=(), converter=instance_tuple_field, metadata=_HOOKS)
    create_container: Tuple[Hook, ...] = attrs.field(default=(), converter=instance_tuple_field, metadata=_HOOKS)
    start_container: Tuple[Hook, ...] = attrs.field(default=(), converter=instance_tuple_field, metadata=_HOOKS)
    poststart: Tuple[Hook, ...] = attrs.field(default=(), converter=instance_tuple_field, metadata=_HOOKS)
    poststop: Tuple[Hook, ...] = attrs.field(default=(), converter=instance_tuple_field, metadata=_HOOKS)

    def of(self, phase: str) -> Tuple[Hook, ...]:
        """The hooks of ``phase`` (a field name such as ``"poststart"``)."""
        hooks: Tuple[Hook, ...] = getattr(self, phase)
        return hooks


def check_callbacks(callbacks: Optional[Mapping[str, Sequence[Callback]]]) -> Dict[str, Tuple[Callback, ...]]:
    """Python hooks by phase, checked."""
    out: Dict[str, Tuple[Callback, ...]] = {}
    for phase, fns in (callbacks or {}).items():
        if phase not in PHASES:
            raise fail("callbacks", f"unknown phase {phase!r} (known: {', '.join(PHASES)})")
        fns = tuple(fns)
        for i, fn in enumerate(fns):
            if not callable(fn):
                raise fail(f"callbacks[{phase!r}][{i}]", f"expected a callable, got {fn!r}")
        out[phase] = fns
    return out


def run_phase(
    phase: str,
    hooks: Sequence[Hook],
    callbacks: Sequence[Callback],
    state: Dict[str, Any],
    *,
    in_container: Optional[Callable[[Hook, bytes], Tuple[int, bytes]]] = None,
) -> None:
    """Run the executables then the callables of ``phase``.  Executables run
    here, or through ``in_container`` (which runs one in the container's
    namespaces and returns its status and stderr)."""
    import json

    document = json.dumps(state).encode()
    for hook in hooks:
        try:
            if in_container is not None:
                status, err = in_container(hook, document)
            else:
                status, err = _run_here(hook, document)
        except subprocess.TimeoutExpired:
            _failed(phase, hook.path, f"timed out after {hook.timeout}s")
            continue
        except (OSError, ContainerError) as exc:
            _failed(phase, hook.path, str(exc))
            continue
        if status != 0:
            _failed(phase, hook.path, f"exited with {status}: {err.decode(errors='replace').strip()}")
    for fn in callbacks:
        try:
            fn(dict(state))
        except Exception as exc:  # a hook's own failure, whatever it is
            _failed(phase, getattr(fn, "__qualname__", repr(fn)), f"raised {exc!r}")


def _run_here(hook: Hook, document: bytes) -> Tuple[int, bytes]:
    env = dict(item.split("=", 1) for item in hook.env)
    r = subprocess.run(
        list(hook.argv),
        executable=hook.path,
        input=document,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        timeout=hook.timeout,
        cwd="/",
    )
    return r.returncode, r.stderr


def _failed(phase: str, hook: str, message: str) -> None:
    import warnings

    if phase in WARN_ONLY:
        log.warning("%s hook %s failed (the container goes on): %s", phase, hook, message)
        warnings.warn(f"{phase} hook {hook}: {message}", RuntimeWarning, stacklevel=3)
        return
    raise HookError(phase, hook, message)


def oci_state(
    container_id: str, status: str, pid: int, bundle: Optional[str], annotations: Mapping[str, str]
) -> Dict[str, Any]:
    """The state document hooks get (the OCI runtime spec's state)."""
    return {
        "ociVersion": "1.0.2",
        "id": container_id,
        "status": status,
        "pid": pid,
        "bundle": bundle or os.getcwd(),
        "annotations": dict(annotations),
    }
