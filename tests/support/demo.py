"""``make demo``: the mirror playbook on the emulated "classic-mirror-test" stack.

Starts the moto harness on a free loopback port, builds the stack
(:mod:`tests.support.world`), then runs ``playbooks/mirror.yml`` four times
against it, as a user would from the repository:

1. ``--check --diff``: what a run would do, with no mutating call;
2. for real: mirrors created, instances linked;
3. again: nothing to do, no mutating call;
4. after changing the Classic groups (8443 added to the backend, SSH
   revoked): the mirrors follow.

Each run's summary comes from its JSON report; the calls are counted at the
server.  Exits non-zero when a run does not behave as described.

Every run also writes its report pages (``mirror-report.html``, one
self-contained page for the run, and ``mirror-report.md``, the comment form)
into ``tests/output/demo-report/<run>/``, kept after the demo; with Chromium
installed (``make browser``) each page gets a screenshot ``mirror-report.png``
beside it, taken in parallel at the end.

    .venv/bin/python -m tests.support.demo [--verbose] [--no-screenshots]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.devpaths import REPO_ROOT, ensure_dev_collection_path
from tests.support.harness_env import LOOPBACK, harness_env
from tests.support.moto_harness import MotoHarness, start_server
from tests.support.world import World, build_world, classic_links, ec2_client, mirror_of

REGION = "us-east-1"
NEW_RULE_CIDR = "198.51.100.0/24"
REPORT_ROOT = REPO_ROOT / "tests" / "output" / "demo-report"
REPORT_FORMATS = '{"mirror_report_format": ["json", "html", "markdown"], "mirror_usage_audit": true}'

WIDTH = 78


@dataclass
class Run:
    title: str
    slug: str  # the run's report directory under REPORT_ROOT
    args: list[str]
    expect_mutating: bool | None  # None: no expectation
    expect_rc: int = 0


def playbook_env(url: str, region: str = REGION) -> dict[str, str]:
    """The environment of a user whose AWS endpoint is the harness (fake credentials, no proxies)."""
    return harness_env(url, region=region)


def banner(text: str) -> None:
    print("\n" + "=" * WIDTH)
    print(f"== {text}")
    print("=" * WIDTH, flush=True)


def ansible_playbook() -> str:
    venv = REPO_ROOT / ".venv" / "bin" / "ansible-playbook"
    return str(venv) if venv.exists() else "ansible-playbook"


def run_playbook(harness: MotoHarness, run: Run, report_dir: Path, verbose: bool) -> bool:
    harness.reset_calls()
    cmd = [
        ansible_playbook(),
        "playbooks/mirror.yml",
        "-e", "mirror_classic_vpc_id=default",
        "-e", f"mirror_report_path={report_dir}",
        "-e", REPORT_FORMATS,
        *run.args,
    ]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=playbook_env(harness.url), capture_output=True, text=True, timeout=300, check=False)
    elapsed = time.monotonic() - started
    calls = harness.calls()
    mutating = [c["action"] for c in calls if c["mutating"]]

    print("$ " + " ".join(["ansible-playbook", *cmd[1:]]))
    if verbose:
        print(proc.stdout)
    if "--diff" in run.args and not verbose:
        print("  --diff:")
        for line in diff_lines(proc.stdout):
            print("    " + line)
    report_file = report_dir / f"{REGION}.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    for line in report.get("summary", {}).get("lines", ["(no report written)"]):
        print("  " + line)
    page = report_dir / "mirror-report.html"
    print(f"  report page: {page if page.exists() else '(not written)'} (+ mirror-report.md)")
    recap = [line for line in proc.stdout.splitlines() if line.startswith(REGION) and "ok=" in line]
    print("  recap: " + (" ".join(recap[-1].split()[2:]) if recap else "(none)"))
    print(f"  calls at the server: {len(mutating)} mutating / {len(calls)} total"
          + (f" ({', '.join(sorted(set(mutating)))})" if mutating else "")
          + f"; {elapsed:.1f}s; exit code {proc.returncode}")

    ok = proc.returncode == run.expect_rc and page.exists()
    if not page.exists():
        print("  UNEXPECTED: no report page")
    if run.expect_mutating is not None and bool(mutating) != run.expect_mutating:
        ok = False
        print(f"  UNEXPECTED: {'no' if run.expect_mutating else 'some'} mutating calls were expected")
    if not ok:
        print(f"  UNEXPECTED: exit code {proc.returncode}, expected {run.expect_rc}")
        if not verbose:
            print(proc.stdout[-4000:])
        print(proc.stderr[-2000:])
    return ok


def diff_lines(stdout: str, limit: int = 80) -> list[str]:
    """The ``--diff`` blocks of an ansible-playbook output, without the JSON punctuation."""
    out = []
    for line in stdout.splitlines():
        if line.startswith(("--- before", "+++ after")):
            out.append(line)
        elif line[:1] in "+-" and not line.startswith(("---", "+++")) and line[1:].strip() not in ("", "{", "}", "{}", "],", "]", "},"):
            out.append(line)
    return out[:limit] + (["... (%d more lines)" % (len(out) - limit)] if len(out) > limit else [])


def change_classic_rules(ec2: Any, world: World) -> None:
    ec2.authorize_security_group_ingress(
        GroupId=world.backend_group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443,
                        "IpRanges": [{"CidrIp": NEW_RULE_CIDR, "Description": "partner TLS"}]}],
    )
    ec2.revoke_security_group_ingress(
        GroupId=world.ssh_group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": world.ssh_cidr}]}],
    )


def rule_lines(group: dict[str, Any]) -> list[str]:
    out = []
    for perm in group["IpPermissions"]:
        ports = "all" if perm["IpProtocol"] == "-1" else f"{perm['IpProtocol']} {perm.get('FromPort')}-{perm.get('ToPort')}"
        targets = [r["CidrIp"] for r in perm.get("IpRanges", [])] + [r["CidrIpv6"] for r in perm.get("Ipv6Ranges", [])]
        targets += [p["GroupId"] for p in perm.get("UserIdGroupPairs", [])] + [p["PrefixListId"] for p in perm.get("PrefixListIds", [])]
        out.extend(f"ingress {ports} from {target}" for target in targets)
    return out or ["(no ingress rules)"]


def show_final_state(ec2: Any, world: World) -> None:
    banner("Final state of the target VPC " + world.vpc_id)
    for name, source_id in ((world.backend_name, world.backend_group_id), (world.ssh_name, world.ssh_group_id)):
        mirror = mirror_of(ec2, world, source_id)
        if mirror is None:
            print(f"{name}: NO MIRROR")
            continue
        print(f"{name} ({source_id}) -> mirror {mirror['GroupId']}")
        for line in rule_lines(mirror):
            print("    " + line)
    print("ClassicLinks (DescribeClassicLinkInstances):")
    links = classic_links(ec2)
    for instance_id in world.instance_ids:
        vpc_id, groups = links.get(instance_id, (None, frozenset()))
        print(f"    {instance_id}: " + (f"{vpc_id} with {', '.join(sorted(groups))}" if vpc_id else "NOT LINKED"))


def show_pages(pages: list[Path], screenshots: bool) -> bool:
    """List the report pages; with Chromium, screenshot them (in parallel) and check that their script ran."""
    banner(f"Report pages (open them in a browser): {REPORT_ROOT}")
    pages = [page for page in pages if page.exists()]
    from tests.report.browser import find_chromium, is_png, screenshot  # pylint: disable=import-outside-toplevel

    if not screenshots or find_chromium() is None:
        for page in pages:
            print(f"  {page}")
        if screenshots:
            print("  (no screenshots: Chromium not found; `make browser` installs it)")
        return True

    def shoot(page: Path) -> tuple[Path, bool, list[str]]:
        png = page.with_suffix(".png")
        run = screenshot(page, png)
        return png, run.returncode == 0 and is_png(png), run.console

    ok = True
    with ThreadPoolExecutor(max_workers=len(pages) or 1) as pool:
        for page, (png, shot, console) in zip(pages, pool.map(shoot, pages)):
            print(f"  {page}\n      screenshot {png if shot else 'FAILED'}" + (f"; console: {console}" if console else ""))
            ok = ok and shot and not console
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.demo", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--verbose", action="store_true", help="print the full ansible-playbook output of every run")
    parser.add_argument("--no-screenshots", action="store_true", help="do not open the report pages in headless Chromium")
    args = parser.parse_args(argv)

    for var in ("NO_PROXY", "no_proxy"):  # boto3 in this process: never proxy loopback
        os.environ[var] = ",".join(filter(None, [os.environ.get(var, ""), LOOPBACK]))
    ensure_dev_collection_path()
    started = time.monotonic()
    harness = start_server()
    failures = 0
    try:
        ec2 = ec2_client(harness.url, REGION)
        world = build_world(ec2)
        banner(f"classic-mirror-test stack on the moto harness at {harness.url} ({REGION})")
        print(f"EC2-Classic stand-in (moto's default VPC): {world.classic_vpc_id}")
        print(f"target VPC (ClassicLink enabled):           {world.vpc_id}")
        print(f"{world.backend_name} {world.backend_group_id}: tcp 8080 from elb-frontend {world.elb_group_id} (classicmirror:linkToVPC)")
        print(f"{world.ssh_name} {world.ssh_group_id}: tcp 22 from {world.ssh_cidr} (classiclinkmirror:linkToVPC)")
        print(f"instances (t1.micro, in both groups): {', '.join(world.instance_ids)}")

        runs = [
            Run("Run 1: dry run (--check --diff): what a run would change, no mutating call", "1-check", ["--check", "--diff"], False),
            Run("Run 2: for real: create the mirrors, link the instances", "2-converge", [], True),
            Run("Run 3: again: already converged, nothing to change", "3-again", [], False),
            Run("Run 4: after the Classic rules changed (+8443 on the backend, -22 on ssh)", "4-drift", [], True),
        ]
        shutil.rmtree(REPORT_ROOT, ignore_errors=True)
        for index, run in enumerate(runs):
            if index == 3:
                change_classic_rules(ec2, world)
            banner(run.title)
            failures += not run_playbook(harness, run, REPORT_ROOT / run.slug, args.verbose)
        show_final_state(ec2, world)
    finally:
        harness.stop()
    failures += not show_pages([REPORT_ROOT / run.slug / "mirror-report.html" for run in runs], not args.no_screenshots)
    banner(f"demo {'FAILED (%d unexpected runs)' % failures if failures else 'done'} in {time.monotonic() - started:.0f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
