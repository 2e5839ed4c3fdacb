"""Four settings the command line turns on as runc does, used from the
library: a session of the process's own, HOME from the image's /etc/passwd,
a session keyring of the container's, and no hostname set.

    python3 examples/session_and_home.py        (as root; needs busybox-static)

1. By default a container's process stays in the caller's session and
   process group, as ``subprocess``'s children do: a terminal's Ctrl-C and
   ``killpg`` of the caller's group reach it.
2. ``Process(new_session=True)`` makes it the leader of a session and
   process group of its own (``setsid``): the host sees sid == pgid == pid.
3. ``Process(passwd_home=True)``: an environment without HOME gets the
   user's home from the container's /etc/passwd (``/`` for a user it does
   not list); a HOME given stays.  Without it the environment is exactly
   ``env``.
4. ``Process(session_keyring=NAME)``: the process joins a keyring of that
   name, made for it, instead of its caller's; the host's /proc/keys lists
   it while the container runs.
5. ``Config(hostname="")`` sets no hostname: the new uts namespace keeps
   its copy of the caller's (what the command line does for a config.json
   without one, as runc); the default names the host after the container id.

Every claim is checked; the exit status is 0 only if all of them hold.
"""

import os
import shutil
import sys
import tempfile

from _checks import MINIMAL_ETC, check, make_busybox_rootfs, report

import libcontainer_py as lc

ETC = {**MINIMAL_ETC, "passwd": MINIMAL_ETC["passwd"] + "app:x:1000:1000::/srv/app:/bin/sh\n"}


def home_of(rootfs: str, **process: object) -> str:
    """What ``echo $HOME`` prints in a container with these Process fields."""
    config = lc.Config(rootfs=rootfs, process=lc.Process(args=["true"], **process))
    done = lc.run(["sh", "-c", "echo ${HOME-unset}"], config=config, capture_output=True, check=True)
    return done.stdout.decode().strip()


def main() -> int:
    work = tempfile.mkdtemp(prefix="lc-session-")
    try:
        rootfs = make_busybox_rootfs(os.path.join(work, "rootfs"), etc=ETC)

        print("1. the caller's session (the default)")
        config = lc.Config(rootfs=rootfs, process=lc.Process(args=["sleep", "10"]))
        with lc.ContainerProcess(config) as proc:
            check(os.getsid(proc.pid) == os.getsid(0), "the process is in this process's session")
            check(os.getpgid(proc.pid) == os.getpgid(0), "and in its process group")
            proc.kill()

        print("2. new_session=True")
        config = lc.Config(rootfs=rootfs, process=lc.Process(args=["sleep", "10"], new_session=True))
        with lc.ContainerProcess(config) as proc:
            check(os.getsid(proc.pid) == os.getpgid(proc.pid) == proc.pid, "sid == pgid == pid: a session of its own")
            proc.kill()

        print("3. passwd_home=True")
        check(home_of(rootfs, passwd_home=True) == "/root", "root gets /root")
        check(home_of(rootfs, passwd_home=True, user=lc.User(1000, 1000)) == "/srv/app", "uid 1000 gets /srv/app")
        check(home_of(rootfs, passwd_home=True, user=lc.User(4242, 4242)) == "/", "an unlisted uid gets /")
        check(home_of(rootfs, passwd_home=True, env={"HOME": "/mine"}) == "/mine", "a HOME given stays")
        check(home_of(rootfs) == "unset", "without it, no HOME is added")

        print("4. session_keyring")
        name = f"_ses.example-{os.getpid()}"
        config = lc.Config(rootfs=rootfs, process=lc.Process(args=["sleep", "10"], session_keyring=name))
        with lc.ContainerProcess(config) as proc:
            with open("/proc/keys") as f:
                listed = [line.split() for line in f if f" {name}:" in line]  # id flags usage timeout perm uid gid type
            check(bool(listed) and listed[0][7] == "keyring", f"the host lists a keyring {name}")
            proc.kill()

        print('5. hostname=""')
        kept = lc.run(["hostname"], config=lc.Config(rootfs=rootfs, hostname=""), capture_output=True, text=True)
        check(kept.stdout.strip() == os.uname().nodename, "the host's name, kept in the new uts namespace")
        named = lc.run(["hostname"], config=lc.Config(rootfs=rootfs), capture_output=True, text=True)
        check(named.stdout.strip() == named.container_id, "by default, the container id")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report()


if __name__ == "__main__":
    sys.exit(main())
