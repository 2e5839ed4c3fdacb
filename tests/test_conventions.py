"""The logging of the library and the one state root that the library and
the command line share."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from typing import Any

import pytest

import libcontainer_py as lc

CLI = [sys.executable, "-m", "libcontainer_py"]


def test_debug_record_names_the_cgroup_the_process_is_in(caplog: Any, no_leaks: None) -> None:
    config = lc.Config(cgroup=lc.CgroupConfig(pids=lc.Pids(max=50)))
    with caplog.at_level(logging.DEBUG, logger="libcontainer_py"):
        with lc.ContainerProcess(config, args=["sh", "-c", "read x"], stdin=lc.PIPE) as proc:
            assert proc.cgroup is not None
            dirs = proc.cgroup.dirs()
            (record,) = [r for r in caplog.records if proc.container_id in r.getMessage()]
            members = [open(os.path.join(d, "cgroup.procs")).read().split() for d in dirs]
            proc.communicate(b"\n")
    assert record.name == "libcontainer_py" and record.levelno == logging.DEBUG
    message = record.getMessage()
    assert all(d in message for d in dirs) and f"pid {proc.pid}" in message and "set up in" in message
    assert all(str(proc.pid) in m for m in members)
    exits = [
        r.getMessage()
        for r in caplog.records
        if f"container {proc.container_id}: pid {proc.pid} exited" in r.getMessage()
    ]
    assert exits == [f"container {proc.container_id}: pid {proc.pid} exited with 0 after {exits[0].split()[-2]} s"]


def test_failed_poststart_hook_is_a_warning(caplog: Any, tmp_path: Any) -> None:
    config = lc.Config(
        process=lc.Process(args=["true"]), hooks=lc.Hooks(poststart=[lc.Hook("/bin/sh", ["sh", "-c", "exit 3"])])
    )
    with caplog.at_level(logging.WARNING, logger="libcontainer_py"):
        with pytest.warns(RuntimeWarning):
            with lc.Container.create("hookwarn", config, root=str(tmp_path)) as c:
                c.start()
    (record,) = [r for r in caplog.records if "poststart hook" in r.getMessage()]
    assert record.levelno == logging.WARNING


def test_nothing_printed_unless_logging_is_configured() -> None:
    code = (
        "import logging, libcontainer_py as lc\n"
        "lc.run(['true'], check=True)\n"
        "logging.getLogger('libcontainer_py').warning('degraded')  # as the library would\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def _cli_ids() -> set:
    r = subprocess.run([*CLI, "list", "--format", "json"], capture_output=True, text=True, check=True)
    return {c["id"] for c in json.loads(r.stdout or "[]") or []}


def test_cli_lists_python_containers_and_the_reverse(tmp_path: Any, busybox: str) -> None:
    cid = "shared-" + os.urandom(3).hex()
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "60"]))
    with lc.Container.create(cid, config) as c:
        assert c.root == lc.DEFAULT_ROOT
        assert cid in _cli_ids()
        state = json.loads(subprocess.run([*CLI, "state", cid], capture_output=True, text=True, check=True).stdout)
        assert state["pid"] == c.pid and state["status"] == "created"
    assert cid not in _cli_ids()

    # A container made by the command line is found by the library.
    from support.oci import spec_bundle

    bundle, _ = spec_bundle(tmp_path, {"args": ["sleep", "60"]})
    cli_id = "fromcli-" + os.urandom(3).hex()
    subprocess.run([*CLI, "create", "--bundle", str(bundle), cli_id], check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert cli_id in {c.id for c in lc.Container.list()}
        loaded = lc.Container.load(cli_id)
        assert loaded.status() == "created" and os.path.exists(f"/proc/{loaded.pid}")
    finally:
        subprocess.run([*CLI, "delete", "--force", cli_id], check=True)
    assert cli_id not in {c.id for c in lc.Container.list()}


def test_reprs_say_what_they_are(tmp_path: Any, no_leaks: None) -> None:
    config = lc.Config(cgroup=lc.CgroupConfig(memory=lc.Memory(max=64 << 20)))
    r = lc.run(["true"], config=config)
    assert repr(r).startswith(f"CompletedProcess(args=['true'], returncode=0, container_id={r.container_id!r}")
    assert repr(r.stats).startswith("<Stats memory=") and "cpu=" in repr(r.stats) and len(repr(r.stats)) < 200
    with lc.ContainerProcess(lc.Config(), args=["sleep", "60"]) as proc:
        assert repr(proc) == f"<ContainerProcess id={proc.container_id!r} pid={proc.pid} running args=['sleep', '60']>"
        proc.kill()
        proc.wait()
        assert "returncode=-9" in repr(proc)
    with lc.Container.create("reprs", lc.Config(process=lc.Process(args=["true"])), root=str(tmp_path)) as c:
        assert repr(c) == f"<Container id='reprs' pid={c.pid} status=created root={str(tmp_path)!r}>"
    assert "status=stopped" in repr(c)


def test_notebooks_show_html_tables(tmp_path: Any, no_leaks: None) -> None:
    config = lc.Config(cgroup=lc.CgroupConfig(memory=lc.Memory(max=64 << 20), pids=lc.Pids(max=20)))
    r = lc.run(["sh", "-c", "echo '<i>'"], config=config, capture_output=True)
    assert r.returncode == 0, r.stderr
    page = r._repr_html_()
    assert page.startswith("<table>") and "&lt;i&gt;" in page and "<i>" not in page  # the output is escaped
    assert f"<code>{r.container_id}</code>" in page and "oom_killed" in page
    assert r.stats is not None and r.stats.pids is not None
    stats_page = r.stats._repr_html_()
    assert "limit 20" in stats_page and "MiB" in stats_page  # the pids limit and the 64 MiB memory limit
    assert "limit 64.0 MiB" in stats_page, stats_page
    assert "<th style='text-align:left'>cgroup</th>" in config._repr_html_()
    assert "<code>CgroupConfig(memory=Memory(max=67108864), pids=Pids(max=20))</code>" in config._repr_html_()
    assert "(all defaults)" in lc.Config()._repr_html_()
    with lc.Container.create("html", lc.Config(process=lc.Process(args=["true"])), root=str(tmp_path)) as c:
        page = c._repr_html_()
        assert "<code>html</code>" in page and "<code>created</code>" in page and f"<code>{c.pid}</code>" in page
