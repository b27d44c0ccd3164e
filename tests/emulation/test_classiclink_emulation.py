"""ClassicLink emulation of the moto harness (tests/support/classiclink_emulation.py).

Everything goes over HTTP to the harness server (boto3 clients from conftest).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.classiclink_emulation import EC2_XMLNS
from tests.support.moto_harness import CLASSIC_AMI_ID, MotoHarness, launch_classic_instances

pytestmark = pytest.mark.emulation

NS = {"ec2": EC2_XMLNS}


# --------------------------------------------------------------------- helpers
def launch_classic(ec2: Any, count: int = 1, name: str | None = None) -> list[str]:
    """EC2-Classic instances are modelled as instances in moto's default VPC."""
    return launch_classic_instances(ec2, count, {"Name": name} if name else None)


def make_vpc(ec2: Any, cidr: str = "192.168.0.0/16", classic_link: bool = True) -> str:
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    if classic_link:
        assert ec2.enable_vpc_classic_link(VpcId=vpc_id)["Return"] is True
    return vpc_id


def make_groups(ec2: Any, vpc_id: str, count: int = 1, prefix: str = "mirror") -> list[str]:
    return [
        ec2.create_security_group(GroupName=f"{prefix}-{n}", Description="test", VpcId=vpc_id)["GroupId"]
        for n in range(count)
    ]


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


@pytest.fixture
def linkable(ec2: Any) -> dict[str, Any]:
    """One running classic instance, a ClassicLink-enabled VPC and two of its groups."""
    (instance_id,) = launch_classic(ec2, name="web-1")
    vpc_id = make_vpc(ec2)
    return {"instance": instance_id, "vpc": vpc_id, "groups": make_groups(ec2, vpc_id, 2)}


@pytest.fixture
def raw_ec2(moto: MotoHarness) -> Any:
    """EC2 client without client-side parameter validation (to reach server checks)."""
    return boto3.client(
        "ec2",
        region_name="us-east-1",
        endpoint_url=moto.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )


# ------------------------------------------------------------------ attach
def test_attach_happy_path(ec2: Any, linkable: dict[str, Any]) -> None:
    resp = ec2.attach_classic_link_vpc(
        InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"]
    )
    assert resp["Return"] is True
    (item,) = ec2.describe_classic_link_instances()["Instances"]
    assert item["InstanceId"] == linkable["instance"]
    assert item["VpcId"] == linkable["vpc"]
    assert [g["GroupId"] for g in item["Groups"]] == linkable["groups"]
    assert [g["GroupName"] for g in item["Groups"]] == ["mirror-0", "mirror-1"]
    assert item["Tags"] == [{"Key": "Name", "Value": "web-1"}]


def test_attach_not_running_instance(ec2: Any, linkable: dict[str, Any]) -> None:
    ec2.stop_instances(InstanceIds=[linkable["instance"]])
    with pytest.raises(ClientError) as excinfo:
        ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"])
    assert error_code(excinfo) == "InvalidInstanceID.NotLinkable"
    assert "running" in excinfo.value.response["Error"]["Message"]


def test_attach_vpc_instance_is_not_linkable(ec2: Any, linkable: dict[str, Any]) -> None:
    subnet = ec2.create_subnet(VpcId=linkable["vpc"], CidrBlock="192.168.1.0/24")["Subnet"]["SubnetId"]
    vpc_instance = ec2.run_instances(ImageId=CLASSIC_AMI_ID, MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]
    with pytest.raises(ClientError) as excinfo:
        ec2.attach_classic_link_vpc(
            InstanceId=vpc_instance["InstanceId"], VpcId=linkable["vpc"], Groups=linkable["groups"]
        )
    assert error_code(excinfo) == "InvalidInstanceID.NotLinkable"


def test_attach_vpc_without_classic_link(ec2: Any) -> None:
    (instance_id,) = launch_classic(ec2)
    vpc_id = make_vpc(ec2, classic_link=False)
    groups = make_groups(ec2, vpc_id)
    with pytest.raises(ClientError) as excinfo:
        ec2.attach_classic_link_vpc(InstanceId=instance_id, VpcId=vpc_id, Groups=groups)
    assert error_code(excinfo) == "InvalidParameterValue"
    assert "ClassicLink" in excinfo.value.response["Error"]["Message"]


def test_attach_without_groups(ec2: Any, linkable: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as excinfo:
        ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=[])
    assert error_code(excinfo) == "MissingParameter"


def test_attach_six_groups(ec2: Any, linkable: dict[str, Any]) -> None:
    groups = make_groups(ec2, linkable["vpc"], 6, prefix="many")
    with pytest.raises(ClientError) as excinfo:
        ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=groups)
    assert error_code(excinfo) == "SecurityGroupsPerInstanceLimitExceeded"
    assert ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=groups[:5])[
        "Return"
    ]


def test_attach_group_from_another_vpc(ec2: Any, linkable: dict[str, Any]) -> None:
    other_vpc = make_vpc(ec2, cidr="172.16.0.0/16")
    (foreign,) = make_groups(ec2, other_vpc, prefix="foreign")
    with pytest.raises(ClientError) as excinfo:
        ec2.attach_classic_link_vpc(
            InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=[linkable["groups"][0], foreign]
        )
    assert error_code(excinfo) == "InvalidGroup.NotFound"
    assert linkable["vpc"] in excinfo.value.response["Error"]["Message"]
    assert ec2.describe_classic_link_instances()["Instances"] == []


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("instance", "i-0123456789abcdef0", "InvalidInstanceID.NotFound"),
        ("vpc", "vpc-0123456789abcdef0", "InvalidVpcID.NotFound"),
        ("group", "sg-0123456789abcdef0", "InvalidGroup.NotFound"),
        ("instance", "i-nothex", "InvalidInstanceID.Malformed"),
        ("vpc", "vpc123", "InvalidVpcID.Malformed"),
        ("group", "default", "InvalidGroupId.Malformed"),
    ],
)
def test_attach_unknown_or_malformed_ids(ec2: Any, linkable: dict[str, Any], field: str, value: str, code: str) -> None:
    args = {"InstanceId": linkable["instance"], "VpcId": linkable["vpc"], "Groups": linkable["groups"]}
    args[{"instance": "InstanceId", "vpc": "VpcId"}.get(field, "Groups")] = [value] if field == "group" else value
    with pytest.raises(ClientError) as excinfo:
        ec2.attach_classic_link_vpc(**args)
    assert error_code(excinfo) == code
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_attach_missing_parameters(raw_ec2: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        raw_ec2.attach_classic_link_vpc(VpcId="vpc-0123456789abcdef0", Groups=["sg-0123456789abcdef0"])
    assert error_code(excinfo) == "MissingParameter"
    assert "InstanceId" in excinfo.value.response["Error"]["Message"]


def test_instance_links_to_one_vpc_at_a_time(ec2: Any, linkable: dict[str, Any]) -> None:
    ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"])
    other_vpc = make_vpc(ec2, cidr="172.16.0.0/16")
    other_groups = make_groups(ec2, other_vpc, prefix="other")
    for vpc_id, groups in ((other_vpc, other_groups), (linkable["vpc"], linkable["groups"][:1])):
        with pytest.raises(ClientError) as excinfo:
            ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=vpc_id, Groups=groups)
        assert error_code(excinfo) == "Resource.AlreadyAssociated"
    (item,) = ec2.describe_classic_link_instances()["Instances"]
    assert item["VpcId"] == linkable["vpc"]


def test_dry_run(ec2: Any, linkable: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as excinfo:
        ec2.attach_classic_link_vpc(
            InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"], DryRun=True
        )
    assert error_code(excinfo) == "DryRunOperation"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert ec2.describe_classic_link_instances()["Instances"] == []


# ------------------------------------------------------------------ detach
def test_detach(ec2: Any, linkable: dict[str, Any]) -> None:
    ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"])
    assert ec2.detach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"])["Return"] is True
    assert ec2.describe_classic_link_instances()["Instances"] == []
    # after unlinking, the instance can be linked again (e.g. with other groups)
    assert ec2.attach_classic_link_vpc(
        InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"][1:]
    )["Return"]


def test_detach_when_not_linked(ec2: Any, linkable: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as excinfo:
        ec2.detach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"])
    assert error_code(excinfo) == "IncorrectState"
    # linked, but to another VPC
    ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"])
    other_vpc = make_vpc(ec2, cidr="172.16.0.0/16")
    with pytest.raises(ClientError) as excinfo:
        ec2.detach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=other_vpc)
    assert error_code(excinfo) == "IncorrectState"
    with pytest.raises(ClientError) as excinfo:
        ec2.detach_classic_link_vpc(InstanceId="i-0123456789abcdef0", VpcId=linkable["vpc"])
    assert error_code(excinfo) == "InvalidInstanceID.NotFound"


# ---------------------------------------------------------------- describe
@pytest.fixture
def three_links(ec2: Any) -> dict[str, Any]:
    """web-0 and web-1 linked to vpc_a (groups a0 / a1), db linked to vpc_b."""
    web = launch_classic(ec2, 2)
    (db,) = launch_classic(ec2, name="db")
    for n, instance_id in enumerate(web):
        ec2.create_tags(
            Resources=[instance_id], Tags=[{"Key": "Name", "Value": f"web-{n}"}, {"Key": "tier", "Value": "web"}]
        )
    vpc_a, vpc_b = make_vpc(ec2), make_vpc(ec2, cidr="172.16.0.0/16")
    ga = make_groups(ec2, vpc_a, 2, prefix="a")
    (gb,) = make_groups(ec2, vpc_b, prefix="b")
    ec2.attach_classic_link_vpc(InstanceId=web[0], VpcId=vpc_a, Groups=[ga[0]])
    ec2.attach_classic_link_vpc(InstanceId=web[1], VpcId=vpc_a, Groups=ga)
    ec2.attach_classic_link_vpc(InstanceId=db, VpcId=vpc_b, Groups=[gb])
    return {"web": web, "db": db, "vpc_a": vpc_a, "vpc_b": vpc_b, "ga": ga, "gb": gb}


def linked_ids(ec2: Any, **kwargs: Any) -> set[str]:
    return {i["InstanceId"] for i in ec2.describe_classic_link_instances(**kwargs)["Instances"]}


def test_describe_filters(ec2: Any, three_links: dict[str, Any]) -> None:
    t = three_links
    web, db = set(t["web"]), {t["db"]}

    def f(name: str, *values: str) -> set[str]:
        return linked_ids(ec2, Filters=[{"Name": name, "Values": list(values)}])

    assert linked_ids(ec2) == web | db
    assert f("instance-id", t["db"]) == db
    assert f("instance-id", t["db"], t["web"][0]) == db | {t["web"][0]}
    assert f("vpc-id", t["vpc_a"]) == web
    assert f("group-id", t["ga"][1]) == {t["web"][1]}
    assert f("group-id", t["ga"][0]) == web
    assert f("tag:Name", "db") == db
    assert f("tag:Name", "web-*") == web
    assert f("tag:Name", "web-?", "db") == web | db
    assert f("tag-key", "tier") == web
    assert f("tag-value", "web") == web
    both = [{"Name": "vpc-id", "Values": [t["vpc_a"]]}, {"Name": "tag:Name", "Values": ["web-1"]}]
    assert linked_ids(ec2, Filters=both) == {t["web"][1]}
    assert linked_ids(ec2, InstanceIds=[t["db"]]) == db


def test_describe_unlinked_and_unknown_instance_ids(ec2: Any, three_links: dict[str, Any]) -> None:
    (unlinked,) = launch_classic(ec2)
    assert linked_ids(ec2, InstanceIds=[unlinked]) == set()
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_classic_link_instances(InstanceIds=["i-0123456789abcdef0"])
    assert error_code(excinfo) == "InvalidInstanceID.NotFound"
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_classic_link_instances(Filters=[{"Name": "group-name", "Values": ["x"]}])
    assert error_code(excinfo) == "InvalidParameterValue"


def test_describe_parameter_errors(raw_ec2: Any, three_links: dict[str, Any]) -> None:
    cases = [
        ({"MaxResults": 4}, "InvalidParameterValue"),
        ({"MaxResults": 5, "InstanceIds": [three_links["db"]]}, "InvalidParameterCombination"),
        ({"NextToken": "not-a-token"}, "InvalidNextToken"),
        ({"InstanceIds": ["i-bad"]}, "InvalidInstanceID.Malformed"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as excinfo:
            raw_ec2.describe_classic_link_instances(**kwargs)
        assert error_code(excinfo) == code, kwargs
    # above 1000 is accepted and capped, per the reference
    assert len(raw_ec2.describe_classic_link_instances(MaxResults=5000)["Instances"]) == 3


def test_describe_pagination(ec2: Any) -> None:
    instances = launch_classic(ec2, 12)
    vpc_id = make_vpc(ec2)
    groups = make_groups(ec2, vpc_id)
    for instance_id in instances:
        ec2.attach_classic_link_vpc(InstanceId=instance_id, VpcId=vpc_id, Groups=groups)

    pages, token = [], None
    while True:
        kwargs: dict[str, Any] = {"MaxResults": 5, **({"NextToken": token} if token else {})}
        resp = ec2.describe_classic_link_instances(**kwargs)
        pages.append([i["InstanceId"] for i in resp["Instances"]])
        token = resp.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [5, 5, 2]
    seen = [i for page in pages for i in page]
    assert len(seen) == len(set(seen)) == 12
    assert set(seen) == set(instances)

    paginator = ec2.get_paginator("describe_classic_link_instances")
    paged = [
        i["InstanceId"] for page in paginator.paginate(PaginationConfig={"PageSize": 5}) for i in page["Instances"]
    ]
    assert sorted(paged) == sorted(instances) and len(paged) == 12


def test_describe_xml_shape(ec2: Any, linkable: dict[str, Any]) -> None:
    ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"])
    raw: list[bytes] = []
    ec2.meta.events.register(
        "after-call.ec2.DescribeClassicLinkInstances",
        lambda http_response, **_: raw.append(http_response.content),
    )
    ec2.describe_classic_link_instances()
    root = ET.fromstring(raw[0])
    assert root.tag == f"{{{EC2_XMLNS}}}DescribeClassicLinkInstancesResponse"
    assert root.find("ec2:requestId", NS) is not None
    item = root.find("ec2:instancesSet/ec2:item", NS)
    assert item is not None
    assert item.findtext("ec2:instanceId", namespaces=NS) == linkable["instance"]
    assert item.findtext("ec2:vpcId", namespaces=NS) == linkable["vpc"]
    assert [g.findtext("ec2:groupId", namespaces=NS) for g in item.findall("ec2:groupSet/ec2:item", NS)] == linkable[
        "groups"
    ]
    assert item.findtext("ec2:tagSet/ec2:item/ec2:key", namespaces=NS) == "Name"
    assert root.find("ec2:nextToken", NS) is None


# ------------------------------------------------------- link lifecycle
def test_link_ends_when_instance_stops_and_stays_gone(ec2: Any, linkable: dict[str, Any]) -> None:
    ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"])
    ec2.stop_instances(InstanceIds=[linkable["instance"]])
    assert ec2.describe_classic_link_instances()["Instances"] == []
    ec2.start_instances(InstanceIds=[linkable["instance"]])
    assert ec2.describe_classic_link_instances()["Instances"] == []
    # ... and can be linked again once running
    ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"])
    ec2.terminate_instances(InstanceIds=[linkable["instance"]])
    assert ec2.describe_classic_link_instances()["Instances"] == []


def test_stop_then_start_without_describe_in_between(ec2: Any, moto: MotoHarness, linkable: dict[str, Any]) -> None:
    ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"])
    ec2.stop_instances(InstanceIds=[linkable["instance"]])
    ec2.start_instances(InstanceIds=[linkable["instance"]])
    assert moto.classiclink_links() == []


def test_links_are_per_region(ec2: Any, ec2_client: Callable[..., Any], linkable: dict[str, Any]) -> None:
    ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"])
    assert ec2_client("us-west-2").describe_classic_link_instances()["Instances"] == []
    assert len(ec2.describe_classic_link_instances()["Instances"]) == 1


def test_moto_reset_clears_links(ec2: Any, moto: MotoHarness, linkable: dict[str, Any]) -> None:
    ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"])
    assert len(moto.classiclink_links()) == 1
    moto.reset()
    assert moto.classiclink_links() == []
    assert moto.calls() == []
    assert ec2.describe_classic_link_instances()["Instances"] == []


# ---------------------------------------------------------------- recorder
def test_recorder_counts(ec2: Any, moto: MotoHarness, linkable: dict[str, Any]) -> None:
    moto.reset_calls()
    ec2.describe_vpcs()
    ec2.attach_classic_link_vpc(InstanceId=linkable["instance"], VpcId=linkable["vpc"], Groups=linkable["groups"])
    ec2.describe_classic_link_instances()
    with pytest.raises(ClientError):
        ec2.detach_classic_link_vpc(InstanceId=linkable["instance"], VpcId="vpc-0123456789abcdef0")
    ec2_client_west = boto3.client(
        "ec2",
        region_name="eu-west-1",
        endpoint_url=moto.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ec2_client_west.create_vpc(CidrBlock="192.168.0.0/16")

    def row(action: str, mutating: bool, status: int = 200, region: str = "us-east-1") -> dict[str, Any]:
        return {"service": "ec2", "region": region, "action": action, "mutating": mutating, "status": status}

    expected = [
        row("DescribeVpcs", False),
        row("AttachClassicLinkVpc", True),
        row("DescribeClassicLinkInstances", False),
        row("DetachClassicLinkVpc", True, 400),
        row("CreateVpc", True, region="eu-west-1"),
    ]
    assert moto.calls() == expected
    assert moto.mutating_calls() == [c for c in expected if c["mutating"]]
