"""Run a container in a busybox root filesystem, as a non-root user, with a
read-only bind mount of a host directory.

    python3 examples/busybox_rootfs.py        (as root; needs busybox-static)

Everything is made in a temporary directory that is removed at the end.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import libcontainer_py as lc

BUSYBOX = "/bin/busybox"  # Debian's busybox-static: one static binary

SCRIPT = """
echo "id:       $(id)"
echo "hostname: $(hostname)"
echo "cwd:      $(pwd)"
echo "/data:    $(cat /data/hello.txt)"
if touch /data/new 2>/dev/null; then echo "write:    allowed (unexpected)"; exit 1; fi
echo "write:    refused, /data is read-only"
echo "mount:    $(grep ' /data ' /proc/self/mountinfo | cut -d' ' -f5,6)"
echo "processes:"
ps -o pid,user,comm
"""


def make_rootfs(path):
    """busybox in /bin with a symlink per applet, and a minimal /etc."""
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "home/user"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    os.chmod(os.path.join(path, "tmp"), 0o1777)
    os.chown(os.path.join(path, "home/user"), 1000, 1000)
    shutil.copy2(BUSYBOX, os.path.join(path, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            os.symlink("busybox", os.path.join(path, "bin", applet))
    with open(os.path.join(path, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n")
    with open(os.path.join(path, "etc", "group"), "w") as f:
        f.write("root:x:0:\nwheel:x:10:user\nuser:x:1000:\n")


def main():
    if not os.path.exists(BUSYBOX):
        print(f"{BUSYBOX} is missing: apt-get install busybox-static", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="lc-busybox-") as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        make_rootfs(rootfs)
        shared = os.path.join(tmp, "shared")
        os.mkdir(shared)
        with open(os.path.join(shared, "hello.txt"), "w") as f:
            f.write("hello from the host")

        config = lc.Config(
            rootfs=lc.Rootfs.directory(rootfs),
            hostname="busybox",
            mounts=lc.Mounts.default() + [lc.Mount.bind(shared, "/data", readonly=True)],
            process=lc.Process(
                args=["sh", "-c", SCRIPT],
                cwd="/home/user",
                env={"PATH": "/bin", "HOME": "/home/user"},
                user=lc.User(uid=1000, gid=1000, additional_gids=[10]),
            ),
        )
        result = lc.run(config=config, capture_output=True, text=True, timeout=30)
        print(result.stdout, end="")
        expected = [
            "uid=1000(user) gid=1000(user) groups=10(wheel)",
            "hostname: busybox",
            "hello from the host",
            "/data ro,",
        ]
        missing = [e for e in expected if e not in result.stdout]
        if result.returncode != 0 or missing:
            print(f"exit status {result.returncode}, missing {missing}\n{result.stderr}", file=sys.stderr)
            return 1
        # Mount points missing in a directory rootfs are created in it (here /data).
        print(f"\nrootfs on the host now holds: {' '.join(sorted(os.listdir(rootfs)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
