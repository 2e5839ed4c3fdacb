"""The commands of the command line, by the module that runs them, with
their help.  A command runs its module's ``cmd_<command>`` (cli.main
imports the module only when its command runs)."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Dict, Tuple

#: module -> {command: help}, in the order ``--help`` lists them
_BY_MODULE = {
    "spec": {"spec": "create a new specification file (config.json)"},
    "lifecycle": {
        "create": "create a container",
        "start": "execute the user defined process in a created container",
        "run": "create and run a container",
        "kill": "kill sends the specified signal (default: SIGTERM) to the container's init process",
        "pause": "pause suspends all processes inside the container",
        "resume": "resumes all processes that have been previously paused",
        "delete": "delete any resources held by the container",
        "update": "update container resource constraints",
        "checkpoint": "not supported: checkpointing needs CRIU",
        "restore": "not supported: restoring needs CRIU",
    },
    "query": {
        "state": "output the state of a container",
        "list": "lists containers started by libcontainer-py with the given root",
        "ps": "ps displays the processes running inside a container",
        "events": "display container events such as OOM notifications and cpu, memory, and IO usage statistics",
        "features": "show the enabled features",
    },
    "execute": {"exec": "execute new process inside the container"},
}

#: command -> (module, help)
COMMANDS: Dict[str, Tuple[str, str]] = {
    command: (module, text) for module, commands in _BY_MODULE.items() for command, text in commands.items()
}
