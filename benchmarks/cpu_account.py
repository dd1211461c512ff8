"""Where a scenario's CPU goes: the app (gunicorn, master and workers), PostgreSQL, Redis
and nginx, read from ``/proc`` before and after the measured run (and wrk, a child of the
benchmark gone by then: ``benchmarks/run`` reads its time from ``os.times``).

On a 2-core machine every part of a request competes for the same cores, so a scenario's
throughput is its whole CPU cost per request: the benchmark reports it per part, in
milliseconds per request, and for a missed target how many milliseconds in all would meet it
(``benchmarks/report.py``). Linux only; elsewhere the figures are empty.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# Process names (``comm``) of each part besides the app.
PARTS = {
    "postgres": ("postgres",),
    "redis": ("redis-server",),
    "nginx": ("nginx",),
}


def _stat(pid: int) -> tuple[str, int, float] | None:
    """Name, parent and CPU seconds (user + system) of a process, None when it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    # After the name: state, ppid, ..., utime (14th field of the line) and stime (15th).
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def snapshot(app_pid: int | None) -> dict[str, dict[int, float]]:
    """CPU seconds used so far by each process of each part (the app: ``app_pid`` and its
    children), by process id: a process that ends during the run must not count negative."""
    parts: dict[str, dict[int, float]] = {part: {} for part in ["app", *PARTS, "wrk"]}
    if not PROC.is_dir():
        return parts
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        found = _stat(int(entry.name))
        if found is None:
            continue
        name, parent, seconds = found
        pid = int(entry.name)
        if app_pid is not None and app_pid in (pid, parent):
            parts["app"][pid] = seconds
            continue
        for part, names in PARTS.items():
            if name in names:
                parts[part][pid] = seconds
    return parts


def per_request(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]], requests: int
) -> dict[str, float]:
    """Milliseconds of CPU per request of each part between two snapshots (and ``total``):
    what each process running at the end used since the start (or since it started)."""
    if requests <= 0:
        return {}
    spent = {}
    for part, processes in after.items():
        earlier = before.get(part, {})
        seconds = sum(max(now - earlier.get(pid, 0.0), 0.0) for pid, now in processes.items())
        spent[part] = seconds * 1000 / requests
    spent["total"] = sum(spent.values())
    return {part: round(value, 3) for part, value in spent.items()}
