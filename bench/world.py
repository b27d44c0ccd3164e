"""The benchmark environment: N tagged source groups x R rules, M member instances.

Built with boto3 on the moto harness; moto's default VPC stands in for
EC2-Classic (the playbooks run with ``mirror_classic_vpc_id=default``).
Deterministic for a given (n, m, rules, seed): the amazon.aws baseline runs on
a rebuilt copy of exactly the same environment.

Rules of source ``i`` (R of them, one port each, ingress -- a Classic group has
no egress), by position ``j`` in a repeating cycle of ten:

====  =====================================================  =========
 j    target                                                 mirrored?
====  =====================================================  =========
0,3,  IPv4 CIDR (tcp; one of 6 is ``-1``/all traffic)         copied
5,8
1,6   IPv6 CIDR (tcp, or udp)                                copied
2     the source itself                                      -> mirror
4,7   another managed source (``i+1``, ``i+7`` mod N)          -> its mirror
9     an unmanaged group (one of max(1, N/10) untagged ones)  skipped, reported
====  =====================================================  =========

Member instances: instance ``k`` is in sources ``k mod N`` and ``(k + N//2) mod N``
(one group when N = 1), so every instance needs a two-mirror ClassicLink.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

import boto3
from botocore.config import Config

from tests.support.moto_harness import CLASSIC_AMI_ID

LINK_TAG = "classiclinkmirror:linkToVPC"
TARGET_VPC_CIDR = "10.1.0.0/16"  # moto enables ClassicLink on 10.1.0.0/16 (or outside 10.0.0.0/8)
REGION = "us-east-1"
NAME_PREFIX = "bench"


def ec2_client(endpoint_url: str, region: str = REGION, retries: int = 1) -> Any:
    """boto3 EC2 client on the harness; no client retries so every call reaches the server once."""
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    ).client(
        "ec2",
        endpoint_url=endpoint_url,
        config=Config(retries={"mode": "standard", "total_max_attempts": retries}, max_pool_connections=4),
    )


@dataclass
class BenchWorld:
    n: int
    m: int
    rules: int
    classic_vpc_id: str
    vpc_id: str
    source_ids: List[str]
    unmanaged_ids: List[str]
    instance_ids: List[str]
    # the rule each source had at position 0 (a CIDR rule): the drift step revokes it
    first_cidr_rule: Dict[str, dict] = field(default_factory=dict)

    def name(self, i: int) -> str:
        return source_name(i)


def source_name(i: int) -> str:
    return "%s-src-%04d" % (NAME_PREFIX, i)


def _v4(i: int, j: int) -> str:
    # 100.64.0.0/10 (shared address space): distinct /24 per (i, j), never a real target
    base = int(ipaddress.ip_address("100.64.0.0"))
    return "%s/24" % ipaddress.ip_address(base + ((i * 16 + j) % (1 << 14)) * 256)


def _v6(i: int, j: int) -> str:
    return "2001:db8:%x:%x::/64" % (i, j)  # documentation prefix


def source_permissions(i: int, n: int, r: int, source_ids: List[str], unmanaged_ids: List[str]) -> List[dict]:
    """The R ingress permissions of source ``i`` (one target each)."""
    perms = []
    for j in range(r):
        port = 1000 + j
        kind = j % 10
        perm: Dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
        if kind in (0, 3, 5, 8):
            if (i + j) % 6 == 5:
                perm = {"IpProtocol": "-1"}
            perm["IpRanges"] = [{"CidrIp": _v4(i, j), "Description": "cidr %d" % j}]
        elif kind in (1, 6):
            if kind == 6:
                perm["IpProtocol"] = "udp"
            perm["Ipv6Ranges"] = [{"CidrIpv6": _v6(i, j)}]
        elif kind == 2:
            perm["UserIdGroupPairs"] = [{"GroupId": source_ids[i], "Description": "self"}]
        elif kind in (4, 7):
            other = (i + (1 if kind == 4 else 7)) % n
            perm["UserIdGroupPairs"] = [{"GroupId": source_ids[other]}]
        else:
            perm["UserIdGroupPairs"] = [{"GroupId": unmanaged_ids[i % len(unmanaged_ids)], "Description": "elb"}]
        perms.append(perm)
    return perms


def _default_vpc(ec2: Any) -> str:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if len(vpcs) != 1:
        raise RuntimeError("expected one default VPC, found %d" % len(vpcs))
    return vpcs[0]["VpcId"]


def build(ec2: Any, n: int, m: int, rules: int) -> BenchWorld:
    """Create the environment in the (fresh) account behind ``ec2``."""
    if n < 1:
        raise ValueError("n must be 1 or more")
    classic = _default_vpc(ec2)
    vpc_id = ec2.create_vpc(CidrBlock=TARGET_VPC_CIDR)["Vpc"]["VpcId"]
    if ec2.enable_vpc_classic_link(VpcId=vpc_id)["Return"] is not True:
        raise RuntimeError("moto refused to enable ClassicLink on %s" % vpc_id)

    unmanaged = [
        ec2.create_security_group(GroupName="%s-unmanaged-%03d" % (NAME_PREFIX, u), Description="not mirrored",
                                  VpcId=classic)["GroupId"]
        for u in range(max(1, math.ceil(n / 10)))
    ]
    tag_spec = [{"ResourceType": "security-group", "Tags": [{"Key": LINK_TAG, "Value": vpc_id}]}]
    sources = [
        ec2.create_security_group(GroupName=source_name(i), Description="bench source %d" % i, VpcId=classic,
                                  TagSpecifications=tag_spec)["GroupId"]
        for i in range(n)
    ]
    world = BenchWorld(n, m, rules, classic, vpc_id, sources, unmanaged, [])
    for i, group_id in enumerate(sources):
        perms = source_permissions(i, n, rules, sources, unmanaged)
        if perms:
            ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=perms)
            world.first_cidr_rule[group_id] = perms[0]

    for k in range(m):
        groups = sorted({sources[k % n], sources[(k + n // 2) % n]})
        reservation = ec2.run_instances(ImageId=CLASSIC_AMI_ID, MinCount=1, MaxCount=1, InstanceType="t1.micro",
                                        SecurityGroupIds=groups)
        world.instance_ids.extend(item["InstanceId"] for item in reservation["Instances"])
    return world


def drift(ec2: Any, world: BenchWorld, fraction: float = 0.1) -> List[Tuple[str, str]]:
    """Change ``fraction`` of the sources, one rule each: alternately add a CIDR rule or revoke
    the source's first (CIDR) rule. Returns [(source id, "added" | "revoked")]."""
    count = max(1, math.ceil(world.n * fraction))
    step = max(1, world.n // count)
    changed = []
    for c in range(count):
        i = (c * step) % world.n
        group_id = world.source_ids[i]
        if c % 2 == 0 or group_id not in world.first_cidr_rule:
            ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 9443, "ToPort": 9443, "IpRanges": [{"CidrIp": "198.51.100.%d/32" % (c % 256)}]}])
            changed.append((group_id, "added"))
        else:
            rule = dict(world.first_cidr_rule[group_id])
            rule["IpRanges"] = [{"CidrIp": entry["CidrIp"]} for entry in rule["IpRanges"]]
            ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[rule])
            changed.append((group_id, "revoked"))
    return changed
