"""Rootless containers, run by a real unprivileged user (support/rootless.py):
``lcrootless``, with subordinate ids 3000000-3065535 in /etc/subuid and
/etc/subgid, running this project from a venv of Debian's /usr/bin/python3.

What is asserted is what the kernel shows: the maps in /proc/self/uid_map,
the owners of files on the host, the state directory, cgroup files.
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest
from support.rootless import SUB_START, RootlessUser, as_user, delegated_cgroup


@pytest.fixture
def shared(rootless_user: RootlessUser) -> Iterator[str]:
    """A directory of the user's, removed afterwards whoever owns what is in it."""
    path = os.path.join(rootless_user.home, "shared")
    os.mkdir(path)
    os.chown(path, rootless_user.uid, rootless_user.gid)
    try:
        yield path
    finally:
        import shutil

        shutil.rmtree(path)


def test_one_id_maps_are_written_by_the_child_itself(rootless_user: RootlessUser) -> None:
    """With a map of the user's own ids only, the child writes its maps (as
    bwrap does): root inside is the user, setgroups is denied, and a file the
    container makes belongs to the user on the host."""
    out = as_user(
        rootless_user,
        f"""
        import os
        import libcontainer_py as lc
        cfg = lc.Config(uid_mappings=[lc.IDMap(0, os.getuid(), 1)], gid_mappings=[lc.IDMap(0, os.getgid(), 1)],
                        mounts=lc.Mounts.default() + [lc.Mount.bind({rootless_user.home!r}, "/home/u")])
        r = lc.run(["sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups;"
                    "touch /home/u/own-maps"], config=cfg, capture_output=True, text=True)
        made = os.stat({rootless_user.home!r} + "/own-maps")
        os.unlink({rootless_user.home!r} + "/own-maps")
        emit([r.returncode, r.stdout.split(), r.stderr, made.st_uid, made.st_gid])
        """,
    )
    returncode, words, stderr, uid, gid = out
    u, g = rootless_user.uid, rootless_user.gid
    assert returncode == 0, stderr
    assert words == ["0", "0", "0", str(u), "1", "0", str(g), "1", "deny"]
    assert (uid, gid) == (u, g)


def test_run_maps_root_to_the_user_and_the_rest_to_its_range(rootless_user: RootlessUser, shared: str) -> None:
    out = as_user(
        rootless_user,
        f"""
        import warnings
        warnings.simplefilter("error")
        import libcontainer_py as lc
        cfg = lc.Config(mounts=lc.Mounts.default() + [lc.Mount.bind({shared!r}, "/data")])
        r = lc.run(["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; touch /data/a /data/b;"
                    "chown 1000:1000 /data/a && chown 0:0 /data/b && echo chowned"],
                   config=cfg, capture_output=True, text=True)
        emit([r.returncode, r.stdout, r.stderr, lc.Namespaces.default().user])
        """,
    )
    returncode, stdout, stderr, default_user = out
    assert returncode == 0, stderr
    lines = stdout.splitlines()
    u, g = rootless_user.uid, rootless_user.gid
    assert lines[0] == "0"
    assert [line.split() for line in lines[1:5]] == [
        ["0", str(u), "1"],
        ["1", str(SUB_START), "65536"],
        ["0", str(g), "1"],
        ["1", str(SUB_START), "65536"],
    ]
    assert lines[5] == "chowned" and default_user is True
    # on the host: container uid 1000 is subordinate id 3000000 + 999; root is the user
    a, b = os.stat(os.path.join(shared, "a")), os.stat(os.path.join(shared, "b"))
    assert (a.st_uid, a.st_gid) == (SUB_START + 999, SUB_START + 999)
    assert (b.st_uid, b.st_gid) == (u, g)


def test_container_lifecycle_keeps_state_under_xdg_runtime_dir(rootless_user: RootlessUser) -> None:
    out = as_user(
        rootless_user,
        """
        import os, subprocess
        import libcontainer_py as lc
        c = lc.Container.create("rl-life", lc.Config(process=lc.Process(args=["sleep", "100"])))
        c.start()
        seen = {"root": lc.DEFAULT_ROOT, "dirs": sorted(os.listdir(lc.DEFAULT_ROOT))}
        p = c.exec(["sh", "-c", "id -u; readlink /proc/1/ns/user"], stdout=subprocess.PIPE, text=True)
        seen["exec"] = p.communicate()[0].split()
        seen["pid_ns_user"] = os.readlink(f"/proc/{c.pid}/ns/user")
        seen["list"] = subprocess.run(["libcontainer-py", "list", "-q"], capture_output=True, text=True).stdout.split()
        seen["state"] = c.state().status
        c.destroy()
        seen["after"] = sorted(os.listdir(lc.DEFAULT_ROOT))
        emit(seen)
        """,
    )
    root = os.path.join(rootless_user.runtime_dir, "libcontainer-py")
    assert out["root"] == root and "rl-life" in out["dirs"]
    assert out["exec"][0] == "0" and out["exec"][1] == out["pid_ns_user"]
    assert out["exec"][1] != os.readlink("/proc/self/ns/user")
    assert out["list"] == ["rl-life"] and out["state"] == "running"
    assert "rl-life" not in out["after"]
    st = os.stat(root)
    assert st.st_uid == rootless_user.uid and st.st_mode & 0o077 == 0


def test_unreadable_rootfs_is_a_config_error_naming_the_fix(rootless_user: RootlessUser, busybox: str) -> None:
    # the session's busybox lies in a directory only root can enter
    out = as_user(
        rootless_user,
        f"""
        import libcontainer_py as lc
        try:
            lc.run(["true"], config=lc.Config(rootfs={busybox!r}))
        except lc.ContainerError as exc:
            emit([type(exc).__name__, getattr(exc, "field", None), str(exc)])
        """,
    )
    name, field, message = out
    assert name == "RootlessConfigError" and field == "rootfs.path"
    assert busybox in message and "read and search access" in message


def test_maps_of_ids_not_the_users_are_refused_before_anything_exists(rootless_user: RootlessUser) -> None:
    out = as_user(
        rootless_user,
        """
        import os
        import libcontainer_py as lc
        cfg = lc.Config(uid_mappings=[lc.IDMap(0, 100000, 65536)], gid_mappings=[lc.IDMap(0, 100000, 65536)])
        try:
            lc.run(["true"], config=cfg)
        except lc.ConfigError as exc:
            emit([type(exc).__name__, exc.field, str(exc), os.path.exists(lc.DEFAULT_ROOT)])
        """,
    )
    assert out[:2] == ["RootlessConfigError", "uid_mappings"]
    assert "100000-165535" in out[2] and f"{SUB_START}-{SUB_START + 65535}" in out[2]


def test_without_subordinate_ids_one_id_and_a_warning(rootless_user: RootlessUser) -> None:
    out = as_user(
        rootless_user,
        """
        import warnings
        import libcontainer_py as lc
        from libcontainer_py import rootless
        rootless.SUBUID = rootless.SUBGID = "/nonexistent"  # a user /etc/subuid has no line for
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = lc.run(["sh", "-c", "cat /proc/self/uid_map; chown 1000 /tmp 2>&1; cat /proc/self/setgroups"],
                       capture_output=True, text=True)
        emit([r.stdout.splitlines(), [(w.category.__name__, str(w.message)) for w in caught]])
        """,
    )
    lines, caught = out
    assert lines[0].split() == ["0", str(rootless_user.uid), "1"]
    assert "Invalid argument" in lines[1] and lines[2] == "deny"
    assert [c[0] for c in caught] == ["RootlessWarning"]
    assert "lcrootless:100000:65536" in caught[0][1] and "usermod --add-subuids" in caught[0][1]


def test_namespaces_without_a_user_namespace_say_what_to_do(rootless_user: RootlessUser) -> None:
    out = as_user(
        rootless_user,
        """
        import libcontainer_py as lc
        cfg = lc.Config(namespaces=lc.Namespaces(mount=True, pid=True))
        try:
            lc.run(["true"], config=cfg)
        except lc.ContainerError as exc:
            emit([type(exc).__name__, str(exc)])
        """,
    )
    assert out[0] == "SpawnError" and "namespaces.user=True" in out[1]


def test_rootless_podman_runs_our_runtime_as_runc_does(rootless_user: RootlessUser, busybox: str) -> None:
    import shutil
    import subprocess

    base = os.path.join(rootless_user.home, "podman")
    os.mkdir(base)
    archive = os.path.join(base, "bb.tar")
    subprocess.run(["tar", "-C", busybox, "-cf", archive, "."], check=True)
    conf = os.path.join(base, "containers.conf")
    with open(conf, "w") as f:
        f.write(
            '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
            'runtime_supports_json = ["runc", "lcpy"]\n'
            f'[engine.runtimes]\nlcpy = ["{rootless_user.bin}/libcontainer-py"]\nrunc = ["/usr/sbin/runc"]\n'
        )
    subprocess.run(["chown", "-R", f"{rootless_user.uid}:{rootless_user.gid}", base], check=True)
    env = {"CONTAINERS_CONF": conf}
    script = "id -u; cat /proc/self/uid_map; touch /tmp/f; chown 1000 /tmp/f && stat -c %u /tmp/f"
    try:
        assert rootless_user.run(["podman", "import", archive, "localhost/lcrl"], env=env).returncode == 0
        outs = {}
        for runtime in ("lcpy", "runc"):
            r = rootless_user.run(
                [
                    "podman",
                    "--runtime",
                    runtime,
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    "localhost/lcrl",
                    "sh",
                    "-c",
                    script,
                ],
                env=env,
            )
            assert r.returncode == 0, r.stderr
            outs[runtime] = [line.split() for line in r.stdout.splitlines()]
        assert outs["lcpy"] == outs["runc"]
        assert outs["lcpy"][:3] == [["0"], ["0", str(rootless_user.uid), "1"], ["1", str(SUB_START), "65536"]]
        assert outs["lcpy"][3] == ["1000"]
        # podman ran our runtime under XDG_RUNTIME_DIR; --rm removed its state
        left = os.listdir(os.path.join(rootless_user.runtime_dir, "libcontainer-py"))
        assert [n for n in left if not n.startswith(".")] == []
    finally:
        rootless_user.run(["podman", "system", "reset", "--force"], env=env)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def delegated(rootless_user: RootlessUser) -> Iterator[str]:
    with delegated_cgroup(rootless_user, "lcrootless") as path:
        yield path


def test_cgroup_in_a_delegated_cgroup2_subtree(rootless_user: RootlessUser, delegated: str) -> None:
    code = """
        import os
        import libcontainer_py as lc
        cfg = lc.Config(cgroup=lc.CgroupConfig(), process=lc.Process(args=["sleep", "100"]))
        c = lc.Container.create("rl-cg", cfg)
        c.start()
        seen = {"cgroup": open(f"/proc/{c.pid}/cgroup").read().splitlines()}
        c.pause()
        seen["frozen"] = open(os.path.join("DELEGATED", "rl-cg", "cgroup.events")).read().split()
        c.resume()
        c.destroy()
        try:
            lc.run(["true"], config=lc.Config(cgroup=lc.CgroupConfig(memory=lc.Memory(max=64 << 20))))
        except lc.ContainerError as exc:
            seen["limit"] = [type(exc).__name__, str(exc)]
        emit(seen)
    """.replace("DELEGATED", delegated)
    out = as_user(rootless_user, code, delegated=delegated)  # started in the delegated subtree
    name = os.path.basename(delegated)
    assert f"0::/{name}/rl-cg" in out["cgroup"]
    assert out["frozen"][out["frozen"].index("frozen") + 1] == "1"
    assert not os.path.exists(os.path.join(delegated, "rl-cg"))
    assert out["limit"][0] == "CgroupError" and "no delegated cgroup is available for memory" in out["limit"][1]


def test_image_unpacked_and_run_by_the_user(rootless_user: RootlessUser, busybox: str, shared: str) -> None:
    import tarfile

    from support import images

    def owned(info: tarfile.TarInfo, uid: int) -> tarfile.TarInfo:
        info.uid = info.gid = uid
        return info

    base = images.layer_from_dir(busybox)
    lower = images.layer_from_members(
        [
            (owned(images.entry("home/u", tarfile.DIRTYPE, mode=0o750), 1000), None),
            (owned(images.entry("home/u/f"), 1000), b"mine\n"),
            (images.entry("gone"), b"x"),
            (images.entry("opq", tarfile.DIRTYPE, mode=0o755), None),
            (images.entry("opq/old"), b"old"),
        ]
    )
    upper = images.layer_from_members(
        [
            (images.entry(".wh.gone"), b""),
            (images.entry("opq/.wh..wh..opq"), b""),
            (images.entry("opq/new"), b"new"),
        ]
    )
    layout = os.path.join(shared, "layout")
    images.write_oci_layout(layout, [base, lower, upper], ref_name="rl:1")
    archive = images.tar_dir(layout, os.path.join(shared, "rl.tar"))
    os.chmod(archive, 0o644)
    out = as_user(
        rootless_user,
        f"""
        import os
        import libcontainer_py as lc
        store = lc.images.ImageStore("~/images")  # the issue's call, in $HOME
        image = store.import_archive({archive!r})
        cfg = lc.Config.from_image(store, image.digest)
        script = ("stat -c %u:%g /home/u/f; cat /home/u/f; ls /opq; test -e /gone || echo no-gone;"
                  "grep ' / ' /proc/self/mountinfo | grep -o 'userxattr'")
        r = lc.run(["sh", "-c", script], config=cfg, capture_output=True, text=True)
        layers = [store.layer_path(d) for d in image.layers]
        store.remove(image.digest)
        removed = store.gc()
        emit([r.returncode, r.stdout.split(), r.stderr, len(removed), [os.path.exists(p) for p in layers]])
        """,
    )
    returncode, words, stderr, removed, exist = out
    assert returncode == 0, stderr
    assert words == ["1000:1000", "mine", "new", "no-gone", "userxattr"]
    assert removed == 3 and exist == [False, False, False]


def test_layer_owner_outside_the_range_is_an_image_error(rootless_user: RootlessUser, shared: str) -> None:

    from support import images

    info = images.entry("far")
    info.uid = 70000  # the user's range maps container ids up to 65536
    layout = os.path.join(shared, "layout")
    images.write_oci_layout(layout, [images.layer_from_members([(info, b"x")])], ref_name="far:1")
    archive = images.tar_dir(layout, os.path.join(shared, "far.tar"))
    os.chmod(archive, 0o644)
    out = as_user(
        rootless_user,
        f"""
        import os
        import libcontainer_py as lc
        store = lc.images.ImageStore(os.path.expanduser("~/images-far"))
        try:
            store.import_archive({archive!r})
        except lc.ContainerError as exc:
            emit([type(exc).__name__, str(exc), os.listdir(os.path.join(store.root, "tmp"))])
        """,
    )
    name, message, tmp_left = out
    assert name == "ImageError" and "/etc/subuid" in message and tmp_left == []


def test_what_a_user_may_not_touch_is_a_container_error(rootless_user: RootlessUser) -> None:
    out = as_user(
        rootless_user,
        """
        import os
        import libcontainer_py as lc
        calls = {
            "store": lambda: lc.images.ImageStore("/root/images"),
            "list": lambda: lc.Container.list(root="/root/states"),
            "create": lambda: lc.Container.create("rl-x", lc.Config(), root="/root/states"),
            "pids": lambda: lc.run(["true"], config=lc.Config(cgroup=lc.CgroupConfig(pids=lc.Pids(max=10)))),
        }
        seen = {}
        for name, call in calls.items():
            try:
                call()
                seen[name] = "no error"
            except lc.ContainerError as exc:
                seen[name] = type(exc).__name__
        seen["default_store"] = lc.images.ImageStore().root
        emit(seen)
        """,
    )
    assert out.pop("default_store") == os.path.join(rootless_user.home, ".local", "share", "libcontainer_py")
    assert out == {"store": "ImageError", "list": "ContainerError", "create": "SpawnError", "pids": "CgroupError"}


def test_exec_into_a_one_id_rootless_container_as_runc(rootless_user: RootlessUser, shared: str) -> None:
    """``runc spec --rootless`` maps only the user's own id, so the container's
    user namespace denies setgroups: an exec'd process (the library's path,
    then the saved plan) runs as runc's does, and asking it for supplementary
    groups fails, as with runc."""
    import json
    import subprocess

    from support.busybox import make_rootfs

    bundle = os.path.join(shared, "bundle")
    make_rootfs(os.path.join(bundle, "rootfs"))
    subprocess.run(["chown", "-R", f"{rootless_user.uid}:{rootless_user.gid}", bundle], check=True)
    assert rootless_user.run(["/usr/sbin/runc", "spec", "--rootless"], cwd=bundle).returncode == 0
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        doc = json.load(f)
    doc["process"].update(args=["sleep", "60"], terminal=False)
    with open(path, "w") as f:
        json.dump(doc, f)
    show = "id; echo $HOME"
    seen = {}
    for name, binary in (("ours", f"{rootless_user.bin}/libcontainer-py"), ("runc", "/usr/sbin/runc")):
        cli = [binary, "--root", os.path.join(shared, f"state-{name}")]
        quiet = ["sh", "-c", '"$@" </dev/null >/dev/null 2>&1', "sh"]  # the container keeps no pipe of ours
        assert rootless_user.run([*quiet, *cli, "create", "rl-exec"], cwd=bundle).returncode == 0
        try:
            assert rootless_user.run([*cli, "start", "rl-exec"]).returncode == 0
            outs = [rootless_user.run([*cli, "exec", "rl-exec", "sh", "-c", show]) for _ in range(2)]
            groups = rootless_user.run([*cli, "exec", "-g", "5", "rl-exec", "id"])
            unmapped = rootless_user.run([*cli, "exec", "-u", "1000", "rl-exec", "id"])
            if name == "ours":  # refused before anything is made, saying why
                assert "uid 1000 is not mapped in the container's user namespace" in unmapped.stderr, unmapped
            seen[name] = [(r.returncode, r.stdout) for r in outs] + [groups.returncode != 0, unmapped.returncode != 0]
        finally:
            rootless_user.run([*cli, "delete", "--force", "rl-exec"])
    assert seen["ours"] == seen["runc"], seen
    assert seen["ours"][0] == (0, "uid=0(root) gid=0(root)\n/root\n"), seen  # setgroups denied: none set
