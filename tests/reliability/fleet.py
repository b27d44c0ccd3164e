"""A 50-group EC2-Classic estate for the reliability tests, and a normalised view of its mirror.

Built with boto3 straight against the harness (never through the fault proxy):

* a target VPC with ClassicLink;
* ``groups`` source groups in moto's default VPC (the EC2-Classic stand-in),
  named ``rel-00``...; the link tag alternates between both spellings; rules:
  a CIDR rule each, a reference to the next group and to the one seven ahead
  (so references form cycles), a self reference on every fifth group, IPv6 and
  a UDP range on every third, an untranslatable reference to an untagged group
  (``rel-elb``) on every tenth, rule descriptions on some;
* the default VPC's own ``default`` group tagged as a source too, so the run
  adopts the target VPC's ``default`` group;
* ``instances`` running instances in the default VPC, each a member of one to
  three source groups, named ``rel-i-NN``.

:func:`state` describes the result and replaces every id by a name, so that two
runs on two freshly built estates can be compared.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.devpaths import REPO_ROOT
from tests.support.moto_harness import CLASSIC_AMI_ID

LINK_TAGS = ("classiclinkmirror:linkToVPC", "classicmirror:linkToVPC")
MIRRORED_FROM = "classiclinkmirror:mirroredFromClassicSecurityGroupId"
MIRRORED_TO = "classiclinkmirror:mirroredToVpcSecurityGroupId"
ANSIBLE_PLAYBOOK = str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook")
PLAYBOOK_ARGS = ("playbooks/mirror.yml", "-e", "mirror_classic_vpc_id=default")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class Fleet:
    vpc_id: str
    classic_vpc_id: str
    source_ids: tuple[str, ...]
    instance_ids: tuple[str, ...]


def _perm(proto: str, lo: int | None, hi: int | None, **target: Any) -> dict[str, Any]:
    perm: dict[str, Any] = {"IpProtocol": proto}
    if lo is not None:
        perm.update(FromPort=lo, ToPort=hi)
    perm.update(target)
    return perm


def build_fleet(ec2: Any, groups: int = 50, instances: int = 10) -> Fleet:
    classic = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    assert ec2.enable_vpc_classic_link(VpcId=vpc)["Return"] is True
    elb = ec2.create_security_group(GroupName="rel-elb", Description="untagged: not mirrored", VpcId=classic)["GroupId"]
    ids = []
    for i in range(groups):
        tag = {"Key": LINK_TAGS[i % 2], "Value": vpc if i % 4 else f"  {vpc} "}  # white space is trimmed
        ids.append(ec2.create_security_group(
            GroupName=f"rel-{i:02d}", Description=f"reliability source {i}", VpcId=classic,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": [tag]}])["GroupId"])
    default = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [classic]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    ec2.create_tags(Resources=[default["GroupId"]], Tags=[{"Key": LINK_TAGS[0], "Value": vpc}])
    ec2.authorize_security_group_ingress(GroupId=default["GroupId"], IpPermissions=[
        _perm("tcp", 5432, 5432, UserIdGroupPairs=[{"GroupId": ids[0]}])])
    for i, gid in enumerate(ids):
        perms = [
            _perm("tcp", 1000 + i, 1000 + i, IpRanges=[{"CidrIp": f"10.{i}.0.0/16", **({"Description": f"net {i}"} if i % 2 else {})}]),
            _perm("tcp", 8000, 8080, UserIdGroupPairs=[{"GroupId": ids[(i + 1) % groups]}, {"GroupId": ids[(i + 7) % groups]}]),
        ]
        if i % 5 == 0:
            perms.append(_perm("-1", None, None, UserIdGroupPairs=[{"GroupId": gid, "Description": "self"}]))
        if i % 3 == 0:
            perms.append(_perm("udp", 3000, 3100, Ipv6Ranges=[{"CidrIpv6": f"2001:db8:{i:x}::/48"}],
                               IpRanges=[{"CidrIp": "192.0.2.0/24"}]))
            perms.append(_perm("icmp", 8, 0, IpRanges=[{"CidrIp": "198.51.100.0/24"}]))
        if i % 10 == 0:
            perms.append(_perm("tcp", 443, 443, UserIdGroupPairs=[{"GroupId": elb}]))
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=perms)
    instance_ids = []
    for n in range(instances):
        members = list(dict.fromkeys([ids[(3 * n) % groups], ids[(3 * n + 5) % groups], ids[(7 * n + 2) % groups]]))
        members = members[: 1 + n % 3]
        reservation = ec2.run_instances(
            ImageId=CLASSIC_AMI_ID, MinCount=1, MaxCount=1, InstanceType="t1.micro", SecurityGroupIds=members,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": f"rel-i-{n:02d}"}]}])
        instance_ids.append(reservation["Instances"][0]["InstanceId"])
    return Fleet(vpc, classic, tuple(ids), tuple(instance_ids))


# ---------------------------------------------------------------- the state
def _groups(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
    pages = ec2.get_paginator("describe_security_groups").paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return pages.build_full_result()["SecurityGroups"]


def _rules(group: dict[str, Any], names: dict[str, str]) -> list[tuple[Any, ...]]:
    out = set()
    for direction, key in (("in", "IpPermissions"), ("out", "IpPermissionsEgress")):
        for perm in group.get(key, []):
            head = (direction, perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"))
            for field, attr in (("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6"), ("PrefixListIds", "PrefixListId"),
                                ("UserIdGroupPairs", "GroupId")):
                for entry in perm.get(field, []):
                    out.add(head + (names.get(entry[attr], entry[attr]), entry.get("Description")))
    return sorted(out, key=repr)


def state(ec2: Any, fleet: Fleet, links: list[dict[str, Any]]) -> dict[str, Any]:
    """The target VPC, the sources' tags and the ClassicLinks, every id replaced by a name.

    Mirrors are named ``mirror:<name>`` (a duplicate name shows up twice in the
    list), sources ``source:<name>``, instances by their Name tag.  ``links`` is
    ``MotoHarness.classiclink_links()``.
    """
    target, classic = _groups(ec2, fleet.vpc_id), _groups(ec2, fleet.classic_vpc_id)
    names = {g["GroupId"]: f"mirror:{g['GroupName']}" for g in target}
    names.update({g["GroupId"]: f"source:{g['GroupName']}" for g in classic})
    names[fleet.vpc_id], names[fleet.classic_vpc_id] = "target-vpc", "classic-vpc"

    def tags(group: dict[str, Any]) -> dict[str, str]:
        return {t["Key"]: names.get(t["Value"].strip(), t["Value"].strip()) for t in group.get("Tags", [])}

    mirrors = sorted(
        ({"name": g["GroupName"], "description": g["Description"], "tags": tags(g), "rules": _rules(g, names)} for g in target),
        key=lambda g: (g["name"], repr(g)))
    sources = {g["GroupName"]: tags(g) for g in classic}
    instances = {}
    reservations = ec2.describe_instances(InstanceIds=list(fleet.instance_ids))["Reservations"]
    instance_names = {i["InstanceId"]: {t["Key"]: t["Value"] for t in i.get("Tags", [])}.get("Name", i["InstanceId"])
                      for r in reservations for i in r["Instances"]}
    for link in links:
        instances[instance_names.get(link["instance_id"], link["instance_id"])] = (
            names.get(link["vpc_id"], link["vpc_id"]), sorted(names.get(g, g) for g in link["group_ids"]))
    return {"mirrors": mirrors, "sources": sources, "links": dict(sorted(instances.items()))}


def integrity_problems(ec2: Any, fleet: Fleet) -> list[str]:
    """Duplicate or untagged groups in the target VPC (the crash-consistency check)."""
    problems = []
    seen: dict[str, str] = {}
    by_source: dict[str, str] = {}
    for group in _groups(ec2, fleet.vpc_id):
        gid, name = group["GroupId"], group["GroupName"]
        tags = {t["Key"]: t["Value"] for t in group.get("Tags", [])}
        if name in seen:
            problems.append(f"duplicate group name {name}: {seen[name]} and {gid}")
        seen[name] = gid
        source = tags.get(MIRRORED_FROM)
        if name != "default" and source is None:
            problems.append(f"group {name} ({gid}) has no {MIRRORED_FROM} tag")
        if source is not None:
            if source in by_source:
                problems.append(f"two mirrors of {source}: {by_source[source]} and {gid}")
            by_source[source] = gid
    return problems


# ---------------------------------------------------------------- the playbook
@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        return {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "failed": int(m.group(5))}
                for m in RECAP.finditer(self.stdout)}

    def explain(self) -> str:
        return f"rc={self.rc} ({self.seconds:.1f}s)\n--- stdout ---\n{self.stdout[-5000:]}\n--- stderr ---\n{self.stderr[-3000:]}"


def playbook_command(*extra: str) -> list[str]:
    return [ANSIBLE_PLAYBOOK, *PLAYBOOK_ARGS, *extra]


def run_playbook(env: dict[str, str], *extra: str, timeout: float = 300) -> PlaybookRun:
    started = time.monotonic()
    proc = subprocess.run(playbook_command(*extra), cwd=REPO_ROOT, env={**env, "ANSIBLE_NOCOLOR": "1"},
                          capture_output=True, text=True, timeout=timeout, check=False)
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


RUN_MARKER = "CLASSICLINK_MIRROR_RELIABILITY_RUN"


def runs_until_green(env: dict[str, str], ec2: Any, fleet: Fleet, max_runs: int) -> list[PlaybookRun]:
    """Run the playbook until it succeeds, at most ``max_runs`` times; after every run, whatever went
    wrong, the target VPC has no duplicate and no untagged group."""
    runs = []
    for _attempt in range(max_runs):
        runs.append(run_playbook(env))
        assert integrity_problems(ec2, fleet) == [], runs[-1].explain()
        if runs[-1].rc == 0:
            break
    return runs


def start_playbook(env: dict[str, str], *extra: str, log: Path) -> subprocess.Popen[bytes]:
    """ansible-playbook in its own session, output to ``log``; every process of the run
    (the workers and module processes inherit the environment) carries a marker for :func:`kill_run`."""
    marker = uuid.uuid4().hex
    with open(log, "wb") as out:
        proc = subprocess.Popen(playbook_command(*extra), cwd=REPO_ROOT,
                                env={**env, "ANSIBLE_NOCOLOR": "1", RUN_MARKER: marker},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    proc.marker = marker  # type: ignore[attr-defined]
    return proc


def run_processes(marker: str) -> list[int]:
    """Live processes (not zombies) whose environment carries ``RUN_MARKER=marker``."""
    needle = f"{RUN_MARKER}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # gone, or not ours
            continue
    return found


def kill_run(proc: subprocess.Popen[bytes], attempts: int = 100) -> int:
    """SIGKILL a whole playbook run at once; returns how many processes were killed.

    Killing the process group is not enough: ansible's worker processes call
    ``setsid()`` (a session of their own), and the module processes are theirs.
    So every process carrying the run's marker is first stopped (a stopped
    process cannot fork), then all are killed together.
    """
    marker = proc.marker  # type: ignore[attr-defined]
    stopped: set[int] = set()
    for _attempt in range(attempts):
        new = [pid for pid in [proc.pid, *run_processes(marker)] if pid not in stopped]
        if not new:
            break
        for pid in new:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
            stopped.add(pid)
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    for _attempt in range(attempts):  # stragglers (none expected); zombies do not show
        left = run_processes(marker)
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    return len(stopped)
