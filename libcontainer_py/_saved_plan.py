"""A plan kept on disk as plain data, and read back without the config model.

plan.Plan and plan.Step are attrs classes built from the config; a saved
plan (the command line's exec plans, cli/_exec_plan.py, its create
recipes, cli/_create_recipe.py, and the default container's quick run,
_quickrun.py) is the same steps as JSON-ready dicts
(``step_fields``) and, read back, as SavedStep and SavedPlan: objects with
the fields _native.NativeArgs and spawn read, ``op`` an int.  ``typed()``
gives the plan.Plan again, for the error messages of a failed step.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple

    from .plan import Plan, Step

#: Step fields and their defaults (plan.Step's); a saved step keeps the others.
STEP_DEFAULTS: Dict[str, Any] = {
    "path": None,
    "flags": 0,
    "mflags": 0,
    "n1": 0,
    "n2": 0,
    "n3": 0,
    "s1": None,
    "s2": None,
    "s3": None,
    "s4": None,
    "gids": (),
    "data": b"",
    "open_path": None,
    "open_flags": os.O_RDONLY,
}


#: Step fields a saved step keeps besides STEP_DEFAULTS (not plan.Step's
#: constructor's: a WAIT_ACCEPT's socket, a WAIT_PARENT's phase).
_SAVED_EXTRAS: Dict[str, Any] = {"listen_path": None, "phase": "maps"}


def step_fields(step: Step) -> Dict[str, Any]:
    """``step`` as a JSON-ready dict: op, what and the fields that differ
    from their defaults (gids a list, data as hex)."""
    fields: Dict[str, Any] = {"op": int(step.op), "what": step.what}
    for name, default in {**STEP_DEFAULTS, **_SAVED_EXTRAS}.items():
        value = getattr(step, name)
        if value != default:
            if name == "gids":
                value = list(value)
            elif name == "data":
                value = value.hex()
            fields[name] = value
    return fields


class SavedStep:
    """A step of a saved plan, with plan.Step's fields (op an int)."""

    slot = -1

    def __init__(self, fields: Dict[str, Any]) -> None:
        self.op: int = fields["op"]
        self.listen_path: Optional[str] = fields.get("listen_path")
        self.phase: str = fields.get("phase", "maps")
        self.what: str = fields["what"]
        self.path: Optional[str] = fields.get("path")
        self.flags: int = fields.get("flags", 0)
        self.mflags: int = fields.get("mflags", 0)
        self.n1: int = fields.get("n1", 0)
        self.n2: int = fields.get("n2", 0)
        self.n3: int = fields.get("n3", 0)
        self.s1: Optional[str] = fields.get("s1")
        self.s2: Optional[str] = fields.get("s2")
        self.s3: Optional[str] = fields.get("s3")
        self.s4: Optional[str] = fields.get("s4")
        self.gids: Tuple[int, ...] = tuple(fields.get("gids", ()))
        data = fields.get("data", "")
        self.data: bytes = bytes.fromhex(data) if isinstance(data, str) else data
        self.open_path: Optional[str] = fields.get("open_path")
        self.open_flags: int = fields.get("open_flags", os.O_RDONLY)


class SavedPlan:
    """What _native.NativeArgs and spawn read of a plan."""

    slots = 0
    uid_map = gid_map = ""
    deny_setgroups = map_helper = False

    def __init__(self, doc: Dict[str, Any], steps: Tuple[SavedStep, ...]) -> None:
        self.container_id: str = doc["container_id"]
        #: The child waits for a start (from this process, or through ``start_socket``).
        self.waits_for_start: bool = doc.get("waits_for_start", False)
        self.start_socket: Optional[str] = doc.get("start_socket")
        self.clone_flags: int = doc["clone_flags"]
        self.shares_memory: bool = doc["shares_memory"]
        #: The child asks to be killed with the thread that clones it (PDEATHSIG).
        self.dies_with_owner: bool = doc.get("dies_with_owner", False)
        #: The program's search path when the environment has none (process.DEFAULT_PATH).
        self.default_path: str = doc["default_path"]
        self.steps = steps
        self.argv: Tuple[str, ...] = ()
        self.envp: Tuple[str, ...] = ()
        self.exec_paths: Tuple[str, ...] = ()

    def typed(self) -> Plan:
        """The same plan as plan.Plan (for its error messages)."""
        from .plan import Op, Plan, Step

        steps = [Step(Op(s.op), s.what, **{k: getattr(s, k) for k in STEP_DEFAULTS}) for s in self.steps]
        return Plan(self.container_id, self.clone_flags, tuple(steps), self.argv, self.envp, self.exec_paths)
