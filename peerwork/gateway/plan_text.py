"""A gateway plan (its JSON, as the control API sends it) as lines of text for people:
what ``peerwork gateway plan`` prints and what the terminal UI shows before enabling."""

from __future__ import annotations

from typing import Any


def plan_lines(plan: dict[str, Any]) -> list[str]:
    pool = "-".join(plan["pool"]) if plan.get("pool") else "?"
    lines = [
        f"Gateway plan: uplink {plan.get('uplink') or '?'}, LAN {plan.get('lan') or '?'} "
        f"{plan.get('lan_address') or '?'}, DHCP pool {pool}",
        f"DNS forwarded to: {', '.join(plan.get('upstreams') or []) or 'nobody'}",
    ]
    lines += [f"Found on the LAN: {found}" for found in plan.get("recognised", [])]
    steps = plan.get("steps") or []
    lines.append("Changes:" if steps else "Changes: none")
    for i, step in enumerate(steps, 1):
        lines.append(f"  {i}. {step['text']}")
        lines += [f"       $ {' '.join(argv)}" for argv in step["apply"]]
        lines += [f"         {line}" for line in step["stdin"].splitlines()]
        lines += [f"       undo: {' '.join(argv)}" for argv in step["undo"]]
    lines += [f"Note: {note}" for note in plan.get("notes", [])]
    lines += [f"Problem: {problem}" for problem in plan.get("problems", [])]
    return lines
