"""playbooks/mirror.yml end to end: ansible-playbook subprocesses against the moto harness.

The environment is the "classic-mirror-test" stack (tests/support/world.py);
outcomes are checked the way a user would: describes of the mirrors and the
ClassicLinks, the PLAY RECAP, the JSON reports, and the calls counted at the
server.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.devpaths import REPO_ROOT
from tests.support.world import World, build_world, classic_links, mirror_of

pytestmark = pytest.mark.integration

ANSIBLE_PLAYBOOK = str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook")
CLASSIC = ("-e", "mirror_classic_vpc_id=default")
MISSING_VPC = "vpc-0123456789abcdef0"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    recap: dict[str, dict[str, int]]
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)

    def summary(self, scope: str = "us-east-1") -> dict[str, Any]:
        return self.reports[scope]["summary"]

    def explain(self) -> str:
        return f"rc={self.rc}\n--- stdout ---\n{self.stdout[-6000:]}\n--- stderr ---\n{self.stderr[-3000:]}"


@pytest.fixture
def playbook(aws_env: dict[str, str], tmp_path: Path):
    """``playbook(*args, env=None, target="playbooks/mirror.yml")`` -> PlaybookRun (reports in a fresh directory)."""
    counter = iter(range(1000))

    def run(*args: str, env: dict[str, str] | None = None, target: str = "playbooks/mirror.yml") -> PlaybookRun:
        report_dir = tmp_path / f"reports-{next(counter)}"
        cmd = [ANSIBLE_PLAYBOOK, target, *CLASSIC, "-e", f"mirror_report_path={report_dir}", *args]
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env={**(env or aws_env), "ANSIBLE_NOCOLOR": "1"},
                              capture_output=True, text=True, timeout=240, check=False)
        recap = {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "failed": int(m.group(5))}
                 for m in RECAP.finditer(proc.stdout)}
        reports = {p.stem: json.loads(p.read_text()) for p in report_dir.glob("*.json")} if report_dir.exists() else {}
        return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, recap, reports)

    return run


def ingress(group: dict[str, Any]) -> set[tuple[Any, ...]]:
    """(protocol, from, to, target) per target, straight from the describe output."""
    out = set()
    for perm in group["IpPermissions"]:
        head = (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"))
        out.update(head + (r["CidrIp"],) for r in perm.get("IpRanges", []))
        out.update(head + (p["GroupId"],) for p in perm.get("UserIdGroupPairs", []))
    return out


def mirrors(ec2: Any, world: World, vpc_id: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    backend, ssh = (mirror_of(ec2, world, source, vpc_id) for source in world.source_group_ids)
    assert backend is not None and ssh is not None, "both mirrors should exist"
    return backend, ssh


def mutating(moto: Any) -> list[str]:
    return [call["action"] for call in moto.mutating_calls()]


def tcp(port: int, cidr: str | None = None, group: str | None = None) -> dict[str, Any]:
    perm: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    if cidr:
        perm["IpRanges"] = [{"CidrIp": cidr}]
    if group:
        perm["UserIdGroupPairs"] = [{"GroupId": group}]
    return perm


def test_guide_scenario_mirror_follows_the_classic_groups(playbook, moto, ec2):
    world = build_world(ec2)

    first = playbook()
    assert first.rc == 0, first.explain()
    backend, ssh = mirrors(ec2, world)
    assert backend["GroupName"] == world.backend_name and ssh["GroupName"] == world.ssh_name
    assert ingress(backend) == set()  # 8080 from the Classic ELB group cannot be translated...
    assert first.summary()["skipped_references"] == 1  # ...and is reported
    assert world.elb_group_id in " ".join(first.summary()["lines"])
    assert ingress(ssh) == {("tcp", 22, 22, world.ssh_cidr)}
    assert classic_links(ec2) == {i: (world.vpc_id, frozenset({backend["GroupId"], ssh["GroupId"]})) for i in world.instance_ids}

    # The guide's test: change the Classic groups, run again, the mirror follows.
    ec2.authorize_security_group_ingress(GroupId=world.backend_group_id, IpPermissions=[
        tcp(8443, cidr="198.51.100.0/24"), tcp(9000, group=world.ssh_group_id)])
    ec2.revoke_security_group_ingress(GroupId=world.ssh_group_id, IpPermissions=[tcp(22, cidr=world.ssh_cidr)])
    ec2.authorize_security_group_ingress(GroupId=world.ssh_group_id, IpPermissions=[tcp(22, cidr="192.0.2.0/24")])
    (newcomer,) = [i["InstanceId"] for i in ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t1.micro",
        SecurityGroupIds=[world.ssh_group_id])["Instances"]]

    second = playbook()
    assert second.rc == 0, second.explain()
    backend, ssh = mirrors(ec2, world)
    # a reference to another managed source becomes a reference to its mirror
    assert ingress(backend) == {("tcp", 8443, 8443, "198.51.100.0/24"), ("tcp", 9000, 9000, ssh["GroupId"])}
    assert ingress(ssh) == {("tcp", 22, 22, "192.0.2.0/24")}
    counts = second.summary()
    assert (counts["rules_added"], counts["rules_revoked"], counts["groups_updated"]) == (3, 1, 2)
    assert counts["links_made"] == 1 and classic_links(ec2)[newcomer] == (world.vpc_id, frozenset({ssh["GroupId"]}))

    moto.reset_calls()
    third = playbook()
    assert third.rc == 0, third.explain()
    assert third.recap["us-east-1"]["changed"] == 0, third.explain()
    assert mutating(moto) == []
    assert third.summary()["groups_unchanged"] == 2 and third.summary()["links_unchanged"] == 4


def test_check_mode_changes_nothing_and_reports_what_the_real_run_does(playbook, moto, ec2):
    world = build_world(ec2)
    moto.reset_calls()

    check = playbook("--check", "--diff")
    assert mutating(moto) == [], check.explain()
    assert check.rc == 0, check.explain()
    assert "new-mirror-of-" + world.backend_group_id in check.stdout  # the diff names the mirror to create
    assert classic_links(ec2) == {} and mirror_of(ec2, world, world.ssh_group_id) is None

    real = playbook()
    assert real.rc == 0, real.explain()
    assert mutating(moto), "the real run should change something"
    check_report, real_report = check.reports["us-east-1"], real.reports["us-east-1"]
    assert check_report["check_mode"] is True and real_report["check_mode"] is False
    assert check_report["summary"] == real_report["summary"]
    assert check_report["summary"]["groups_created"] == 2 and check_report["summary"]["links_made"] == 3

    def changes(report: dict[str, Any]) -> tuple[list[Any], list[Any]]:
        pairs = [(p["source_group_id"], p["created"], p["ingress"]["authorize"], p["ingress"]["revoke"]) for p in report["pairs"]]
        links = [(i["instance_id"], i["action"], i["vpc_id"]) for i in report["instances"]]
        return pairs, links

    assert changes(check_report) == changes(real_report)


def test_retarget_keeps_the_orphan_until_pruning_then_deletes_it(playbook, moto, ec2):
    world = build_world(ec2)
    assert playbook().rc == 0
    old_backend, old_ssh = mirrors(ec2, world)
    new_vpc = ec2.create_vpc(CidrBlock="192.168.0.0/16")["Vpc"]["VpcId"]
    assert ec2.enable_vpc_classic_link(VpcId=new_vpc)["Return"] is True
    # retarget both sources (each spelling of the link tag)
    ec2.create_tags(Resources=[world.backend_group_id], Tags=[{"Key": "classicmirror:linkToVPC", "Value": new_vpc}])
    ec2.create_tags(Resources=[world.ssh_group_id], Tags=[{"Key": "classiclinkmirror:linkToVPC", "Value": new_vpc}])

    kept = playbook()
    assert kept.rc == 0, kept.explain()
    new_backend, new_ssh = mirrors(ec2, world, new_vpc)
    assert ingress(new_ssh) == {("tcp", 22, 22, world.ssh_cidr)}
    assert kept.summary()["groups_created"] == 2 and kept.summary()["orphans_kept"] == 2
    assert kept.summary()["links_changed"] == 3
    assert set(classic_links(ec2).values()) == {(new_vpc, frozenset({new_backend["GroupId"], new_ssh["GroupId"]}))}
    assert mirrors(ec2, world)  # the old mirrors are still there without pruning

    # untag one source: its mirror becomes an orphan too, with another reason
    ec2.delete_tags(Resources=[world.ssh_group_id], Tags=[{"Key": "classiclinkmirror:linkToVPC"}])
    pruned = playbook("-e", "mirror_prune=true")
    assert pruned.rc == 0, pruned.explain()
    assert mirror_of(ec2, world, world.backend_group_id) is None and mirror_of(ec2, world, world.ssh_group_id) is None
    reasons = {o["mirror_group_id"]: o["orphan"] for o in pruned.reports["us-east-1"]["orphans"]}
    assert reasons == {old_backend["GroupId"]: "retargeted", old_ssh["GroupId"]: "untagged", new_ssh["GroupId"]: "untagged"}
    assert pruned.summary()["groups_deleted"] == 3
    # instances now linked to the backend mirror only (the ssh group is no longer managed)
    assert set(classic_links(ec2).values()) == {(new_vpc, frozenset({new_backend["GroupId"]}))}

    moto.reset_calls()
    again = playbook("-e", "mirror_prune=true")
    assert again.rc == 0 and again.recap["us-east-1"]["changed"] == 0 and mutating(moto) == [], again.explain()


def test_two_regions_from_an_inventory_of_scopes_by_fqcn(playbook, moto, ec2_client, tmp_path):
    east, west = build_world(ec2_client("us-east-1")), build_world(ec2_client("eu-west-1"), vpc_cidr="10.0.0.0/16")
    inventory = tmp_path / "scopes.yml"
    inventory.write_text(
        "mirror_scopes:\n  hosts:\n"
        "    prod-east:\n      aws_region: us-east-1\n"
        "    prod-west:\n      aws_region: eu-west-1\n"
    )
    run = playbook("-i", str(inventory), target="classiclink.mirror.mirror")
    assert run.rc == 0, run.explain()
    assert set(run.reports) == {"prod-east", "prod-west"}
    for scope, world in (("prod-east", east), ("prod-west", west)):
        ec2 = ec2_client(world.region)
        backend, ssh = mirrors(ec2, world)
        assert ingress(ssh) == {("tcp", 22, 22, world.ssh_cidr)}
        assert set(classic_links(ec2)) == set(world.instance_ids)
        assert run.summary(scope)["groups_created"] == 2 and run.recap[scope]["failed"] == 0
    regions = {call["region"] for call in moto.mutating_calls()}
    assert regions == {"us-east-1", "eu-west-1"}


def test_a_bad_pair_fails_the_play_at_the_end_and_the_others_converge(playbook, moto, ec2):
    world = build_world(ec2)
    broken = ec2.create_security_group(
        GroupName="typo", Description="link tag names a VPC that does not exist",
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "classiclinkmirror:linkToVPC", "Value": MISSING_VPC}]}],
    )["GroupId"]

    run = playbook("-e", '{"mirror_regions": ["us-east-1"]}')
    assert run.rc == 2, run.explain()
    assert run.recap["us-east-1"]["failed"] == 1
    # the host failed at the last task, after mirroring, linking and reporting
    failed_task = run.stdout.split("fatal: [us-east-1]")[0].rsplit("TASK [", 1)[1]
    assert failed_task.startswith("classiclink.mirror.mirror : Fail for the pairs and instances that failed"), run.explain()
    errors = run.summary()["errors"]
    assert len(errors) == 1 and broken in errors[0] and MISSING_VPC in errors[0]
    backend, ssh = mirrors(ec2, world)
    assert ingress(ssh) == {("tcp", 22, 22, world.ssh_cidr)}
    assert set(classic_links(ec2)) == set(world.instance_ids)


def test_no_region_anywhere_is_a_clear_failure(playbook, aws_env):
    env = {k: v for k, v in aws_env.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    run = playbook(env=env)
    assert run.rc != 0 and "mirror_regions" in run.stdout and "AWS_REGION" in run.stdout, run.explain()


def test_vpc_filter_mirrors_and_links_only_that_vpc(playbook, moto, ec2):
    world = build_world(ec2)
    other_vpc = ec2.create_vpc(CidrBlock="192.168.0.0/16")["Vpc"]["VpcId"]
    other = ec2.create_security_group(
        GroupName="reports", Description="reporting hosts",
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "classiclinkmirror:linkToVPC", "Value": other_vpc}]}],
    )["GroupId"]
    (outsider,) = [i["InstanceId"] for i in ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SecurityGroupIds=[other])["Instances"]]

    run = playbook("-e", json.dumps({"mirror_vpc_ids": [world.vpc_id]}))
    assert run.rc == 0, run.explain()
    assert mirrors(ec2, world) and mirror_of(ec2, world, other, other_vpc) is None
    assert set(classic_links(ec2)) == set(world.instance_ids) and outsider not in classic_links(ec2)
    assert run.summary()["groups_created"] == 2 and run.summary()["errors"] == []
