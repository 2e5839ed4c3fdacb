"""_jsonlite gives what the json package gives, without importing it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libcontainer_py import _jsonlite

REPO = Path(__file__).resolve().parents[2]

_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=False) == json.dumps(b, sort_keys=False)  # NaN != NaN, but prints alike


@settings(max_examples=300)
@given(_documents)
def test_dumps_matches_json(doc: Any) -> None:
    assert _jsonlite.dumps(doc) == json.dumps(doc)
    assert _jsonlite.dumps(doc, indent=2) == json.dumps(doc, indent=2)
    assert _jsonlite.dumps(doc, compact=True) == json.dumps(doc, separators=(",", ":"))


@settings(max_examples=300)
@given(_documents, st.sampled_from([None, 0, 1, 4]))
def test_loads_reads_what_json_writes(doc: Any, indent: Any) -> None:
    text = json.dumps(doc, indent=indent)
    assert _same(_jsonlite.loads(text), json.loads(text))
    assert _same(_jsonlite.loads(f" \n{text}\t\r\n"), doc)


def test_tuples_and_odd_keys_as_json_has_them() -> None:
    assert _jsonlite.dumps({"a": (1, 2)}) == json.dumps({"a": (1, 2)})
    assert _jsonlite.dumps({1: "x", None: 2}) == json.dumps({1: "x", None: 2})  # json coerces such keys
    with pytest.raises(TypeError):
        _jsonlite.dumps({"a": object()})
    with pytest.raises(TypeError):
        _jsonlite.dumps({(1,): 1})


@pytest.mark.parametrize("text", ["", "{", '{"a": 1} x', "[1,]", "\ufeff{}", "nul", '"\\x"', "{'a': 1}"])
def test_malformed_documents_raise_jsons_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        _jsonlite.loads(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert str(ours.value) == str(theirs.value)


def test_neither_json_nor_re_is_imported() -> None:
    code = (
        "import sys; from libcontainer_py import _jsonlite as j;"
        "d = j.loads(j.dumps({'a': [1, 2.5, None, True, 'x\\u00e9']}, indent=2));"
        "assert d == {'a': [1, 2.5, None, True, 'x\\u00e9']}, d;"
        "print(sorted(m for m in ('json', 're', 'enum') if m in sys.modules))"
    )
    # -S: no site (an editable install's import hook imports re); the package from the checkout
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert done.stdout.strip() == "[]"
