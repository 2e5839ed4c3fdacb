"""Grade four submissions against test cases with a reused sandbox each: the
verdict of every run comes from what the kernel reported."""

from __future__ import annotations

from libcontainer_py import sandbox

CASES = [("3 4\n", "7\n"), ("10 -2\n", "8\n"), ("0 0\n", "0\n")]
SUBMISSIONS = {
    "right": "a, b = map(int, input().split())\nprint(a + b)\n",
    "wrong": "a, b = map(int, input().split())\nprint(a - b)\n",
    "too slow": "while True:\n    pass\n",
    "memory hog": "x = [bytearray(1 << 20) for _ in range(1000)]\n",
    "crashes": "import os\nos.abort()\n",
}
LIMITS = sandbox.Limits(cpu_time=0.5, wall_time=2.0, memory="64M", pids=8, output="64k", disk="1M")


def grade(source: str) -> list[str]:
    verdicts = []
    with sandbox.Sandbox(limits=LIMITS) as box:
        box.put({"main.py": source})
        for given, expected in CASES:
            r = box.run(["python3", "main.py"], stdin=given)
            if r.status != "OK":
                verdicts.append(r.status)
            else:
                verdicts.append("ACCEPTED" if r.stdout.decode() == expected else "WRONG_ANSWER")
    return verdicts


def main() -> None:
    table = {name: grade(src) for name, src in SUBMISSIONS.items()}
    for name, verdicts in table.items():
        print(f"{name:12s} {' '.join(verdicts)}")
    assert table["right"] == ["ACCEPTED"] * 3
    assert table["wrong"][0] == "WRONG_ANSWER"
    assert table["too slow"] == ["TIME_LIMIT"] * 3
    assert table["memory hog"] == ["MEMORY_LIMIT"] * 3
    assert table["crashes"] == ["SIGNALED"] * 3


if __name__ == "__main__":
    main()
