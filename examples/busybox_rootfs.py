"""Run a container in a busybox root filesystem, as a non-root user, with a
read-only bind mount of a host directory.

    python3 examples/busybox_rootfs.py        (as root; needs busybox-static)

Everything is made in a temporary directory that is removed at the end.
"""

import os
import sys
import tempfile

from _checks import BUSYBOX, check, make_busybox_rootfs, report  # the examples' shared checks and busybox root

import libcontainer_py as lc

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
    """busybox in /bin with a symlink per applet, a minimal /etc and the
    home directory of user 1000."""
    etc = {
        "passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
        "group": "root:x:0:\nwheel:x:10:user\nuser:x:1000:\n",
    }
    make_busybox_rootfs(path, ("bin", "etc", "proc", "sys", "dev", "tmp", "home/user"), etc)
    os.chown(os.path.join(path, "home/user"), 1000, 1000)


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
        check(result.returncode == 0, f"exit status 0 (was {result.returncode}; stderr {result.stderr!r})")
        for line in expected:
            check(line in result.stdout, f"the output holds {line!r}")
        # Mount points missing in a directory rootfs are created in it (here /data).
        print(f"\nrootfs on the host now holds: {' '.join(sorted(os.listdir(rootfs)))}")
    return report()


if __name__ == "__main__":
    sys.exit(main())
