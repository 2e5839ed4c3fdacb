"""A package's public names, listed once and imported on first use.

A package ``__init__`` lists what it exports as the imports a type checker
reads, under ``if TYPE_CHECKING:`` (``from .config import Config as Config``:
the alias marks a re-export; a name exported under another name, such as
``lc.CgroupNetwork``, gets that name where it is defined); nothing runs them.
:func:`exports_of` reads those same statements from the file's text, once,
on the first lookup (plain string handling: ``ast`` would cost ~4 ms), and
serves each name from its module when it is first asked for (PEP 562).  So
the list is written once, the checker sees every name with its type, and
``python -m libcontainer_py state`` pays for none of the modules it does not
touch.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing costs milliseconds at start-up: for the checker only
if TYPE_CHECKING:
    from typing import Any, Dict, FrozenSet, List, Optional, Tuple

_BLOCK = "\nif TYPE_CHECKING:\n"

_BY_PACKAGE: Dict[str, LazyExports] = {}


def read_exports(source: str) -> Dict[str, Tuple[str, str]]:
    """name -> (relative module, attribute) of the ``from .module import a as b``
    statements in the ``if TYPE_CHECKING:`` block of ``source`` (absolute
    imports, such as ``typing``, are not exports).  ``from . import images``
    gives ``images -> (".images", "")``: the module itself."""
    _, found, rest = source.partition(_BLOCK)
    if not found:
        raise ValueError("no 'if TYPE_CHECKING:' block")
    statements: List[str] = []
    for line in rest.splitlines():
        if line.strip() and not line[0].isspace():
            break  # the end of the block
        code = line.split("#", 1)[0].strip()
        if code.startswith("from "):
            statements.append(code)
        elif code and statements:
            statements[-1] += " " + code
    out: Dict[str, Tuple[str, str]] = {}
    for statement in statements:
        module, _, names = statement[len("from ") :].partition(" import ")
        if not module.startswith("."):
            continue
        for item in names.replace("(", " ").replace(")", " ").split(","):
            name, _, alias = (part.strip() for part in item.partition(" as "))
            if not name:
                continue
            if module == ".":
                out[alias or name] = ("." + name, "")
            else:
                out[alias or name] = (module, name)
    return out


class LazyExports:
    """The exports of package ``package`` (its ``__init__`` at ``init_file``)."""

    def __init__(self, package: str, init_file: str, submodules: FrozenSet[str] = frozenset()) -> None:
        self.package = package
        self.init_file = init_file
        #: Submodules reachable as attributes without being exports (not in __all__).
        self.submodules = submodules
        self._where: Optional[Dict[str, Tuple[str, str]]] = None

    @property
    def where(self) -> Dict[str, Tuple[str, str]]:
        """name -> (module, attribute), read from the ``__init__`` once."""
        if self._where is None:
            with open(self.init_file, encoding="utf-8") as f:
                self._where = read_exports(f.read())
        return self._where

    def all(self) -> List[str]:
        """The package's ``__all__``: every exported name, sorted."""
        return sorted(self.where)

    def load(self, name: str, namespace: Dict[str, Any]) -> Any:
        """The value of ``name`` (``__all__`` included), kept in ``namespace``
        (the package's globals) so that the next lookup is a plain one;
        AttributeError for a name the package does not have."""
        if name == "__all__":
            value: Any = self.all()
        elif name in self.submodules:
            value = importlib.import_module(f".{name}", self.package)
        elif name in self.where:
            module, attribute = self.where[name]
            value = importlib.import_module(module, self.package)
            if attribute:
                value = getattr(value, attribute)
        else:
            raise AttributeError(f"module {self.package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def dir(self, namespace: Dict[str, Any]) -> List[str]:
        """The package's ``__dir__``: its globals, exports and submodules."""
        return sorted(set(namespace) | set(self.where) | self.submodules)


def exports_of(package: str, init_file: str, submodules: FrozenSet[str] = frozenset()) -> LazyExports:
    """The LazyExports of ``package``, made on its first lookup (a package
    imports this module only then: the light commands never do)."""
    found = _BY_PACKAGE.get(package)
    if found is None:
        found = _BY_PACKAGE[package] = LazyExports(package, init_file, submodules=submodules)
    return found
