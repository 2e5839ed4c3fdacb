"""Each fact has one table; what is declared beside a table agrees with it."""

from __future__ import annotations

import attrs

from libcontainer_py.namespaces import KINDS, NAMESPACE_KINDS, Namespaces


def test_namespaces_has_a_field_per_kind_in_table_order() -> None:
    assert tuple(a.name for a in attrs.fields(Namespaces)) == KINDS == tuple(k.name for k in NAMESPACE_KINDS)


def test_namespace_kinds_have_distinct_names_flags_and_setns_places() -> None:
    for column in ("name", "oci_type", "clone_flag", "proc_name", "setns_order"):
        values = [getattr(k, column) for k in NAMESPACE_KINDS]
        assert len(set(values)) == len(values), column
