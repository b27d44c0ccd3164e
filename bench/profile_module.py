"""Profile one module run (cProfile) on a bench environment, outside ansible-playbook.

    .venv/bin/python -m bench.profile_module --n 1000 --m 200 [--module classiclink_mirror_group]
        [--converge-first] [--latency-ms 50] [--concurrency 16] [--top 30]

Builds the environment (bench/world.py) on a fresh moto harness subprocess,
optionally converges it once with the playbook (``--converge-first``: profile a
no-op), then runs the module file the way Ansible's "direct" mode does
(``python -m ansible_collections.classiclink.mirror.plugins.modules.NAME args.json``)
under cProfile, and prints the calls counted at the server and the top functions
by cumulative and by own time. The raw profile is kept next to the results
(``bench/results/profile-*.prof``, for snakeviz / pstats).
"""

from __future__ import annotations

import argparse
import io
import json
import pstats
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict

from bench import world
from bench.measure import REPO_ROOT, VENV_BIN, HarnessProcess, aws_env, run_playbook, start_latency_proxy

MODULE_ARGS: Dict[str, Dict[str, Any]] = {
    "classiclink_mirror_group": {"all_sources": True, "link_instances": True, "classic_vpc_id": "default"},  # the role's one call
    "classiclink_instance_link": {"classic_vpc_id": "default"},
    "classiclink_mirror_info": {"classic_vpc_id": "default", "instances": True},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_module", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--m", type=int, default=200)
    parser.add_argument("--rules", type=int, default=10)
    parser.add_argument("--module", choices=sorted(MODULE_ARGS), default="classiclink_mirror_group")
    parser.add_argument("--converge-first", action="store_true", help="run playbooks/mirror.yml once first")
    parser.add_argument("--check", action="store_true", help="run the module in check mode")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--moto-stock", action="store_true", help="moto without the bench tag index")
    args = parser.parse_args(argv)

    out = REPO_ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    server = HarnessProcess(out / ("profile-%s-harness.log" % stamp), tag_index=not args.moto_stock)
    proxy = None
    try:
        ec2 = world.ec2_client(server.url)
        server.harness.reset()
        built = time.perf_counter()
        world.build(ec2, args.n, args.m, args.rules)
        print("environment N=%d M=%d R=%d built in %.1f s" % (args.n, args.m, args.rules, time.perf_counter() - built))
        if args.converge_first:
            first = run_playbook("profile-%s-converge" % stamp, ["playbooks/mirror.yml", "-e", "mirror_classic_vpc_id=default"],
                                 aws_env(server.url), server.harness, out)
            print("converged first: %.1f s, rc=%d" % (first.wall_s, first.rc))
        if args.latency_ms:
            proxy = start_latency_proxy(server.url, args.latency_ms)
        env = aws_env(proxy.url if proxy else server.url)
        env["PYTHONPATH"] = str(REPO_ROOT / ".collections")
        module_args = dict(MODULE_ARGS[args.module], _ansible_check_mode=args.check)
        if args.concurrency:
            module_args["concurrency"] = args.concurrency
        prof = out / ("profile-%s-%s.prof" % (stamp, args.module))
        with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
            args_file = Path(tmp) / "args.json"
            args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": module_args}))
            server.harness.reset_calls()
            start = time.perf_counter()
            proc = subprocess.run(
                [str(VENV_BIN / "python"), "-m", "cProfile", "-o", str(prof), "-m",
                 "ansible_collections.classiclink.mirror.plugins.modules.%s" % args.module, str(args_file)],
                cwd=tmp, env=env, capture_output=True, text=True, timeout=1800, check=False)
            wall = time.perf_counter() - start
        calls = server.harness.calls()
        try:
            result = json.loads(proc.stdout[proc.stdout.index("{"):])
        except ValueError:
            result = {"stdout": proc.stdout[-2000:], "stderr": proc.stderr[-2000:]}
        print("%s: rc=%d, %.2f s under cProfile, changed=%s, failed=%s" % (
            args.module, proc.returncode, wall, result.get("changed"), result.get("failed", False)))
        if result.get("failed") or proc.returncode:
            print(str(result.get("msg") or result)[:2000])
        print("calls at the server: %d (%d mutating): %s" % (
            len(calls), sum(1 for c in calls if c["mutating"]),
            ", ".join("%s %d" % item for item in sorted(Counter(c["action"] for c in calls).items()))))
        stream = io.StringIO()
        stats = pstats.Stats(str(prof), stream=stream)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
        print(stream.getvalue())
        print("profile: %s" % prof.relative_to(REPO_ROOT))
    finally:
        if proxy:
            proxy.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
