"""Builders and readers for integration tests: set up groups on the moto server
and read them back the way a user would check them (boto3 describes).

Deliberately independent of the collection's own code: rules are read back
from the raw describe output, not through plugins/module_utils.
"""

from __future__ import annotations

from typing import Any, Iterable

from tests.support.moto_harness import CLASSIC_AMI_ID

LINK_TAG = "classiclinkmirror:linkToVPC"
GUIDE_LINK_TAG = "classicmirror:linkToVPC"
MIRRORED_FROM = "classiclinkmirror:mirroredFromClassicSecurityGroupId"
MIRRORED_TO = "classiclinkmirror:mirroredToVpcSecurityGroupId"


def make_vpc(ec2: Any, cidr: str = "10.1.0.0/16", classiclink: bool = True) -> str:
    """A VPC; ClassicLink can only be enabled outside 10.0.0.0/8 (except 10.0/16 and 10.1/16)."""
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    if classiclink:
        assert ec2.enable_vpc_classic_link(VpcId=vpc_id)["Return"] is True, cidr
    return vpc_id


def make_group(ec2: Any, name: str, vpc_id: str | None = None, link: str | None = None,
               description: str | None = None, tag_key: str = LINK_TAG) -> str:
    params = {"GroupName": name, "Description": description or f"{name} group"}
    if vpc_id:
        params["VpcId"] = vpc_id
    group_id = ec2.create_security_group(**params)["GroupId"]
    if link is not None:
        ec2.create_tags(Resources=[group_id], Tags=[{"Key": tag_key, "Value": link}])
    return group_id


def tcp(port: int, *, cidr: str | None = None, group: str | None = None, to_port: int | None = None,
        description: str | None = None, cidr6: str | None = None, prefix_list: str | None = None) -> dict:
    perm: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": to_port or port}
    extra = {"Description": description} if description else {}
    if cidr:
        perm["IpRanges"] = [{"CidrIp": cidr, **extra}]
    if cidr6:
        perm["Ipv6Ranges"] = [{"CidrIpv6": cidr6, **extra}]
    if group:
        perm["UserIdGroupPairs"] = [{"GroupId": group, **extra}]
    if prefix_list:
        perm["PrefixListIds"] = [{"PrefixListId": prefix_list, **extra}]
    return perm


def allow(ec2: Any, group_id: str, *perms: dict, egress: bool = False) -> None:
    if egress:
        ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=list(perms))
    else:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=list(perms))


def revoke(ec2: Any, group_id: str, *perms: dict) -> None:
    ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=list(perms))


def describe(ec2: Any, group_id: str) -> dict:
    return ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]


def tags(group: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in group.get("Tags", [])}


def groups_in(ec2: Any, vpc_id: str) -> list[dict]:
    return ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]


def group_named(ec2: Any, vpc_id: str, name: str) -> dict | None:
    found = [g for g in groups_in(ec2, vpc_id) if g["GroupName"] == name]
    assert len(found) <= 1, f"duplicate groups named {name} in {vpc_id}: {found}"
    return found[0] if found else None


def rules(group: dict, egress: bool = False) -> set[tuple]:
    """(protocol, from, to, target, description) per target, straight from the describe output."""
    out = set()
    for perm in group["IpPermissionsEgress" if egress else "IpPermissions"]:
        head = (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"))
        for entry in perm.get("IpRanges", []):
            out.add(head + (entry["CidrIp"], entry.get("Description")))
        for entry in perm.get("Ipv6Ranges", []):
            out.add(head + (entry["CidrIpv6"], entry.get("Description")))
        for entry in perm.get("PrefixListIds", []):
            out.add(head + (entry["PrefixListId"], entry.get("Description")))
        for entry in perm.get("UserIdGroupPairs", []):
            out.add(head + (entry["GroupId"], entry.get("Description")))
    return out


def actions(calls: Iterable[dict]) -> list[str]:
    return [call["action"] for call in calls]


def mutating(moto: Any) -> list[str]:
    return actions(moto.mutating_calls())


def any_image(ec2: Any) -> str:
    return CLASSIC_AMI_ID  # describing moto's 1,300 images costs seconds per launch


def launch(ec2: Any, group_ids: list[str], count: int = 1, instance_type: str = "t1.micro") -> list[str]:
    """Instances in moto's default VPC: the harness's stand-in for EC2-Classic instances."""
    reservation = ec2.run_instances(ImageId=any_image(ec2), MinCount=count, MaxCount=count,
                                    InstanceType=instance_type, SecurityGroupIds=group_ids)
    return [instance["InstanceId"] for instance in reservation["Instances"]]


def links(ec2: Any) -> dict[str, tuple[str, set[str]]]:
    """instance id -> (VPC, group ids), as DescribeClassicLinkInstances reports them."""
    out = {}
    for item in ec2.get_paginator("describe_classic_link_instances").paginate().build_full_result()["Instances"]:
        out[item["InstanceId"]] = (item["VpcId"], {g["GroupId"] for g in item["Groups"]})
    return out
