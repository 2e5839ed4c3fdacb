"""_unpickle reads what cloudpickle writes, without importing cloudpickle."""

from __future__ import annotations

import os.path
import subprocess
import sys
from typing import Any, Callable, List

import cloudpickle
import pytest

from libcontainer_py import _unpickle

SCALE = 3


def _closure() -> Callable[[int], int]:
    offset = 5
    return lambda x: x * SCALE + offset


def _recursive() -> Callable[[int], int]:
    def fact(n: int) -> int:
        return 1 if n <= 1 else n * fact(n - 1)

    return fact


def _with_everything() -> Callable[..., Any]:
    def f(a: int, b: int = 2, *, c: int = 3) -> List[Any]:
        """doc"""
        return [a, b, c, os.path.join("x", "y")]

    f.marker = "kept"  # type: ignore[attr-defined]
    return f


def _empty_cell() -> Callable[[], Any]:
    def outer() -> Callable[[], Any]:
        def inner() -> Any:
            return later  # a cell that is still empty when pickled

        return inner
        later = 1  # pragma: no cover

    return outer()


CASES = [
    (lambda: (lambda x: x * 2), (21,), {}),
    (_closure, (4,), {}),
    (_recursive, (5,), {}),
    (_with_everything, (1,), {"c": 9}),
]


@pytest.mark.parametrize("make, args, kwargs", CASES)
def test_light_and_full_rebuild_the_same_function(make: Callable[[], Any], args: Any, kwargs: Any) -> None:
    fn = make()
    data = cloudpickle.dumps(fn)
    light, full = _unpickle.loads(data, True), _unpickle.loads(data, False)
    assert light(*args, **kwargs) == full(*args, **kwargs) == fn(*args, **kwargs)
    for name in ("__name__", "__qualname__", "__doc__", "__defaults__", "__kwdefaults__", "__module__", "__dict__"):
        assert getattr(light, name) == getattr(full, name), name


def test_an_empty_cell_stays_empty() -> None:
    light = _unpickle.loads(cloudpickle.dumps(_empty_cell()), True)
    with pytest.raises(NameError):
        light()


def test_the_installed_cloudpickle_is_one_mirrored() -> None:
    """A new cloudpickle release makes this fail: check its rebuilders, then add it."""
    assert _unpickle.light_for(cloudpickle.__version__)
    assert not _unpickle.light_for("4.0.0") and not _unpickle.light_for(None) and not _unpickle.light_for("x")


def test_a_fresh_interpreter_rebuilds_a_lambda_without_importing_cloudpickle(tmp_path: Any) -> None:
    data = tmp_path / "fn.pickle"
    data.write_bytes(cloudpickle.dumps(_closure()))
    root = os.path.dirname(os.path.dirname(os.path.abspath(_unpickle.__file__)))
    script = (
        f"import sys; sys.path[0] = {root!r}\n"
        "from libcontainer_py import _unpickle\n"
        f"fn = _unpickle.loads(open({str(data)!r}, 'rb').read(), True)\n"
        "print(fn(4), 'cloudpickle' in sys.modules, 'typing' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["17", "False", "False"]
