"""Memory of a warm agent: the agent process, its `full` zygote and the zygote's spare child.

Usage: python benchmarks/bench_memory.py [--timeout 180]
Starts a server and one agent (which warms its `full` zygote at start), waits until the zygote
and its spare child exist and the spare is done (it copies its inherited pages at idle priority,
then sleeps until a run's spec comes), then prints RSS, PSS and USS (private pages) from
/proc/PID/smaps_rollup of the agent, the zygote, the spare child and the server. PSS splits each
shared page among the processes that map it, so the PSS figures add up to what the processes
cost together.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common import report
from tests.livesystem import LiveSystem

ZYGOTE = "seedlab.runner.zygote"


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc/*/stat."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    """Every process below pid, depth first."""
    tree = _children()
    out, stack = [], list(tree.get(pid, []))
    while stack:
        child = stack.pop()
        out.append(child)
        stack.extend(tree.get(child, []))
    return out


def cmdline(pid: int) -> str:
    """The process's command line, or '' when it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def memory(pid: int) -> dict[str, float]:
    """RSS, PSS and USS (private clean + dirty) in MB, from /proc/PID/smaps_rollup."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[-1] == "kB":
            fields[name] = int(parts[0])
    mb = 1024.0
    return {
        "rss": fields["Rss"] / mb,
        "pss": fields["Pss"] / mb,
        "uss": (fields["Private_Clean"] + fields["Private_Dirty"]) / mb,
    }


def zygote_and_spare(agent: int) -> tuple[int | None, int | None]:
    """The agent's zygote (a descendant running the zygote module) and its child, if any."""
    tree = _children()
    for pid in descendants(agent):
        if ZYGOTE in cmdline(pid):
            kids = tree.get(pid, [])
            return pid, (kids[0] if kids else None)
    return None, None


def state(pid: int) -> str:
    """The process's state letter (R running, S sleeping, ...), '' when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def wait_for_spare(agent: int, timeout: float) -> tuple[int, int, float]:
    """Wait until the zygote's spare has copied its pages; pids and seconds waited.

    Done means asleep (waiting for its spec on its socket) with its RSS steady for 2 s: at idle
    priority on a busy machine a spare still copying may not run for a while, but it stays
    runnable, so a steady RSS alone could be a starved spare.
    """
    started = time.monotonic()
    last, steady_since = -1.0, time.monotonic()
    while time.monotonic() - started < timeout:
        zygote, spare = zygote_and_spare(agent)
        if zygote is not None and spare is not None:
            try:
                rss = memory(spare)["rss"]
            except (OSError, KeyError):
                rss = -1.0
            if abs(rss - last) >= 1.0 or state(spare) != "S":
                last, steady_since = rss, time.monotonic()
            elif time.monotonic() - steady_since >= 2.0:
                return zygote, spare, time.monotonic() - started
        time.sleep(0.25)
    raise SystemExit(f"no zygote with a settled spare within {timeout:.0f} s")


def main() -> None:
    """Start the system, wait for the warm zygote and its spare, print their memory."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        live = LiveSystem(Path(tmp))
        try:
            live.start_server()
            agent = live.start_agent("memory")  # warms its `full` zygote at start
            zygote, spare, waited = wait_for_spare(agent.pid, args.timeout)
            assert live.server is not None
            processes = [
                ("server", live.server.pid),
                *((f"  server child {pid}", pid) for pid in descendants(live.server.pid)),
                ("agent", agent.pid),
                *(
                    (f"  agent child {pid}", pid)
                    for pid in descendants(agent.pid)
                    if pid not in (zygote, spare)
                ),
                ("zygote (`full`, TensorFlow imported)", zygote),
                ("spare child of the zygote", spare),
            ]
            rows = [("load average (1, 5, 15 min) at the start", _load(load_start))]
            rows.append(("zygote up and its spare settled, after", f"{waited:.1f} s"))
            total = 0.0
            for name, pid in processes:
                figures = memory(pid)
                total += figures["pss"]
                rows.append(
                    (
                        name,
                        f"RSS {figures['rss']:.0f} MB, PSS {figures['pss']:.0f} MB, "
                        f"USS {figures['uss']:.0f} MB (pid {pid})",
                    )
                )
            rows.append(("PSS of all these together", f"{total:.0f} MB"))
        finally:
            live.stop()
    rows.append(("load average (1, 5, 15 min) at the end", _load(os.getloadavg())))
    report(
        f"Memory of a server and one agent with a warm `full` zygote "
        f"({datetime.now().date().isoformat()})",
        rows,
    )


def _load(values: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    main()
