"""Organization scale: many scopes (account x region) in one ansible-playbook run.

    .venv/bin/python -m bench.scopes [--accounts 10] [--regions us-east-1,us-west-2,eu-west-1,eu-central-1,ap-southeast-2]
                                     [--n 20] [--m 4] [--forks 25] [--noop-runs 1] [--sample-ms 200]

One bench moto server (bench/moto_server.py, with its emulator corrections and
the account of every call recorded). For each scope (account, region) the
bench assumes ``arn:aws:iam::<account>:role/classiclink-mirror`` through moto's
STS (whose AssumeRole returns credentials of the role's account) and builds
the bench world there (bench/world.py: N sources, M instances, R rules; the
scopes are built concurrently). The inventory is the real scopes inventory
file, as users write it::

    plugin: classiclink.mirror.scopes
    accounts: ['200000000001', ...]
    regions: [us-east-1, ...]
    role_arn: arn:aws:iam::{account}:role/classiclink-mirror

and the run is ``ansible-playbook -i <that file> playbooks/mirror.yml -e
mirror_classic_vpc_id=default --forks F``, so each scope's module assumes its
role itself (options role_arn and account_id of classiclink_mirror_group).

Runs: ``converge`` (the first real run), then ``noop`` (``--noop-runs`` times).
Each is checked: every host ok (PLAY RECAP), after the converge every scope has
its N mirrors and M ClassicLinks, and a no-op makes 0 mutating calls in every
scope.

Figures per run:

wall            ansible-playbook from start to exit
CPU tree        user+sys of ansible-playbook and every descendant it reaped (os.wait4): exact
CPU / scope     CPU tree / scopes
controller      the ansible-playbook main process (sampled /proc, its own CPU at its last sample)
workers         the forked worker processes (templating, the task executor, waiting)
modules         the module processes (python AnsiballZ_*), the scopes' real work
                (controller, workers and modules are sampled every --sample-ms, so a process that
                lived less than one interval is missed: their sum is at most CPU tree)
moto CPU        the moto server process: the emulated AWS, not the collection
peak RSS sum    the largest sum of VmRSS over the live tree at one sample (counts the pages that forked
                workers share with the controller once per process: an upper bound)
peak PSS sum    the largest sum of Pss (/proc/PID/smaps_rollup) over the live tree at one sample
                (shared pages divided among their sharers: the tree's real footprint)
controller RSS  the main process's VmHWM (its own high-water mark)
largest RSS     ru_maxrss of wait4: the largest single process of the tree
calls           counted at the moto server, per scope (account, region): mutating and total

Results: printed (one line per run, then a markdown table with the targets of
issue 12), and bench/results/scopes-latest.md / .json (and stamped copies, with
every playbook log; git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import boto3
from botocore.config import Config

from bench import world
from bench.measure import REPO_ROOT, VENV_BIN, HarnessProcess, aws_env, process_cpu_s
from bench.run import machine_info

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
ROLE = "arn:aws:iam::{account}:role/classiclink-mirror"
MOTO_OPTIONS = ["--sg-cache", "--fast-picker", "--sg-index", "--dispatch-cache", "--record-account"]
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")
_RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
TARGETS = {"noop": 60.0, "converge": 120.0}  # seconds, issue 12, 50 scopes x N=20 on 2 cores
MEMORY_TARGET_MB = 1024.0


def account_ids(count: int) -> List[str]:
    return ["2%011d" % (i + 1) for i in range(count)]


def scope_client(endpoint: str, account: str, region: str, service: str = "ec2") -> Any:
    """A client with the credentials of the scope's role (moto STS AssumeRole), on the scope's region."""
    config = Config(retries={"mode": "standard", "total_max_attempts": 3}, max_pool_connections=4)
    base = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
    creds = base.client("sts", endpoint_url=endpoint, config=config).assume_role(
        RoleArn=ROLE.format(account=account), RoleSessionName="bench-world")["Credentials"]
    return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["SessionToken"], region_name=region).client(
        service, endpoint_url=endpoint, config=config)


# ------------------------------------------------------------------ the process tree, sampled from /proc
def _stat(pid: int) -> Optional[Tuple[int, int, float, int]]:
    """(ppid, start time, cpu seconds, rss bytes) of a live process."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[19]), (int(fields[11]) + int(fields[12])) / _TICK, int(fields[21]) * _PAGE


def _pss(pid: int) -> int:
    try:
        with open("/proc/%d/smaps_rollup" % pid, "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _hwm(pid: int) -> int:
    try:
        with open("/proc/%d/status" % pid, "rb") as handle:
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _kind(pid: int, root: int, ppid: int) -> str:
    if pid == root:
        return "controller"
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read()
    except OSError:
        return "other"
    if b"AnsiballZ_" in cmdline and not cmdline.startswith(b"/bin/sh"):
        return "module"
    if ppid == root and b"ansible-playbook" in cmdline:
        return "worker"
    return "other"


class TreeSampler(threading.Thread):
    """Every ``interval`` s: the live tree of ``root`` (CPU per process, RSS and PSS sums, the root's VmHWM)."""

    def __init__(self, root: int, interval: float):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.cpu: Dict[Tuple[int, int], Tuple[str, float]] = {}  # (pid, start) -> (kind, last cpu seen)
        self.kinds: Dict[Tuple[int, int], str] = {}
        self.peak_rss = self.peak_pss = self.peak_ansible_pss = self.root_hwm = 0
        self.peak_processes = self.samples = 0
        self.max_rss: Dict[str, int] = Counter()  # largest single process seen, by kind
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def sample(self) -> None:
        stats: Dict[int, Tuple[int, int, float, int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                found = _stat(int(entry))
                if found:
                    stats[int(entry)] = found
        children: Dict[int, List[int]] = defaultdict(list)
        for pid, (ppid, _start, _cpu, _rss) in stats.items():
            children[ppid].append(pid)
        if self.root not in stats:
            return
        tree, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, ()))
        rss = pss = ansible_pss = 0
        for pid in tree:
            ppid, start, cpu, pid_rss = stats[pid]
            key = (pid, start)
            if key not in self.kinds:
                self.kinds[key] = _kind(pid, self.root, ppid)
            self.cpu[key] = (self.kinds[key], cpu)
            self.max_rss[self.kinds[key]] = max(self.max_rss[self.kinds[key]], pid_rss)
            rss += pid_rss
            pid_pss = _pss(pid)
            pss += pid_pss
            if self.kinds[key] in ("controller", "worker"):
                ansible_pss += pid_pss
        self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
        self.peak_ansible_pss = max(self.peak_ansible_pss, ansible_pss)
        self.root_hwm = max(self.root_hwm, _hwm(self.root))
        self.peak_processes = max(self.peak_processes, len(tree))
        self.samples += 1

    def stop(self) -> Dict[str, Any]:
        self._halt.set()
        self.join()
        by_kind: Dict[str, float] = Counter()
        count: Dict[str, int] = Counter()
        for kind, cpu in self.cpu.values():
            by_kind[kind] += cpu
            count[kind] += 1
        return {"cpu_by_kind_s": {k: round(v, 2) for k, v in sorted(by_kind.items())},
                "processes_by_kind": dict(sorted(count.items())),
                "max_rss_by_kind_mb": {k: round(v / 2 ** 20, 1) for k, v in sorted(self.max_rss.items())}, "peak_rss_sum_mb": round(self.peak_rss / 2 ** 20, 1),
                "peak_pss_sum_mb": round(self.peak_pss / 2 ** 20, 1),
                "peak_ansible_pss_mb": round(self.peak_ansible_pss / 2 ** 20, 1), "controller_hwm_mb": round(self.root_hwm / 2 ** 20, 1),
                "peak_processes": self.peak_processes, "samples": self.samples}


# ------------------------------------------------------------------ the bench
class ScopesBench:
    def __init__(self, args: argparse.Namespace, log_dir: Path):
        self.args, self.log_dir = args, log_dir
        self.accounts = account_ids(args.accounts)
        self.regions = [r.strip() for r in args.regions.split(",") if r.strip()]
        self.scopes = [(a, r) for a in self.accounts for r in self.regions]
        self.server = HarnessProcess(log_dir / "moto-harness.log", tag_index=True, options=MOTO_OPTIONS)
        self.harness = self.server.harness
        self.worlds: Dict[Tuple[str, str], world.BenchWorld] = {}
        self.clients: Dict[Tuple[str, str], Any] = {}
        self.inventory = log_dir / "bench-org.scopes.yml"

    def close(self) -> None:
        self.server.stop()

    def build(self) -> float:
        self.harness.reset()
        start = time.perf_counter()

        def one(scope: Tuple[str, str]) -> None:
            client = scope_client(self.server.url, *scope)
            self.clients[scope] = client
            self.worlds[scope] = world.build(client, self.args.n, self.args.m, self.args.rules)

        with ThreadPoolExecutor(self.args.build_threads) as pool:
            list(pool.map(one, self.scopes))
        self.inventory.write_text("\n".join([
            "# the scopes inventory of bench.scopes (as users write it)",
            "plugin: classiclink.mirror.scopes",
            "accounts: [%s]" % ", ".join("'%s'" % a for a in self.accounts),
            "regions: [%s]" % ", ".join(self.regions),
            "role_arn: %s" % ROLE,
        ]) + "\n")
        return time.perf_counter() - start

    def run(self, label: str) -> Dict[str, Any]:
        args = ["-i", str(self.inventory), "playbooks/mirror.yml", "-e", "mirror_classic_vpc_id=default",
                "--forks", str(self.args.forks)]
        self.harness.reset_calls()
        env = aws_env(self.server.url)
        log_path = self.log_dir / ("%s.log" % label)
        load = os.getloadavg()
        moto0 = process_cpu_s(self.server.proc.pid)
        with open(log_path, "w", encoding="utf-8") as log:
            log.write("$ ansible-playbook %s\n" % " ".join(args))
            log.flush()
            start = time.perf_counter()
            proc = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), *args], cwd=REPO_ROOT, env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            sampler = TreeSampler(proc.pid, self.args.sample_ms / 1000.0)
            sampler.start()
            _pid, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            tree = sampler.stop()
        moto_cpu = process_cpu_s(self.server.proc.pid) - moto0
        calls = self.harness.calls(detail=True)
        text = log_path.read_text(errors="replace")
        recap = {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "unreachable": int(m.group(4)),
                              "failed": int(m.group(5))} for m in _RECAP.finditer(text)}
        per_scope: Dict[str, Dict[str, int]] = {"%s-%s" % s: {"calls": 0, "mutating": 0} for s in self.scopes}
        other = Counter()
        ec2 = [call for call in calls if call.get("service") == "ec2"]
        for call in calls:
            key = "%s-%s" % (call.get("account", ""), call.get("region", ""))
            if call.get("service") != "ec2":
                other["%s %s" % (call.get("service"), call.get("action"))] += 1
            elif key in per_scope:
                per_scope[key]["calls"] += 1
                per_scope[key]["mutating"] += int(bool(call["mutating"]))
            else:
                other["%s %s %s" % (key, call.get("service"), call.get("action"))] += 1
        ec2_scope_calls = [v["calls"] for v in per_scope.values()]
        mutating = [v["mutating"] for v in per_scope.values()]
        scopes = len(self.scopes)
        names = set(per_scope)
        cpu = usage.ru_utime + usage.ru_stime
        row = {
            "label": label, "scopes": scopes, "forks": self.args.forks, "n": self.args.n, "m": self.args.m,
            "rc": os.waitstatus_to_exitcode(status), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "user_s": round(usage.ru_utime, 2), "sys_s": round(usage.ru_stime, 2),
            "cpu_per_scope_s": round(cpu / scopes, 3), "moto_cpu_s": round(moto_cpu, 2),
            "largest_rss_mb": round(usage.ru_maxrss / 1024.0, 1), **tree,
            "calls_total": len(ec2), "calls_mutating": sum(1 for c in ec2 if c["mutating"]),
            "calls_per_scope": {"min": min(ec2_scope_calls), "max": max(ec2_scope_calls),
                                "mean": round(sum(ec2_scope_calls) / scopes, 1)},
            "mutating_per_scope": {"min": min(mutating), "max": max(mutating), "mean": round(sum(mutating) / scopes, 1)},
            "calls_not_ec2_or_outside_scopes": dict(other),
            "by_action": dict(sorted(Counter(c["action"] or "?" for c in calls).items())),
            "per_scope": per_scope, "hosts_in_recap": len(names & set(recap)),
            "failed_hosts": sorted(h for h, r in recap.items() if r["failed"] or r["unreachable"]),
            "load_start": [round(x, 2) for x in load], "load_end": [round(x, 2) for x in os.getloadavg()],
            "log": str(log_path),
        }
        return row

    def check_converged(self) -> Dict[str, Any]:
        links = Counter("%s-%s" % (link["account"], link["region"]) for link in self.harness.classiclink_links())

        def mirrors(scope: Tuple[str, str]) -> int:
            pages = self.clients[scope].get_paginator("describe_security_groups").paginate(
                Filters=[{"Name": "vpc-id", "Values": [self.worlds[scope].vpc_id]}]).build_full_result()
            return sum(1 for g in pages["SecurityGroups"] if g["GroupName"].startswith(world.NAME_PREFIX + "-src-"))

        with ThreadPoolExecutor(4) as pool:
            found = dict(zip(self.scopes, pool.map(mirrors, self.scopes)))
        wrong = {"%s-%s" % s: {"mirrors": found[s], "links": links.get("%s-%s" % s, 0)} for s in self.scopes
                 if found[s] != self.args.n or links.get("%s-%s" % s, 0) != self.args.m}
        return {"scopes_converged": len(self.scopes) - len(wrong), "wrong": wrong}


def progress(row: Dict[str, Any]) -> str:
    return ("%-10s wall %6.1f s  CPU %6.1f s (%.2f s/scope; controller %.1f, workers %.1f, modules %.1f)  moto %5.1f s  "
            "peak PSS %6.0f MB RSS %6.0f MB  calls %d (%d mutating)  rc=%d failed=%d  load %.2f" % (
                row["label"], row["wall_s"], row["cpu_s"], row["cpu_per_scope_s"],
                row["cpu_by_kind_s"].get("controller", 0), row["cpu_by_kind_s"].get("worker", 0),
                row["cpu_by_kind_s"].get("module", 0), row["moto_cpu_s"], row["peak_pss_sum_mb"],
                row["peak_rss_sum_mb"], row["calls_total"], row["calls_mutating"], row["rc"], len(row["failed_hosts"]),
                row["load_start"][0]))


def evaluate(document: Dict[str, Any]) -> List[Dict[str, str]]:
    out = []
    for row in document["rows"]:
        kind = row["label"].split("-")[0]
        limit = TARGETS.get(kind)
        where = "%d scopes x N=%d, forks %d" % (row["scopes"], row["n"], row["forks"])
        if limit is not None:
            out.append({"target": "%s wall, %s" % (row["label"], where), "measured": "%.1f s" % row["wall_s"],
                        "limit": "< %.0f s" % limit, "status": "PASS" if row["wall_s"] < limit else "FAIL"})
        out.append({"target": "%s peak memory, the whole tree on the controller (modules included), %s" % (row["label"], where),
                    "measured": "%.0f MB PSS sum (%.0f MB RSS sum, %d processes at most)" % (
                        row["peak_pss_sum_mb"], row["peak_rss_sum_mb"], row["peak_processes"]),
                    "limit": "< %.0f MB" % MEMORY_TARGET_MB,
                    "status": "PASS" if row["peak_pss_sum_mb"] < MEMORY_TARGET_MB else "FAIL"})
        out.append({"target": "%s peak memory, ansible-playbook and its workers (no module process), %s" % (row["label"], where),
                    "measured": "%.0f MB PSS sum; main process %.0f MB (VmHWM)" % (
                        row["peak_ansible_pss_mb"], row["controller_hwm_mb"]),
                    "limit": "< %.0f MB" % MEMORY_TARGET_MB,
                    "status": "PASS" if row["peak_ansible_pss_mb"] < MEMORY_TARGET_MB else "FAIL"})
        ok = row["rc"] == 0 and not row["failed_hosts"] and row["hosts_in_recap"] == row["scopes"]
        out.append({"target": "%s every scope ok" % row["label"], "measured": "rc=%d, %d hosts in the recap, %d failed" % (
            row["rc"], row["hosts_in_recap"], len(row["failed_hosts"])), "limit": "rc=0, %d hosts, 0 failed" % row["scopes"],
            "status": "PASS" if ok else "FAIL"})
        if kind == "noop":
            out.append({"target": "%s: 0 mutating calls in every scope" % row["label"],
                        "measured": "%d mutating; %s reads per scope (min/mean/max)" % (
                            row["calls_mutating"], "/".join(str(row["calls_per_scope"][k]) for k in ("min", "mean", "max"))),
                        "limit": "0", "status": "PASS" if row["calls_mutating"] == 0 else "FAIL"})
        if kind == "converge":
            conv = document.get("converged", {})
            out.append({"target": "converge: every scope has N mirrors and M links",
                        "measured": "%s of %d scopes" % (conv.get("scopes_converged"), row["scopes"]),
                        "limit": "%d" % row["scopes"],
                        "status": "PASS" if conv.get("scopes_converged") == row["scopes"] else "FAIL"})
    return out


def markdown(document: Dict[str, Any]) -> str:
    info, rows = document["machine"], document["rows"]
    lines = ["# Organization scale: scopes in one run (issue 12)", "",
             "`%s` -- %s, %s CPUs, Python %s, %s; load average at start %s, at end %s; %.0f s in all; moto: %s." % (
                 info["command"], info["date"], info["cpus"], info["python"],
                 ", ".join("%s %s" % item for item in info["versions"].items()),
                 "/".join("%.2f" % x for x in info["loadavg_start"]),
                 "/".join("%.2f" % x for x in info.get("loadavg_end", [0, 0, 0])), info.get("elapsed_s", 0),
                 " ".join(info.get("moto_fixes", []))), "",
             "%(scopes)d scopes = %(accounts)d accounts x %(regions)d regions (%(region_list)s); each N=%(n)d sources, "
             "M=%(m)d instances, R=%(rules)d rules; forks %(forks)d; worlds built in %(setup_s).1f s." % document["setup"],
             "Inventory: the scopes inventory file `%s` (role_arn template, accounts and regions lists)." % (
                 document["setup"]["inventory"]), "",
             "| run | wall s | CPU tree s | CPU / scope s | controller s | workers s | modules s | unattributed s | moto CPU s "
             "| peak PSS sum MB | of which ansible MB | peak RSS sum MB | controller HWM MB | largest module MB | calls | mutating "
             "| calls / scope | mutating / scope | failed | load 1/5/15 |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- |"]
    for row in rows:
        kinds = row["cpu_by_kind_s"]
        row_format = ("| %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f | %.0f | %.0f | %.0f | %d | %d "
                      "| %s | %s | %d | %s |")
        lines.append(row_format % (
            row["label"], row["wall_s"], row["cpu_s"], row["cpu_per_scope_s"], kinds.get("controller", 0),
            kinds.get("worker", 0), kinds.get("module", 0), row["cpu_s"] - sum(kinds.values()), row["moto_cpu_s"],
            row["peak_pss_sum_mb"], row["peak_ansible_pss_mb"], row["peak_rss_sum_mb"], row["controller_hwm_mb"],
            row["max_rss_by_kind_mb"].get("module", 0), row["calls_total"],
            row["calls_mutating"], "/".join(str(row["calls_per_scope"][k]) for k in ("min", "mean", "max")),
            "/".join(str(row["mutating_per_scope"][k]) for k in ("min", "mean", "max")), len(row["failed_hosts"]),
            "/".join("%.1f" % x for x in row["load_start"])))
    lines += ["", "CPU tree: user+sys of ansible-playbook and everything it reaped (wait4, exact); controller / workers "
              "/ modules: the same CPU split by process, sampled every %d ms from /proc; unattributed: the rest, "
              "the CPU of processes after their last sample, mostly the short-lived worker forks (ansible forks one "
              "per task and host, ~3 per scope). moto CPU: the emulated AWS. largest module: the largest VmRSS of one "
              "module process (sampled). (wait4's ru_maxrss is not shown: a child's counts the image of the bench "
              "process it was forked from, which holds 50 boto3 clients.) PSS: proportional set size, shared pages divided "
              "among the processes sharing them (the tree's real footprint); of which ansible: ansible-playbook and its forked "
              "workers, without the module processes; RSS sum counts shared pages once per process. calls, mutating: EC2, "
              "at the server. "
              "calls / scope: min/mean/max over the scopes, counted at the server by account and region." % (
                  document["setup"]["sample_ms"]), "", "## Targets", "", "| target | status | measured | limit |",
              "| --- | --- | --- | --- |"]
    lines += ["| %(target)s | %(status)s | %(measured)s | %(limit)s |" % t for t in document["targets"]]
    lines += ["", "## Calls by action", ""]
    for row in rows:
        lines.append("- %s: %s" % (row["label"], ", ".join("%s %d" % item for item in row["by_action"].items())))
        if row["calls_not_ec2_or_outside_scopes"]:
            lines.append("  - not EC2 in a scope (the modules' sts:AssumeRole, made with the credentials the run "
                         "started with): %s" % row["calls_not_ec2_or_outside_scopes"])
    if document.get("converged", {}).get("wrong"):
        lines += ["", "Scopes not converged: %s" % document["converged"]["wrong"]]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scopes", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--accounts", type=int, default=10, help="accounts (default %(default)s)")
    parser.add_argument("--regions", default=",".join(REGIONS), help="regions, a comma list (default %(default)s)")
    parser.add_argument("--n", type=int, default=20, help="source groups per scope (default %(default)s)")
    parser.add_argument("--m", type=int, help="instances per scope (default N/5)")
    parser.add_argument("--rules", type=int, default=10, help="rules per source (default %(default)s)")
    parser.add_argument("--forks", type=int, default=25, help="ansible-playbook --forks (default %(default)s)")
    parser.add_argument("--noop-runs", type=int, default=1, help="no-op runs after the converge (default %(default)s)")
    parser.add_argument("--sample-ms", type=int, default=200, help="process tree sampling interval (default %(default)s)")
    parser.add_argument("--build-threads", type=int, default=8, help="scopes built at once (default %(default)s)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results", help="results directory")
    args = parser.parse_args(argv)
    if args.m is None:
        args.m = args.n // 5

    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_dir = args.out / ("%s-scopes-logs" % stamp)
    log_dir.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    info["command"] = shlex.join([".venv/bin/python", "-m", "bench.scopes"] + (argv if argv is not None else sys.argv[1:]))
    started = time.perf_counter()
    bench = ScopesBench(args, log_dir)
    info["moto_fixes"] = bench.server.options
    document: Dict[str, Any] = {"machine": info, "rows": []}
    try:
        setup_s = bench.build()
        document["setup"] = {"scopes": len(bench.scopes), "accounts": len(bench.accounts), "regions": len(bench.regions),
                             "region_list": ", ".join(bench.regions), "n": args.n, "m": args.m, "rules": args.rules,
                             "forks": args.forks, "setup_s": setup_s, "inventory": str(bench.inventory),
                             "sample_ms": args.sample_ms}
        print("built %d scopes (N=%d M=%d) in %.1f s; load %s" % (len(bench.scopes), args.n, args.m, setup_s,
                                                                  os.getloadavg()), flush=True)
        labels = ["converge"] + ["noop-%d" % (i + 1) if args.noop_runs > 1 else "noop" for i in range(args.noop_runs)]
        for label in labels:
            row = bench.run(label)
            document["rows"].append(row)
            print(progress(row), flush=True)
            if label == "converge":
                document["converged"] = bench.check_converged()
    finally:
        bench.close()
        info["elapsed_s"] = round(time.perf_counter() - started, 1)
        info["loadavg_end"] = os.getloadavg()
    document["targets"] = evaluate(document)
    text = markdown(document)
    for name in ("%s-scopes" % stamp, "scopes-latest"):
        (args.out / (name + ".json")).write_text(json.dumps(document, indent=2, default=str) + "\n")
        (args.out / (name + ".md")).write_text(text)
    print()
    print(text)
    print("written: %s" % (args.out / ("%s-scopes.md" % stamp)))
    if any(row["rc"] != 0 or row["failed_hosts"] for row in document["rows"]):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
