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


@st.composite
def processes(draw: Any) -> lc.Process:
    """Processes over every field that OCI and the state file both carry."""
    return lc.Process(
        args=draw(st.lists(text, min_size=1, max_size=4)),
        env=draw(st.dictionaries(text.filter(lambda k: "=" not in k), text | st.just(""), max_size=4)),
        cwd=draw(path),
        umask=draw(st.integers(0, 0o777)),
        capabilities=draw(capabilities()),
        no_new_privileges=draw(st.booleans()),
        terminal=draw(st.booleans()),
        rlimits=draw(
            st.lists(
                st.builds(
                    lambda kind, soft, extra: lc.Rlimit(
                        kind, soft, None if extra is None or soft is None else soft + extra
                    ),
                    st.sampled_from(["nofile", "core", "nproc", "stack"]),
                    st.none() | st.integers(0, 2**40),
                    st.none() | st.integers(0, 2**20),
                ),
                max_size=4,
                unique_by=lambda r: r.type,
            )
        ),
        oom_score_adj=draw(st.none() | st.integers(-1000, 1000)),
    )
