"""The commands of the command line: the module and function that run each,
and its help (cli.main imports the module only when its command runs)."""

#: command -> (module, function, help)
COMMANDS = {
    "spec": ("spec", "cmd_spec", "create a new specification file (config.json)"),
    "create": ("lifecycle", "cmd_create", "create a container"),
    "start": ("lifecycle", "cmd_start", "execute the user defined process in a created container"),
    "run": ("lifecycle", "cmd_run", "create and run a container"),
    "kill": (
        "lifecycle",
        "cmd_kill",
        "kill sends the specified signal (default: SIGTERM) to the container's init process",
    ),
    "pause": ("lifecycle", "cmd_pause", "pause suspends all processes inside the container"),
    "resume": ("lifecycle", "cmd_resume", "resumes all processes that have been previously paused"),
    "delete": ("lifecycle", "cmd_delete", "delete any resources held by the container"),
    "state": ("query", "cmd_state", "output the state of a container"),
    "list": ("query", "cmd_list", "lists containers started by libcontainer-py with the given root"),
    "ps": ("query", "cmd_ps", "ps displays the processes running inside a container"),
    "events": (
        "query",
        "cmd_events",
        "display container events such as OOM notifications and cpu, memory, and IO usage statistics",
    ),
    "features": ("query", "cmd_features", "show the enabled features"),
    "exec": ("execute", "cmd_exec", "execute new process inside the container"),
    "update": ("lifecycle", "cmd_update", "update container resource constraints"),
    "checkpoint": ("lifecycle", "cmd_unsupported", "not supported: checkpointing needs CRIU"),
    "restore": ("lifecycle", "cmd_unsupported", "not supported: restoring needs CRIU"),
}
