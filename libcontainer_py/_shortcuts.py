"""Start-up shortcuts: the C halves of standard modules, each with its fallback.

The command line runs once per engine call and lc.call's callee once per
call, each in a fresh interpreter, so what they import is what they cost.
``json`` imports ``re`` and ``enum`` (~8 ms); ``signal`` and ``socket``
build IntEnums at import (~4 ms each); ``pickle``, ``struct`` and ``io``
pull in ``re``, ``enum``, ``selectors``...; ``hashlib`` loads OpenSSL
(~3 ms).  Their C halves (``_json``, ``_signal``, ``_socket``,
``_pickle``, ``_struct``, ``_io``, ``_sha2``) do the same work without that.
They are CPython's private modules, stable for a decade but not promised:
this module is the only one that imports them, on first use, and each
falls back to the public module when its C half is missing
(tests/unit/test_shortcuts.py runs every shortcut without them).

    from ._shortcuts import pickle, socket   # _pickle and _socket, or pickle and socket

``json`` is the exception: ``json_accelerator`` is ``_json`` or None, and
_jsonlite.py then hands everything to the json package.

The one other private part of CPython the package relies on is
``subprocess.Popen``'s ``_execute_child`` and ``_close_pipe_fds``, which
PidfdPopen (ContainerProcess's and the quick run's) overrides and calls by
name: there is no fallback for those, so _pidfd_popen.py refuses to load
without them (docs/architecture.md).

``TYPE_CHECKING``: the modules these programs load write ``TYPE_CHECKING =
False`` and ``if TYPE_CHECKING:`` instead of importing it from typing,
whose import costs a fresh interpreter milliseconds.  mypy takes any
``TYPE_CHECKING`` as true; the interpreter never runs the block, and with
``from __future__ import annotations`` the hints naming its types are
never evaluated.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _io as io
    import _pickle as pickle
    import _socket as socket
    import _struct as struct
    import signal  # _signal has no stub; it has signal's numbers and functions
    from types import ModuleType
    from typing import Any, Callable, Dict, Optional, Tuple

    json_accelerator: Optional[ModuleType]

__all__ = ["io", "json_accelerator", "pickle", "sha256_hex", "signal", "signal_number", "socket", "struct"]

#: name -> (its C half, the module to use without it: None for none)
_C_HALVES: Dict[str, Tuple[str, Optional[str]]] = {
    "io": ("_io", "io"),
    "json_accelerator": ("_json", None),
    "pickle": ("_pickle", "pickle"),
    "signal": ("_signal", "signal"),
    "socket": ("_socket", "socket"),
    "struct": ("_struct", "struct"),
}


def __getattr__(name: str) -> Any:
    """``from ._shortcuts import pickle``: the C half, imported on first use."""
    if name not in _C_HALVES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _c_half(name)


def _c_half(name: str) -> Any:
    """The C half of ``name``, else its fallback (kept as a global of this module)."""
    private, public = _C_HALVES[name]
    module: Optional[ModuleType]
    try:
        module = __import__(private)
    except ImportError:
        module = None if public is None else __import__(public)
    globals()[name] = module
    return module


def signal_number(name: str) -> Optional[int]:
    """The number of the signal ``name`` (``SIGTERM``), as
    ``signal.Signals[name]`` has it, or None (the names of
    ``signal.Signals``: upper case, ``SIG`` but not ``SIG_``)."""
    if not name.isupper() or not name.startswith("SIG") or name.startswith("SIG_"):
        return None
    value = getattr(_c_half("signal"), name, None)
    return int(value) if isinstance(value, int) else None


def sha256_hex(data: bytes) -> str:
    """``hashlib.sha256(data).hexdigest()``, by CPython's own SHA-256 when it
    has one (hashlib loads OpenSSL)."""
    return str(_sha256()(data).hexdigest())


def _sha256() -> Callable[[bytes], Any]:
    """The SHA-256 constructor, found once (a failed import searches the
    whole sys.path again each time: ~0.2 ms)."""
    global _sha256_constructor
    if _sha256_constructor is None:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]  # 3.12+
        except ImportError:
            try:
                from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]  # before 3.12
            except ImportError:
                from hashlib import sha256
        _sha256_constructor = sha256
    return _sha256_constructor


_sha256_constructor: Optional[Callable[[bytes], Any]] = None
