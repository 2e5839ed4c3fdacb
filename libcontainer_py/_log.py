"""The library's logger, ``libcontainer_py``: DEBUG for what each container
does (plan, cgroup, timings), WARNING for what it had to degrade.  A
NullHandler keeps it silent unless the program configures logging; it
never writes to stdout."""

from __future__ import annotations

import logging

log = logging.getLogger("libcontainer_py")
log.addHandler(logging.NullHandler())
