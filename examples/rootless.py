"""Rootless: the user namespace an unprivileged caller gets.

As a non-root user with /etc/subuid and /etc/subgid ranges, plain
``lc.run`` maps root inside to you and ids 1.. to your ranges.  Run as root,
this example shows the same shape with explicit maps (root inside is uid
1000 outside, then 100000..165535).
"""

import os

import libcontainer_py as lc
from libcontainer_py import rootless

if rootless.unprivileged():
    config = lc.Config()  # a user namespace and the automatic maps
else:
    config = lc.Config(
        namespaces=lc.Namespaces.all(),
        uid_mappings=[lc.IDMap(0, 1000, 1), lc.IDMap(1, 100000, 65536)],
        gid_mappings=[lc.IDMap(0, 1000, 1), lc.IDMap(1, 100000, 65536)],
    )
r = lc.run(
    ["sh", "-c", "id -u; cat /proc/self/uid_map; touch /tmp/f; chown 1000:1000 /tmp/f; stat -c %u:%g /tmp/f"],
    config=config,
    capture_output=True,
    text=True,
)
print(r.stdout, end="")
print("state root for uid", os.geteuid(), "is", lc.DEFAULT_ROOT)
