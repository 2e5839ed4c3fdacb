"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import libcontainer_py as lc
from libcontainer_py.capabilities import CAPABILITY_NAMES

text = st.text(st.characters(exclude_characters="\0"), min_size=1, max_size=12)
path = st.lists(st.text("abcxyz._-ü", min_size=1, max_size=5), max_size=3).map(
    lambda parts: "/" + "/".join(p for p in parts if p not in (".", ".."))
)
capability = st.sampled_from(CAPABILITY_NAMES)


@st.composite
def capabilities(draw: Any) -> lc.Capabilities:
    """Capabilities that obey the kernel's subset rules."""
    bounding = draw(st.frozensets(capability, max_size=8))
    permitted = draw(st.frozensets(st.sampled_from(sorted(bounding)), max_size=8)) if bounding else frozenset()
    effective = draw(st.frozensets(st.sampled_from(sorted(permitted)))) if permitted else frozenset()
    inheritable = draw(st.frozensets(capability, max_size=5))
    both = sorted(permitted & inheritable)
    ambient = draw(st.frozensets(st.sampled_from(both))) if both else frozenset()
    return lc.Capabilities(bounding, effective, permitted, inheritable, ambient)
