"""Making a plan's changes, and undoing exactly them, with a journal on disk.

``enable`` runs each step's commands in order and appends the step to
``gateway/applied.json`` as soon as it has taken effect, so a crash half-way
still leaves a record of what to undo. A step that fails undoes the steps
before it and raises. ``disable`` runs the journal's undo commands in reverse
and removes the journal: nothing that enable did not do is touched.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from peerwork.atomic import atomic_write_text
from peerwork.errors import InvalidInput, ServiceError
from peerwork.gateway.plan import Plan, Step

log = logging.getLogger("peerwork.gateway")
COMMAND_TIMEOUT = 20


def missing_for_enable(plan: Plan) -> list[str]:
    """What this process lacks to carry out ``plan`` (root, the commands it runs)."""
    missing = []
    if os.geteuid() != 0:
        missing.append(
            "root: adding addresses, net.ipv4.ip_forward and nftables rules need it "
            "(run the agent as root)"
        )
    commands = {argv[0] for step in plan.steps for argv in (*step.apply, *step.undo)}
    missing += [
        f"the '{c}' command (not found in PATH)" for c in sorted(commands) if not shutil.which(c)
    ]
    return missing


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def steps(self) -> list[Step]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
            return [Step.from_json(s) for s in data["applied"]]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError, InvalidInput) as exc:
            raise ServiceError(
                f"{self.path} is damaged ({exc}); undo its changes by hand"
            ) from None

    def write(self, steps: Sequence[Step]) -> None:
        body = {"applied": [s.to_json() for s in steps]}
        atomic_write_text(self.path, json.dumps(body, indent=1) + "\n", 0o600)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def _run(argv: Sequence[str], stdin: str = "") -> None:
    result = subprocess.run(
        list(argv),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise ServiceError(
            f"'{' '.join(argv)}' failed: {result.stderr.strip() or result.returncode}"
        )


def apply_plan(plan: Plan, journal: Journal) -> list[Step]:
    """Blocking. Returns the steps applied (the journal holds them too)."""
    done: list[Step] = []
    for step in plan.steps:
        if not step.apply:
            continue  # a service: the agent starts it
        try:
            for i, argv in enumerate(step.apply):
                _run(argv, step.stdin if i == 0 else "")
        except (ServiceError, OSError, subprocess.TimeoutExpired) as exc:
            log.error("gateway: %s: %s; undoing what was done", step.text, exc)
            undo_steps(done)
            journal.clear()
            raise ServiceError(f"could not {step.text}: {exc}") from None
        done.append(step)
        journal.write(done)
        log.info("gateway: %s", step.text)
    return done


def undo_steps(steps: Sequence[Step]) -> list[str]:
    """Undo ``steps`` in reverse; returns the failures (each undo is tried regardless)."""
    failures = []
    for step in reversed(steps):
        for argv in step.undo:
            try:
                _run(argv)
            except (ServiceError, OSError, subprocess.TimeoutExpired) as exc:
                failures.append(str(exc))
                log.error("gateway: undoing '%s': %s", step.text, exc)
    return failures
