"""Loaded into the test worker with `--include`: an outbox handler slow enough to be killed in."""

import time
from pathlib import Path

from outbox.registry import register


def slow_append(payload: dict[str, object]) -> None:
    time.sleep(float(payload["sleep"]))  # type: ignore[arg-type]
    with Path(str(payload["path"])).open("a") as out:
        out.write(f"{payload['line']}\n")


register("test.slow_append", "tests.ops.fault_tasks.slow_append")
