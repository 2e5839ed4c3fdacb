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


def test_every_cgroup_resource_has_one_row_of_its_class() -> None:
    from libcontainer_py.cgroups.resources import RESOURCE_KINDS, CgroupConfig, Resource

    fields = {a.name: str(a.type) for a in attrs.fields(CgroupConfig)}
    rows = {kind.field: kind for kind in RESOURCE_KINDS}
    assert len(rows) == len(RESOURCE_KINDS) and set(rows) == set(fields) - {"path", "accounting"}
    for name, kind in rows.items():
        assert issubclass(kind.cls, Resource) and f"[{kind.cls.__name__}]" in fields[name], name
        assert all(c.apply is not None or c.v1_writes is not None for c in kind.controllers), name


def test_statistics_and_oci_properties_follow_the_resource_table() -> None:
    from libcontainer_py.cgroups.resources import RESOURCE_KINDS
    from libcontainer_py.cgroups.stats import Stats
    from libcontainer_py.oci.resources import _PROPERTIES

    assert {kind.field for kind in RESOURCE_KINDS if kind.stats is not None} == {a.name for a in attrs.fields(Stats)}
    assert sorted(p.field for p in _PROPERTIES) == sorted(kind.field for kind in RESOURCE_KINDS)
