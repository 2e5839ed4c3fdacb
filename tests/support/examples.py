"""The examples of examples/ as modules, for a test that needs what an
example already does (its helpers are not copied into the tests)."""

from __future__ import annotations

import importlib.util
import os
import types

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")


def example(name: str) -> types.ModuleType:
    """examples/``name``.py, imported (its ``main`` is not run)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
