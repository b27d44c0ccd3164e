"""The no-op against the floor: playbooks/mirror.yml on a converged account vs a one-task playbook.

    .venv/bin/python -m bench.floor [--n 200] [--m 40] [--runs 5] [--warmup 1] [--floors ping,aws]
                                    [--timer-cmd 'TOOL ... {b} -- {a}']

Builds the world (bench/world.py: N sources, M instances, R rules) on the bench
moto server, converges it once (checked: every mirror and link made), then
times, in turn (A B C A B C ...; warm-up rounds not counted):

mirror     ``ansible-playbook playbooks/mirror.yml -e mirror_classic_vpc_id=default``: the no-op
           (checked after every run: 0 mutating calls at the server)
ping       ``ansible-playbook bench/floors/ping.yml``: one task, ansible.builtin.ping on localhost --
           ansible-playbook's own start and one module process (AnsiballZ, the interpreter)
aws        ``ansible-playbook bench/floors/aws.yml``: one task, amazon.aws.ec2_vpc_net_info -- the same
           plus the boto3/botocore import, a client and one DescribeVpcs: the least any run that
           touches EC2 pays

all with the same environment (bench/measure.py ``aws_env``: fake credentials, the moto endpoint, the
dev collection path, the profile_tasks callback), from the repository root. Each run is timed from
outside as a whole process (bench/timing.py: wall, user+sys of the whole tree, peak RSS of the
largest process); the ratios mirror/ping and mirror/aws are taken round by round. The target
(issue 12): the no-op at N=200, M=40 takes at most 2x the floor (median wall ratio).

``--timer-cmd`` additionally runs an external whole-process timer on the same commands and keeps
its raw output in the report: a template split like a shell line, where the word ``{a}`` becomes the
mirror command and ``{b}`` one word holding a floor command (one call per floor); both commands are
``env -i VAR=... ansible-playbook ...``, so the timer needs no environment of its own. The commands,
with that environment, are also written to ``bench/results/floor-commands.sh``.

Results: printed, and bench/results/floor-latest.md / .json (and a stamped copy; git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from bench import timing, world
from bench.measure import REPO_ROOT, VENV_BIN, HarnessProcess, _task_times, aws_env, process_cpu_s, run_playbook
from bench.run import machine_info

FLOORS = {
    "ping": ["bench/floors/ping.yml"],
    "aws": ["bench/floors/aws.yml"],
}
MIRROR_ARGS = ["playbooks/mirror.yml", "-e", "mirror_classic_vpc_id=default"]
MOTO_OPTIONS = ["--sg-cache", "--fast-picker", "--sg-index", "--dispatch-cache"]


def env_command(argv: List[str], env: Dict[str, str]) -> List[str]:
    """``env -i VAR=value ... argv``: the command with its whole environment, for an external timer."""
    return ["env", "-i", *("%s=%s" % item for item in sorted(env.items())), *argv]


def external(template: str, a: List[str], b: List[str], log_dir: Path, name: str) -> Dict[str, Any]:
    words: List[str] = []
    for word in shlex.split(template):
        if word == "{a}":
            words.extend(a)
        elif word == "{b}":
            words.append(shlex.join(b))
        else:
            words.append(word)
    started = time.perf_counter()
    proc = subprocess.run(words, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    text = proc.stdout + proc.stderr
    (log_dir / ("external-%s.txt" % name)).write_text(text)
    return {"floor": name, "rc": proc.returncode, "elapsed_s": round(time.perf_counter() - started, 1),
            "template": template, "output": text}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--n", type=int, default=200, help="source groups (default %(default)s)")
    parser.add_argument("--m", type=int, default=40, help="member instances (default %(default)s)")
    parser.add_argument("--rules", type=int, default=10, help="rules per source (default %(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="counted rounds (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=1, help="rounds not counted (default %(default)s)")
    parser.add_argument("--floors", default="ping,aws", help="floors out of %s (default %%(default)s)" % ",".join(FLOORS))
    parser.add_argument("--target", type=float, default=2.0, help="the limit of the median wall ratio (default %(default)s)")
    parser.add_argument("--timer-cmd", help="an external whole-process timer, e.g. '/path/timer -n 5 --vs {b} -- {a}'")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results", help="results directory")
    args = parser.parse_args(argv)
    floors = [name.strip() for name in args.floors.split(",") if name.strip()]
    unknown = set(floors) - set(FLOORS)
    if unknown or not floors:
        parser.error("--floors: choose among %s" % ", ".join(FLOORS))

    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_dir = args.out / ("%s-floor-logs" % stamp)
    log_dir.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    info["command"] = shlex.join([".venv/bin/python", "-m", "bench.floor"] + (argv if argv is not None else sys.argv[1:]))
    started = time.perf_counter()
    server = HarnessProcess(log_dir / "moto-harness.log", tag_index=True, options=MOTO_OPTIONS)
    info["moto_fixes"] = server.options
    document: Dict[str, Any] = {"machine": info, "point": {"n": args.n, "m": args.m, "rules": args.rules}}
    try:
        ec2 = world.ec2_client(server.url)
        server.harness.reset()
        built = time.perf_counter()
        env_world = world.build(ec2, args.n, args.m, args.rules)
        document["setup_s"] = round(time.perf_counter() - built, 1)
        env = aws_env(server.url)
        converge = run_playbook("floor-converge", MIRROR_ARGS, env, server.harness, log_dir, server_pid=server.proc.pid)
        pages = ec2.get_paginator("describe_security_groups").paginate(
            Filters=[{"Name": "vpc-id", "Values": [env_world.vpc_id]}]).build_full_result()
        mirrors = sum(1 for g in pages["SecurityGroups"] if g["GroupName"].startswith(world.NAME_PREFIX + "-src-"))
        links = len(server.harness.classiclink_links())
        document["converge"] = {"rc": converge.rc, "wall_s": round(converge.wall_s, 2), "mutating": converge.calls_mutating,
                                "mirrors": mirrors, "links": links}
        print("converge: rc=%d wall %.1f s, %d mutating calls, %d mirrors, %d links (setup %.1f s)" % (
            converge.rc, converge.wall_s, converge.calls_mutating, mirrors, links, document["setup_s"]), flush=True)
        if converge.rc != 0 or mirrors != args.n or links != args.m:
            print("the world did not converge; see %s" % converge.log, file=sys.stderr)
            return 2

        playbook = str(VENV_BIN / "ansible-playbook")
        commands = {"mirror": [playbook, *MIRROR_ARGS], **{name: [playbook, *FLOORS[name]] for name in floors}}
        server_cpu = {"before": process_cpu_s(server.proc.pid)}

        def between(name: str, _run: timing.Run) -> Dict[str, Any]:
            calls = server.harness.calls()
            server.harness.reset_calls()
            cpu = process_cpu_s(server.proc.pid)
            extra = {"calls": len(calls), "mutating": sum(1 for c in calls if c["mutating"]),
                     "moto_cpu_s": round(cpu - server_cpu["before"], 2)}
            server_cpu["before"] = cpu
            return extra

        server.harness.reset_calls()
        server_cpu["before"] = process_cpu_s(server.proc.pid)
        result = timing.paired(commands, env, REPO_ROOT, log_dir, runs=args.runs, warmup=args.warmup, between=between,
                               progress=lambda line: print(line, flush=True))
        document["timing"] = result
        document["tasks"] = {}  # profile_tasks of each command's last run: where its time goes
        for name in commands:
            text = (log_dir / ("%s.log" % name)).read_text(errors="replace")
            document["tasks"][name] = _task_times(text.rsplit("\n$ ", 1)[-1])
        bad = [(r["round"], name) for r in result["rounds"] for name in commands if r[name]["rc"] != 0]
        noop_mutating = sum(r["mirror"]["mutating"] for r in result["rounds"])
        document["checks"] = {"failed_runs": bad, "noop_mutating_calls": noop_mutating,
                              "noop_calls": [r["mirror"]["calls"] for r in result["rounds"]]}
        document["verdicts"] = {
            key: {"median_wall_ratio": ratio["wall"]["median"], "limit": args.target,
                  "status": "PASS" if ratio["wall"]["median"] <= args.target else "FAIL"}
            for key, ratio in result["ratios"].items()}

        script = ["#!/bin/sh", "# the commands bench.floor timed (the moto server of that run is gone: start one and",
                  "# change AWS_ENDPOINT_URL/AWS_URL to reuse them); cd %s first" % REPO_ROOT]
        script += ["%s=%s" % (name, shlex.quote(shlex.join(env_command(argv_, env)))) for name, argv_ in commands.items()]
        (args.out / "floor-commands.sh").write_text("\n".join(script) + "\n")
        if args.timer_cmd:
            document["external"] = []
            for name in floors:
                print("external timer: mirror vs %s ..." % name, flush=True)
                document["external"].append(
                    external(args.timer_cmd, env_command(commands["mirror"], env), env_command(commands[name], env), log_dir, name))
    finally:
        server.stop()
        info["elapsed_s"] = round(time.perf_counter() - started, 1)
        info["loadavg_end"] = os.getloadavg()
    text = markdown(document)
    for name in ("%s-floor" % stamp, "floor-latest"):
        (args.out / (name + ".json")).write_text(json.dumps(document, indent=2, default=str) + "\n")
        (args.out / (name + ".md")).write_text(text)
    print()
    print(text)
    print("written: %s" % (args.out / ("%s-floor.md" % stamp)))
    return 2 if document.get("checks", {}).get("failed_runs") or document.get("checks", {}).get("noop_mutating_calls") else 0


def markdown(document: Dict[str, Any]) -> str:
    info, point = document["machine"], document["point"]
    lines = ["# No-op against the floor (issue 12)", "",
             "`%s` -- %s, %s CPUs, Python %s, %s; load average at start %.2f, at end %.2f; %.0f s in all; moto: %s." % (
                 info["command"], info["date"], info["cpus"], info["python"],
                 ", ".join("%s %s" % item for item in info["versions"].items()), info["loadavg_start"][0],
                 info.get("loadavg_end", [0])[0], info.get("elapsed_s", 0), " ".join(info.get("moto_fixes", []))),
             "", "World: N=%(n)d sources, M=%(m)d instances, R=%(rules)d rules; " % point + (
                 "converged once first: %s." % ", ".join("%s %s" % item for item in document.get("converge", {}).items())),
             ""]
    result = document.get("timing")
    if not result:
        return "\n".join(lines + ["(no timing: the run stopped early)"]) + "\n"
    lines += timing.markdown(result)
    lines += ["", "| target | median wall ratio | limit | status |", "| --- | ---: | ---: | --- |"]
    for key, verdict in document["verdicts"].items():
        lines.append("| no-op N=%d M=%d vs floor (%s) | %.2fx | %.1fx | %s |" % (
            point["n"], point["m"], key, verdict["median_wall_ratio"], verdict["limit"], verdict["status"]))
    checks = document["checks"]
    lines += ["", "Checks: %d mutating calls over the no-op runs (must be 0); calls per no-op run: %s; failed runs: %s." % (
        checks["noop_mutating_calls"], checks["noop_calls"], checks["failed_runs"] or "none"), "",
        "Every run (wall and CPU s are the whole process tree, from outside; load: 1-minute load average at its "
        "start; moto CPU: the server's CPU since the previous run ended):", "",
        "| round | command | wall s | CPU s | user s | sys s | peak MB | rc | calls | mutating | moto CPU s | load |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for entry in result["rounds"]:
        for name in result["commands"]:
            run = entry[name]
            lines.append("| %d | %s | %.2f | %.2f | %.2f | %.2f | %.0f | %d | %d | %d | %.2f | %.2f |" % (
                entry["round"], name, run["wall_s"], run["cpu_s"], run["user_s"], run["sys_s"], run["maxrss_mb"],
                run["rc"], run["calls"], run["mutating"], run["moto_cpu_s"], run["load1"]))
    if document.get("tasks"):
        lines += ["", "Tasks of each command's last run (profile_tasks, seconds; the rest of its wall time is "
                  "ansible-playbook's start and end):", ""]
        for name, tasks in document["tasks"].items():
            lines.append("- %s: %s" % (name, "; ".join("%s %.2f" % (task[:60], sec) for task, sec in
                                                       sorted(tasks.items(), key=lambda item: -item[1])) or "none"))
    lines += ["", "Commands (from the repository root, environment of bench/measure.py aws_env; all in "
              "bench/results/floor-commands.sh):", ""]
    lines += ["- %s: `%s`" % (name, shlex.join(argv)) for name, argv in result["commands"].items()]
    for ext in document.get("external", []):
        heading = "External timer, mirror vs %s (rc=%d, %.0f s): `%s`" % (ext["floor"], ext["rc"], ext["elapsed_s"], ext["template"])
        lines += ["", heading, "", "```", ext["output"].rstrip(), "```"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
