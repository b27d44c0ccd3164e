"""Whole-process timing of commands, repeated and paired (stdlib only).

Each run is one ``subprocess.Popen`` reaped with ``os.wait4``: wall seconds
from a monotonic clock read just before the start and just after the reaping;
user and system seconds, and the peak RSS of the largest single process, are
the kernel's accounting of the command and every descendant it waited for
(what ``/usr/bin/time -v`` prints). ``paired`` runs A and its yardsticks in
turn (A B C A B C ...), after warm-up rounds that are not counted, and takes
each ratio round by round, so that a machine whose speed drifts during the
measurement moves A and B together. Quote the MEDIAN; min and max show the
spread (a wide one means a noisy machine).
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence


@dataclass
class Run:
    name: str
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_mb: float
    rc: int
    load1: float  # 1-minute load average at the start

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


def run_once(name: str, argv: Sequence[str], env: Dict[str, str], cwd: Path, log_path: Path,
             timeout: float = 3600.0) -> Run:
    """Run ``argv`` once; its output is appended to ``log_path``."""
    load = os.getloadavg()[0]
    with open(log_path, "a", encoding="utf-8") as log:
        log.write("\n$ %s\n" % shlex.join(argv))
        log.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
            time.sleep(0.01)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(name, wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss / 1024.0, proc.returncode, load)


def summary(values: Sequence[float]) -> Dict[str, float]:
    values = list(values)
    if not values:
        return {"min": 0.0, "median": 0.0, "max": 0.0}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def paired(commands: Dict[str, Sequence[str]], env: Dict[str, str], cwd: Path, log_dir: Path, runs: int = 5,
           warmup: int = 1, between: Optional[Callable[[str, Run], Dict[str, Any]]] = None,
           progress: Callable[[str], None] = print) -> Dict[str, Any]:
    """Run every command of ``commands`` (the first is A, the others its yardsticks) in turn, ``warmup`` + ``runs``
    rounds. ``between(name, run)`` is called after each counted run (outside its timing) and its dict is kept
    beside the run (e.g. the calls the server counted). Returns rounds, per-command summaries and ratios A/X."""
    names = list(commands)
    rounds: List[Dict[str, Any]] = []
    for index in range(warmup + runs):
        counted = index >= warmup
        entry: Dict[str, Any] = {"round": index - warmup + 1 if counted else 0, "warmup": not counted}
        for name in names:
            run = run_once(name, commands[name], env, cwd, log_dir / ("%s.log" % name))
            extra = between(name, run) if between else {}
            entry[name] = {**asdict(run), "cpu_s": run.cpu_s, **(extra or {})}
            progress("%-9s %-10s wall %7.2f s  cpu %6.2f s (user %6.2f, sys %5.2f)  peak %6.1f MB  rc=%d  load %.2f%s" % (
                "round %d" % entry["round"] if counted else "warm-up", name, run.wall_s, run.cpu_s, run.user_s,
                run.sys_s, run.maxrss_mb, run.rc, run.load1,
                "".join("  %s=%s" % item for item in (extra or {}).items())))
        if counted:
            rounds.append(entry)
    a = names[0]
    result: Dict[str, Any] = {"commands": {name: list(argv) for name, argv in commands.items()}, "rounds": rounds,
                              "runs": runs, "warmup": warmup, "summary": {}, "ratios": {}}
    for name in names:
        result["summary"][name] = {key: summary([r[name][key] for r in rounds])
                                   for key in ("wall_s", "cpu_s", "user_s", "sys_s", "maxrss_mb")}
    for name in names[1:]:
        result["ratios"]["%s/%s" % (a, name)] = {
            "wall": summary([r[a]["wall_s"] / r[name]["wall_s"] for r in rounds if r[name]["wall_s"] > 0]),
            "cpu": summary([r[a]["cpu_s"] / r[name]["cpu_s"] for r in rounds if r[name]["cpu_s"] > 0]),
        }
    return result


def markdown(result: Dict[str, Any]) -> List[str]:
    """The summary table (min / median / max) and the ratios of a ``paired`` result."""
    lines = ["| command | runs | wall s min / median / max | CPU s min / median / max | peak MB (largest process) |",
             "| --- | ---: | --- | --- | --- |"]
    for name, stats in result["summary"].items():
        lines.append("| %s | %d | %s | %s | %s |" % (
            name, result["runs"], _mmm(stats["wall_s"], 2), _mmm(stats["cpu_s"], 2), _mmm(stats["maxrss_mb"], 0)))
    lines += ["", "peak MB is wait4's ru_maxrss: on Linux a child's includes the image of the process it was forked from "
              "(this bench process, %.0f MB now), so it cannot read below that; an external timer started from a small "
              "process reads the true peak." % (_own_peak_mb()),
              "", "| ratio (round by round) | wall min / median / max | CPU min / median / max |", "| --- | --- | --- |"]
    for name, ratio in result["ratios"].items():
        lines.append("| %s | %s | %s |" % (name, _mmm(ratio["wall"], 2, "x"), _mmm(ratio["cpu"], 2, "x")))
    return lines


def _own_peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _mmm(stats: Dict[str, float], digits: int, unit: str = "") -> str:
    fmt = "%%.%df%s" % (digits, unit)
    return " / ".join(fmt % stats[key] for key in ("min", "median", "max"))
