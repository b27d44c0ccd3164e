"""Benchmark: playbooks/mirror.yml against the amazon.aws way, on the moto harness.

Run from the repository root (not part of the test suite)::

    .venv/bin/python -m bench.run                      # N=50 M=10 R=10, with the amazon.aws baseline
    .venv/bin/python -m bench.run --suite scale        # N = 20, 100, 500, 1000 (M = N/5)
    .venv/bin/python -m bench.run --suite latency      # N=500 M=100, 50 ms per call, concurrency 4, 8, 16
    .venv/bin/python -m bench.run --n 50 --m 10 --rules 10 [--latency-ms 50] [--concurrency 4,16] [--compare-amazon-aws]

Each point (N, M, R, latency, concurrency) gets a fresh moto account and a freshly
built environment (bench/world.py), then the scenarios, in this order:

check     ``--check`` on the unconverged environment (plans everything, changes nothing)
converge  first real run
noop      the same run again on the converged account
drift     10% of the sources changed (one rule added or revoked each), then a run

With ``--compare-amazon-aws`` the account is reset, the same environment rebuilt,
and bench/amazon_aws/mirror.yml run twice (first converge, no-op). Results go to
bench/results/ (git-ignored): a markdown table and JSON per run, ``latest.*`` too.

The moto server runs with the emulator corrections of bench/moto_server.py (a tag
index, cached per-group DescribeSecurityGroups items, a cached attribute picker, a
group index, a dispatch cache: ``--moto-fixes``) unless ``--moto-stock``: stock
moto costs grow with the account in ways no real EC2 does, and would otherwise
dominate the large runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench import report, world
from bench.measure import REPO_ROOT, HarnessProcess, Measurement, aws_env, run_playbook, start_latency_proxy

SCENARIOS = ("check", "converge", "noop", "drift")
# the emulator corrections of bench/moto_server.py (each an option --<name> of it)
MOTO_FIXES = ("tag-index", "sg-cache", "fast-picker", "sg-index", "dispatch-cache")
SUITES: Dict[str, List[Dict[str, Any]]] = {
    "default": [dict(n=50, m=10, compare=True)],
    "scale": [dict(n=n, m=n // 5) for n in (20, 100, 500, 1000)],
    "latency": [dict(n=500, m=100, latency_ms=50, concurrency=c, scenarios=("converge", "noop")) for c in (4, 8, 16)],
}
SUITES["all"] = SUITES["default"] + SUITES["scale"] + SUITES["latency"]


@dataclass(frozen=True)
class Point:
    n: int
    m: int
    rules: int = 10
    latency_ms: int = 0
    concurrency: Optional[int] = None  # None: the role's default
    compare: bool = False
    scenarios: tuple = SCENARIOS
    baseline_passes: int = 2

    @property
    def name(self) -> str:
        parts = ["n%d" % self.n, "m%d" % self.m, "r%d" % self.rules]
        if self.latency_ms:
            parts.append("lat%d" % self.latency_ms)
        if self.concurrency:
            parts.append("c%d" % self.concurrency)
        return "-".join(parts)


def _ints(text: str) -> List[int]:
    return [int(item) for item in str(text).split(",") if item.strip()]


def points_from_args(args: argparse.Namespace) -> List[Point]:
    if args.n is None:
        specs = SUITES[args.suite]
        return [Point(**{"rules": args.rules, "baseline_passes": args.baseline_passes, **spec}) for spec in specs]
    ns = _ints(args.n)
    ms = _ints(args.m) if args.m is not None else [n // 5 for n in ns]
    if len(ms) == 1:
        ms = ms * len(ns)
    if len(ms) != len(ns):
        sys.exit("--m takes one value or as many as --n")
    concurrencies = _ints(args.concurrency) if args.concurrency else [None]
    scenarios = tuple(args.scenarios.split(",")) if args.scenarios else SCENARIOS
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        sys.exit("unknown scenarios: %s" % ", ".join(sorted(unknown)))
    return [
        Point(n, m, args.rules, args.latency_ms, c, args.compare_amazon_aws, scenarios, args.baseline_passes)
        for n, m in zip(ns, ms) for c in concurrencies
    ]


class Bench:
    def __init__(self, out_dir: Path, log_dir: Path, tag_index: bool = True, moto_options: Sequence[str] = ()):
        self.out_dir, self.log_dir = out_dir, log_dir
        self.server = HarnessProcess(log_dir / "moto-harness.log", tag_index=tag_index, options=moto_options)
        self.harness = self.server.harness
        self.ec2 = world.ec2_client(self.server.url)
        self.rows: List[Dict[str, Any]] = []

    def close(self) -> None:
        self.server.stop()

    def fresh_world(self, point: Point) -> tuple:
        self.harness.reset()
        start = time.perf_counter()
        env = world.build(self.ec2, point.n, point.m, point.rules)
        return env, time.perf_counter() - start

    def record(self, point: Point, tool: str, scenario: str, result: Measurement, **extra: Any) -> None:
        result.extra.update(extra)
        row = {"point": asdict(point), "tool": tool, "scenario": scenario, **asdict(result)}
        self.rows.append(row)
        print(report.progress_line(row), flush=True)

    def mirrors_in(self, vpc_id: str) -> int:
        pages = self.ec2.get_paginator("describe_security_groups").paginate(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]).build_full_result()
        return sum(1 for group in pages["SecurityGroups"] if group["GroupName"].startswith(world.NAME_PREFIX + "-src-"))

    def run_point(self, point: Point) -> None:
        print("== %s" % point.name, flush=True)
        env_world, setup_s = self.fresh_world(point)
        proxy = start_latency_proxy(self.server.url, point.latency_ms) if point.latency_ms else None
        try:
            env = aws_env(proxy.url if proxy else self.server.url)
            base = ["playbooks/mirror.yml", "-e", "mirror_classic_vpc_id=default"]
            if point.concurrency:
                base += ["-e", "mirror_concurrency=%d" % point.concurrency]
            for scenario in point.scenarios:
                extra: Dict[str, Any] = {"setup_s": round(setup_s, 2)} if scenario == point.scenarios[0] else {}
                args = list(base)
                if scenario == "check":
                    args.append("--check")
                if scenario == "drift":
                    extra["changed_sources"] = len(world.drift(self.ec2, env_world))
                label = "%s-mirror-%s" % (point.name, scenario)
                result = run_playbook(label, args, env, self.harness, self.log_dir, server_pid=self.server.proc.pid)
                if scenario == "converge":
                    extra["mirrors"] = self.mirrors_in(env_world.vpc_id)
                    extra["links"] = len(self.harness.classiclink_links())
                self.record(point, "classiclink.mirror", scenario, result, **extra)
        finally:
            if proxy:
                self.record_proxy(proxy)
        if point.compare:
            self.run_baseline(point)

    def record_proxy(self, proxy: Any) -> None:
        try:
            stats = proxy.stats()
        finally:
            proxy.stop()
        if self.rows:
            self.rows[-1]["extra"]["proxy_stats"] = stats if isinstance(stats, dict) else repr(stats)

    def run_baseline(self, point: Point) -> None:
        env_world, setup_s = self.fresh_world(point)
        proxy = start_latency_proxy(self.server.url, point.latency_ms) if point.latency_ms else None
        try:
            env = aws_env(proxy.url if proxy else self.server.url)
            args = ["bench/amazon_aws/mirror.yml", "-e", "bench_classic_vpc_id=%s" % env_world.classic_vpc_id,
                    "-e", "bench_target_vpc_id=%s" % env_world.vpc_id, "-e", "bench_passes=%d" % point.baseline_passes]
            for scenario in ("converge", "noop"):
                label = "%s-amazon_aws-%s" % (point.name, scenario)
                result = run_playbook(label, args, env, self.harness, self.log_dir, server_pid=self.server.proc.pid)
                extra = {"setup_s": round(setup_s, 2)} if scenario == "converge" else {}
                if scenario == "converge":
                    extra["mirrors"] = self.mirrors_in(env_world.vpc_id)
                self.record(point, "amazon.aws", scenario, result, **extra)
        finally:
            if proxy:
                self.record_proxy(proxy)


def machine_info() -> Dict[str, Any]:
    from importlib.metadata import version

    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "versions": {pkg: version(pkg) for pkg in ("ansible-core", "ansible", "boto3", "moto")},
        "loadavg_start": os.getloadavg(),
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="default",
                        help="preset points, used when --n is not given (default: %(default)s)")
    parser.add_argument("--n", help="source groups; a comma list runs several points (e.g. 20,100,500,1000)")
    parser.add_argument("--m", help="member instances, one value or one per --n (default N/5)")
    parser.add_argument("--rules", type=int, default=10, help="rules per source group (default %(default)s)")
    parser.add_argument("--latency-ms", type=int, default=0, help="per-call latency through tests/support/aws_proxy.py")
    parser.add_argument("--concurrency", help="mirror_concurrency values, a comma list (default: the role's)")
    parser.add_argument("--scenarios", help="comma list out of %s (default: all)" % ",".join(SCENARIOS))
    parser.add_argument("--compare-amazon-aws", action="store_true", help="also run bench/amazon_aws/mirror.yml")
    parser.add_argument("--baseline-passes", type=int, choices=(1, 2), default=2,
                        help="amazon.aws baseline: 2 loops (mirrors, then rules; correct) or 1 loop (group_name "
                             "references; needs a second run to converge) (default %(default)s)")
    parser.add_argument("--moto-stock", action="store_true",
                        help="run moto as shipped: without the tag index of bench/moto_server.py, whose O(groups x tags) "
                             "tag look-up then dominates the wall time from N=500 on")
    parser.add_argument("--moto-fixes", default=",".join(MOTO_FIXES),
                        help="the emulator corrections of bench/moto_server.py to run with, a comma list out of "
                             "%s, or 'none' (default: all; --moto-stock: none)" % ", ".join(MOTO_FIXES))
    parser.add_argument("--moto-profile", action="store_true",
                        help="cProfile the moto server, one file per run (and per world build) in the log directory")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results", help="results directory")
    args = parser.parse_args(argv)

    points = points_from_args(args)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    label = args.suite if args.n is None else "custom"
    log_dir = args.out / ("%s-%s-logs" % (stamp, label))
    log_dir.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    started = time.perf_counter()
    fixes = [] if args.moto_stock else [f.strip() for f in args.moto_fixes.split(",") if f.strip() not in ("", "none")]
    unknown = set(fixes) - set(MOTO_FIXES)
    if unknown:
        sys.exit("unknown --moto-fixes: %s" % ", ".join(sorted(unknown)))
    info["moto_tag_index"] = "tag-index" in fixes
    info["moto_fixes"] = fixes
    bench = Bench(args.out, log_dir, tag_index="tag-index" in fixes,
                  moto_options=["--" + fix for fix in fixes if fix != "tag-index"]
                  + (["--profile", str(log_dir / "moto")] if args.moto_profile else []))
    try:
        for point in points:
            bench.run_point(point)
    finally:
        bench.close()
        info["elapsed_s"] = round(time.perf_counter() - started, 1)
        info["loadavg_end"] = os.getloadavg()
        info["command"] = " ".join([".venv/bin/python -m bench.run"] + (argv if argv is not None else sys.argv[1:]))
        document = {"machine": info, "rows": bench.rows, "targets": report.evaluate(bench.rows)}
        markdown = report.markdown(document)
        for name in ("%s-%s" % (stamp, label), "latest"):
            (args.out / (name + ".json")).write_text(json.dumps(document, indent=2, default=str) + "\n")
            (args.out / (name + ".md")).write_text(markdown)
        print()
        print(markdown)
        print("written: %s" % (args.out / ("%s-%s.md" % (stamp, label))))
    if any(row["rc"] != 0 for row in bench.rows):
        return 2
    failed = [target for target in document["targets"] if target["status"] == "FAIL"]
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
