"""Time each describe a run makes, straight against the moto harness (no Ansible).

    .venv/bin/python -m bench.describe_timing --n 1000 --m 200 [--converge-first] [--moto-fixes LIST | --moto-stock]

Separates the emulator's cost from the collection's: the same describes the
modules make (load_snapshot), timed one by one from a plain boto3 client, with
the moto harness process's CPU for each. Used by docs/performance.md.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import world
from bench.measure import REPO_ROOT, HarnessProcess, aws_env, process_cpu_s, run_playbook

TAG_KEYS = ["classiclinkmirror:linkToVPC", "classicmirror:linkToVPC",
            "classiclinkmirror:mirroredFromClassicSecurityGroupId", "classiclinkmirror:mirroredToVpcSecurityGroupId"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.describe_timing")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--m", type=int, default=200)
    parser.add_argument("--rules", type=int, default=10)
    parser.add_argument("--converge-first", action="store_true")
    parser.add_argument("--moto-stock", action="store_true", help="moto without the bench emulator corrections")
    parser.add_argument("--moto-fixes", default="tag-index,sg-cache,fast-picker,sg-index,dispatch-cache",
                        help="the corrections of bench/moto_server.py (default %(default)s; 'none' for none)")
    parser.add_argument("--repeat", type=int, default=2, help="passes over the describes (default %(default)s: "
                        "the second pass shows the sg-cache hits)")
    args = parser.parse_args(argv)
    fixes = [] if args.moto_stock else [f.strip() for f in args.moto_fixes.split(",") if f.strip() not in ("", "none")]
    out = REPO_ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    server = HarnessProcess(out / "describe-timing-harness.log", tag_index="tag-index" in fixes,
                            options=["--" + fix for fix in fixes if fix != "tag-index"])
    try:
        ec2 = world.ec2_client(server.url)
        server.harness.reset()
        env = world.build(ec2, args.n, args.m, args.rules)
        if args.converge_first:
            run_playbook("describe-timing-converge", ["playbooks/mirror.yml", "-e", "mirror_classic_vpc_id=default"],
                         aws_env(server.url), server.harness, out)
        calls = [
            ("DescribeVpcs", ec2.describe_vpcs),
            ("DescribeSecurityGroups tag-key", lambda: ec2.describe_security_groups(
                Filters=[{"Name": "tag-key", "Values": TAG_KEYS}])),
            ("DescribeSecurityGroups vpc-id (target)", lambda: ec2.describe_security_groups(
                Filters=[{"Name": "vpc-id", "Values": [env.vpc_id]}])),
            ("DescribeVpcClassicLink", ec2.describe_vpc_classic_link),
            ("DescribeClassicLinkInstances", ec2.describe_classic_link_instances),
            ("DescribeInstances state filter", lambda: ec2.describe_instances(
                Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])),
        ]
        print("N=%d M=%d R=%d%s; moto: %s" % (args.n, args.m, args.rules, ", converged" if args.converge_first else "",
                                              " ".join(server.options) or "stock"))
        for rep in range(args.repeat):
            for name, make in calls:
                cpu0, start = process_cpu_s(server.proc.pid), time.perf_counter()
                make()
                wall = time.perf_counter() - start
                print("pass %d  %-42s wall %6.2f s   moto CPU %6.2f s" % (
                    rep + 1, name, wall, process_cpu_s(server.proc.pid) - cpu0))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
