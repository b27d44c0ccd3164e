"""Prefix-list corrections of the moto harness (tests/support/prefix_list_emulation.py).

Everything goes over HTTP to the harness server (boto3 clients from conftest);
each test names the EC2 behaviour it pins.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.moto_harness import MotoHarness

pytestmark = pytest.mark.emulation


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def cidrs(count: int, base: int = 0) -> list[str]:
    return ["10.%d.%d.%d/32" % ((base + i) // 65536, (base + i) // 256 % 256, (base + i) % 256) for i in range(count)]


def entries(values: list[str], description: str | None = None) -> list[dict[str, str]]:
    return [{"Cidr": c, **({"Description": description} if description else {})} for c in values]


def make_list(ec2: Any, values: list[str] | None = None, max_entries: int = 10, name: str = "members", **extra: Any) -> dict:
    return ec2.create_managed_prefix_list(PrefixListName=name, MaxEntries=max_entries, AddressFamily="IPv4",
                                          Entries=entries(values or []), **extra)["PrefixList"]


def current(ec2: Any, list_id: str) -> tuple[dict, set[str]]:
    (described,) = ec2.describe_managed_prefix_lists(PrefixListIds=[list_id])["PrefixLists"]
    found = {e["Cidr"] for e in ec2.get_managed_prefix_list_entries(PrefixListId=list_id)["Entries"]}
    return described, found


@pytest.fixture
def raw_ec2(moto: MotoHarness) -> Any:
    """EC2 client without client-side parameter validation (to reach server checks)."""
    return boto3.client("ec2", region_name="us-east-1", endpoint_url=moto.url, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))


# ------------------------------------------------------------------ CurrentVersion
def test_a_stale_current_version_is_refused(ec2: Any) -> None:
    pl = make_list(ec2, cidrs(2))
    pl_id = pl["PrefixListId"]
    assert pl["Version"] == 1
    ec2.modify_managed_prefix_list(PrefixListId=pl_id, CurrentVersion=1, PrefixListName="members",
                                   AddEntries=entries(["10.9.0.1/32"]))
    with pytest.raises(ClientError) as raised:
        ec2.modify_managed_prefix_list(PrefixListId=pl_id, CurrentVersion=1, PrefixListName="members",
                                       RemoveEntries=[{"Cidr": cidrs(1)[0]}])
    assert code_of(raised) == "PrefixListVersionMismatch"
    described, found = current(ec2, pl_id)
    assert described["Version"] == 2 and found == set(cidrs(2)) | {"10.9.0.1/32"}  # the stale call changed nothing


def test_each_entry_change_makes_one_version_and_without_current_version_applies_to_the_latest(ec2: Any) -> None:
    pl_id = make_list(ec2)["PrefixListId"]
    answer = ec2.modify_managed_prefix_list(PrefixListId=pl_id, PrefixListName="members", AddEntries=entries(cidrs(3)))
    assert answer["PrefixList"]["Version"] == 2 and answer["PrefixList"]["State"] == "modify-complete"
    ec2.modify_managed_prefix_list(PrefixListId=pl_id, CurrentVersion=2, PrefixListName="members",
                                   RemoveEntries=[{"Cidr": cidrs(3)[0]}])
    assert current(ec2, pl_id) == (current(ec2, pl_id)[0], set(cidrs(3)[1:]))
    assert current(ec2, pl_id)[0]["Version"] == 3


# ------------------------------------------------------------------ MaxEntries
def test_resize_is_honoured_in_a_call_of_its_own_and_makes_no_version(ec2: Any) -> None:
    pl_id = make_list(ec2, cidrs(10))["PrefixListId"]
    with pytest.raises(ClientError) as raised:
        ec2.modify_managed_prefix_list(PrefixListId=pl_id, PrefixListName="members", MaxEntries=20,
                                       AddEntries=entries(["10.9.0.1/32"]))
    assert code_of(raised) == "InvalidParameterCombination"
    answer = ec2.modify_managed_prefix_list(PrefixListId=pl_id, CurrentVersion=1, PrefixListName="members", MaxEntries=20)
    assert (answer["PrefixList"]["MaxEntries"], answer["PrefixList"]["Version"]) == (20, 1)
    assert current(ec2, pl_id)[0]["MaxEntries"] == 20
    ec2.modify_managed_prefix_list(PrefixListId=pl_id, CurrentVersion=1, PrefixListName="members", AddEntries=entries(cidrs(5, 10)))
    assert len(current(ec2, pl_id)[1]) == 15


def test_a_resize_below_the_entries_or_above_1000_is_refused(ec2: Any) -> None:
    pl_id = make_list(ec2, cidrs(8))["PrefixListId"]
    for size in (5, 1001):
        with pytest.raises(ClientError) as raised:
            ec2.modify_managed_prefix_list(PrefixListId=pl_id, PrefixListName="members", MaxEntries=size)
        assert code_of(raised) == "InvalidParameterValue"
    assert current(ec2, pl_id)[0]["MaxEntries"] == 10


def test_adding_beyond_max_entries_is_refused(ec2: Any) -> None:
    pl_id = make_list(ec2, cidrs(9))["PrefixListId"]
    with pytest.raises(ClientError) as raised:
        ec2.modify_managed_prefix_list(PrefixListId=pl_id, CurrentVersion=1, PrefixListName="members",
                                       AddEntries=entries(cidrs(2, 100)))
    assert code_of(raised) == "PrefixListMaxEntriesExceeded"
    # replacing within the size is fine: removals count first
    ec2.modify_managed_prefix_list(PrefixListId=pl_id, CurrentVersion=1, PrefixListName="members",
                                   AddEntries=entries(cidrs(2, 100)), RemoveEntries=[{"Cidr": c} for c in cidrs(2)])
    assert len(current(ec2, pl_id)[1]) == 9


def test_more_than_100_entries_per_call_is_refused(raw_ec2: Any) -> None:
    pl_id = make_list(raw_ec2, max_entries=1000)["PrefixListId"]
    for field in ("AddEntries", "RemoveEntries"):
        with pytest.raises(ClientError) as raised:
            raw_ec2.modify_managed_prefix_list(PrefixListId=pl_id, PrefixListName="members", **{field: entries(cidrs(101))})
        assert code_of(raised) == "InvalidParameterValue"
    with pytest.raises(ClientError) as raised:
        make_list(raw_ec2, cidrs(101), max_entries=1000, name="big")
    assert code_of(raised) == "InvalidParameterValue"
    assert make_list(raw_ec2, cidrs(100), max_entries=1000, name="ok")["Version"] == 1


def test_create_refuses_more_entries_than_max_entries_a_reserved_name_and_the_wrong_family(raw_ec2: Any) -> None:
    for kwargs, code in [
        (dict(values=cidrs(11), max_entries=10), "PrefixListMaxEntriesExceeded"),
        (dict(name="com.amazonaws.mine"), "InvalidParameterValue"),
        (dict(values=["2001:db8::1/128"]), "InvalidParameterValue"),
        (dict(max_entries=0), "InvalidParameterValue"),
    ]:
        with pytest.raises(ClientError) as raised:
            make_list(raw_ec2, **kwargs)
        assert code_of(raised) == code, kwargs


# ------------------------------------------------------------------ name, ids, ClientToken
def test_the_name_is_kept_when_prefix_list_name_is_not_passed(ec2: Any) -> None:
    pl_id = make_list(ec2, name="kept")["PrefixListId"]
    answer = ec2.modify_managed_prefix_list(PrefixListId=pl_id, AddEntries=entries(cidrs(1)))
    assert answer["PrefixList"]["PrefixListName"] == "kept"
    assert current(ec2, pl_id)[0]["PrefixListName"] == "kept"
    ec2.modify_managed_prefix_list(PrefixListId=pl_id, PrefixListName="renamed")
    described = current(ec2, pl_id)[0]
    assert (described["PrefixListName"], described["Version"]) == ("renamed", 2)  # renaming makes no version


@pytest.mark.parametrize("call", ["modify", "delete", "entries", "describe"])
def test_an_unknown_prefix_list_id_is_not_found(ec2: Any, call: str) -> None:
    unknown = "pl-0123456789abcdef0"
    calls = {
        "modify": lambda: ec2.modify_managed_prefix_list(PrefixListId=unknown, AddEntries=entries(cidrs(1))),
        "delete": lambda: ec2.delete_managed_prefix_list(PrefixListId=unknown),
        "entries": lambda: ec2.get_managed_prefix_list_entries(PrefixListId=unknown),
        "describe": lambda: ec2.describe_managed_prefix_lists(PrefixListIds=[unknown]),
    }
    with pytest.raises(ClientError) as raised:
        calls[call]()
    assert code_of(raised) == "InvalidPrefixListID.NotFound"


def test_a_deleted_list_cannot_be_modified(ec2: Any) -> None:
    pl_id = make_list(ec2)["PrefixListId"]
    ec2.delete_managed_prefix_list(PrefixListId=pl_id)
    with pytest.raises(ClientError) as raised:
        ec2.modify_managed_prefix_list(PrefixListId=pl_id, AddEntries=entries(cidrs(1)))
    assert code_of(raised) == "InvalidPrefixListID.NotFound"


def test_client_token_makes_create_idempotent(ec2: Any, moto: MotoHarness) -> None:
    tags = [{"ResourceType": "prefix-list", "Tags": [{"Key": "k", "Value": "v"}]}]
    first = make_list(ec2, cidrs(1), ClientToken="token-1", TagSpecifications=tags)
    again = make_list(ec2, cidrs(1), ClientToken="token-1", TagSpecifications=tags)
    other = make_list(ec2, cidrs(1), ClientToken="token-2")
    assert again["PrefixListId"] == first["PrefixListId"] != other["PrefixListId"]
    assert again["Tags"] == [{"Key": "k", "Value": "v"}]
    mine = [pl for pl in ec2.describe_managed_prefix_lists()["PrefixLists"] if pl.get("PrefixListName") == "members"]
    assert len(mine) == 2
    moto.reset()
    assert make_list(ec2, ClientToken="token-1")["PrefixListId"] != first["PrefixListId"]  # reset forgets tokens


# ------------------------------------------------------------------ security group rules
def group(ec2: Any) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    return ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]


def pl_rules(ec2: Any, group_id: str) -> list[tuple]:
    (sg,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return sorted((p["FromPort"], e["PrefixListId"], e.get("Description")) for p in sg["IpPermissions"] for e in p.get("PrefixListIds", []))


def test_prefix_list_rule_descriptions_are_kept_and_updated(ec2: Any) -> None:
    group_id = group(ec2)
    pl_a, pl_b = make_list(ec2, name="a")["PrefixListId"], make_list(ec2, name="b")["PrefixListId"]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "PrefixListIds": [{"PrefixListId": pl_a, "Description": "members of a"}, {"PrefixListId": pl_b}]}])
    assert pl_rules(ec2, group_id) == sorted([(443, pl_a, "members of a"), (443, pl_b, None)])
    ec2.update_security_group_rule_descriptions_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": pl_b, "Description": "b now"}]}])
    assert pl_rules(ec2, group_id) == sorted([(443, pl_a, "members of a"), (443, pl_b, "b now")])
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroupRules"]
    assert {(r.get("PrefixListId"), r.get("Description")) for r in rules if r.get("PrefixListId")} == {
        (pl_a, "members of a"), (pl_b, "b now")}


def test_a_reference_counts_its_max_entries_against_the_rules_quota(ec2: Any) -> None:
    group_id = group(ec2)
    big = make_list(ec2, max_entries=50, name="big")["PrefixListId"]

    def allow(port: int, **target: Any) -> None:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **target}])

    allow(1, PrefixListIds=[{"PrefixListId": big}])  # 50 of 60
    allow(2, IpRanges=[{"CidrIp": "10.%d.0.0/16" % i} for i in range(10)])  # 60 of 60
    with pytest.raises(ClientError) as raised:
        allow(3, IpRanges=[{"CidrIp": "192.168.0.0/16"}])
    assert code_of(raised) == "RulesPerSecurityGroupLimitExceeded"
    with pytest.raises(ClientError) as raised:
        allow(4, PrefixListIds=[{"PrefixListId": big}])
    assert code_of(raised) == "RulesPerSecurityGroupLimitExceeded"


def test_a_resize_that_a_referencing_group_cannot_take_fails_in_the_state(ec2: Any) -> None:
    group_id = group(ec2)
    pl_id = make_list(ec2, cidrs(5), name="grow")["PrefixListId"]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "PrefixListIds": [{"PrefixListId": pl_id}]}])
    answer = ec2.modify_managed_prefix_list(PrefixListId=pl_id, PrefixListName="grow", MaxEntries=70)["PrefixList"]
    assert answer["State"] == "modify-failed" and group_id in answer["StateMessage"]
    assert current(ec2, pl_id)[0]["MaxEntries"] == 10
    assert ec2.modify_managed_prefix_list(PrefixListId=pl_id, PrefixListName="grow", MaxEntries=50)["PrefixList"]["State"] == "modify-complete"
    assert current(ec2, pl_id)[0]["MaxEntries"] == 50
