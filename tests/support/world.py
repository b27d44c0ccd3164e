"""The "classic-mirror-test" stack: the environment the demo and the playbook tests mirror.

A load-balanced web service as it looked on EC2-Classic, built with boto3 on
the moto harness (moto's default VPC stands in for EC2-Classic, so the
modules run with ``classic_vpc_id: default``):

* ``elb-frontend``: an untagged group standing in for the Classic load
  balancer's group.  The backend allows it by group id; no mirror can
  translate that reference, so it is reported as a skipped reference.
* ``<stack>-backend``: port 8080 from ``elb-frontend``; link tag spelled as
  in the guide (``classicmirror:linkToVPC``).
* ``<stack>-ssh``: port 22 from an admin CIDR; link tag spelled as in the
  2016 code (``classiclinkmirror:linkToVPC``).
* three running ``t1.micro`` instances in both groups;
* the target VPC with ClassicLink enabled.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from tests.support.moto_harness import CLASSIC_AMI_ID

STACK = "classic-mirror-test"
ELB_GROUP_NAME = "elb-frontend"
GUIDE_LINK_TAG = "classicmirror:linkToVPC"
CODE_LINK_TAG = "classiclinkmirror:linkToVPC"
DEFAULT_SSH_CIDR = "203.0.113.0/24"
DEFAULT_VPC_CIDR = "10.1.0.0/16"
BACKEND_PORT = 8080
INSTANCE_COUNT = 3
# moto enables ClassicLink only outside 10.0.0.0/8, or on exactly these two blocks.
_CLASSICLINK_10_BLOCKS = (ipaddress.ip_network("10.0.0.0/16"), ipaddress.ip_network("10.1.0.0/16"))


@dataclass(frozen=True)
class World:
    """Ids of what :func:`build_world` made in one region."""

    region: str
    stack: str
    classic_vpc_id: str  # moto's default VPC (the EC2-Classic stand-in)
    vpc_id: str  # the target VPC
    elb_group_id: str
    backend_group_id: str
    ssh_group_id: str
    instance_ids: tuple[str, ...]
    ssh_cidr: str

    @property
    def backend_name(self) -> str:
        return f"{self.stack}-backend"

    @property
    def ssh_name(self) -> str:
        return f"{self.stack}-ssh"

    @property
    def source_group_ids(self) -> tuple[str, str]:
        return (self.backend_group_id, self.ssh_group_id)


def ec2_client(endpoint_url: str, region: str = "us-east-1") -> Any:
    """A boto3 EC2 client on the harness (fake credentials, no client retries)."""
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    ).client(
        "ec2",
        endpoint_url=endpoint_url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def _check_vpc_cidr(cidr: str) -> None:
    network = ipaddress.ip_network(cidr)
    if network.subnet_of(ipaddress.ip_network("10.0.0.0/8")) and network not in _CLASSICLINK_10_BLOCKS:
        raise ValueError(
            f"ClassicLink cannot be enabled on a VPC in {cidr}: use 10.0.0.0/16, 10.1.0.0/16 or a block outside 10.0.0.0/8"
        )


def _group(ec2: Any, name: str, vpc_id: str, description: str, tags: dict[str, str]) -> str:
    params: dict[str, Any] = {"GroupName": name, "Description": description, "VpcId": vpc_id}
    if tags:
        params["TagSpecifications"] = [
            {"ResourceType": "security-group", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    return ec2.create_security_group(**params)["GroupId"]


def default_vpc_id(ec2: Any) -> str:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if len(vpcs) != 1:
        raise RuntimeError(f"expected one default VPC, found {len(vpcs)}")
    return vpcs[0]["VpcId"]


def build_world(
    ec2: Any,
    *,
    ssh_cidr: str = DEFAULT_SSH_CIDR,
    vpc_cidr: str = DEFAULT_VPC_CIDR,
    stack: str = STACK,
    instances: int = INSTANCE_COUNT,
) -> World:
    """Build the stack in the region of ``ec2`` (a boto3 EC2 client on the harness)."""
    _check_vpc_cidr(vpc_cidr)
    region = ec2.meta.region_name
    classic = default_vpc_id(ec2)

    vpc_id = ec2.create_vpc(
        CidrBlock=vpc_cidr,
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": f"{stack}-vpc"}]}],
    )["Vpc"]["VpcId"]
    if ec2.enable_vpc_classic_link(VpcId=vpc_id)["Return"] is not True:
        raise RuntimeError(f"moto refused to enable ClassicLink on {vpc_id} ({vpc_cidr})")

    elb = _group(ec2, ELB_GROUP_NAME, classic, "Classic load balancer of the web service", {})
    backend = _group(
        ec2, f"{stack}-backend", classic, "Web backends behind the load balancer", {GUIDE_LINK_TAG: vpc_id}
    )
    ssh = _group(ec2, f"{stack}-ssh", classic, "SSH from the admin network", {CODE_LINK_TAG: vpc_id})
    ec2.authorize_security_group_ingress(
        GroupId=backend,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": BACKEND_PORT,
                "ToPort": BACKEND_PORT,
                "UserIdGroupPairs": [{"GroupId": elb, "Description": "load balancer to backends"}],
            }
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=ssh,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": ssh_cidr, "Description": "admins"}],
            }
        ],
    )

    reservation = ec2.run_instances(
        ImageId=CLASSIC_AMI_ID,
        MinCount=instances,
        MaxCount=instances,
        InstanceType="t1.micro",
        SecurityGroupIds=[backend, ssh],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": f"{stack}-web"}]}],
    )
    instance_ids = tuple(sorted(item["InstanceId"] for item in reservation["Instances"]))
    return World(region, stack, classic, vpc_id, elb, backend, ssh, instance_ids, ssh_cidr)


def mirror_of(ec2: Any, world: World, source_id: str, vpc_id: str | None = None) -> dict[str, Any] | None:
    """The group in the target VPC whose mirroredFrom tag names ``source_id``."""
    groups = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id or world.vpc_id]},
            {"Name": "tag:classiclinkmirror:mirroredFromClassicSecurityGroupId", "Values": [source_id]},
        ]
    )["SecurityGroups"]
    return groups[0] if groups else None


def classic_links(ec2: Any) -> dict[str, tuple[str, frozenset[str]]]:
    """instance id -> (VPC, group ids) of its ClassicLink, as DescribeClassicLinkInstances reports."""
    pages = ec2.get_paginator("describe_classic_link_instances").paginate().build_full_result()
    return {
        item["InstanceId"]: (item["VpcId"], frozenset(g["GroupId"] for g in item["Groups"]))
        for item in pages["Instances"]
    }
