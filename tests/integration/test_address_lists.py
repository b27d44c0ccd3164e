"""address_lists.py against the moto server, through Scope: calls counted at the server.

The harness corrects moto's prefix lists to the EC2 API reference
(tests/support/prefix_list_emulation.py: versions checked, resize alone, limits),
so what these tests count is what EC2 would be asked.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.classiclink.mirror.plugins.module_utils import describe
from ansible_collections.classiclink.mirror.plugins.module_utils.address_lists import (
    ListExecutor,
    load_lists,
    member_interfaces,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.addresses import (
    ADDRESSES_OF_TAG,
    IPV4,
    NONE,
    max_entries_for,
    member_addresses,
    plan_scope_lists,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.scope import THROTTLE_RETRIES, EC2Retry, Scope
from tests.support.aws_proxy import start_proxy
from tests.support.moto_harness import MotoHarness

ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's default account


def scope_at(url: str, attempts: int = 1) -> Scope:
    client = boto3.client("ec2", region_name=REGION, endpoint_url=url, aws_access_key_id="testing",
                          aws_secret_access_key="testing", config=Config(retries={"mode": "standard", "total_max_attempts": attempts}))
    return Scope(RetryingBotoClientWrapper(client, EC2Retry.jittered_backoff(**THROTTLE_RETRIES)), REGION)


def arn(group_id: str) -> str:
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{group_id}"


class World:
    """A VPC, a subnet, a group and its member interfaces."""

    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        self.subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.0.0/20")["Subnet"]["SubnetId"]
        self.group = ec2.create_security_group(GroupName="cluster", Description="cluster", VpcId=vpc)["GroupId"]
        self.other = ec2.create_security_group(GroupName="other", Description="other", VpcId=vpc)["GroupId"]

    def member(self, count: int = 1, group: str | None = None) -> list[str]:
        return [self.ec2.create_network_interface(SubnetId=self.subnet, Groups=[group or self.group])["NetworkInterface"]["NetworkInterfaceId"]
                for _index in range(count)]

    def leave(self, *interface_ids: str) -> None:
        for interface_id in interface_ids:
            self.ec2.delete_network_interface(NetworkInterfaceId=interface_id)

    def addresses(self) -> set[str]:
        found = self.ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [self.group]}])["NetworkInterfaces"]
        return {f"{i['PrivateIpAddress']}/32" for i in found}


def plans_for(scope: Scope, world: World, prune: bool = False, wanted_groups: tuple[str, ...] | None = None):
    groups = wanted_groups if wanted_groups is not None else (world.group,)
    interfaces = member_interfaces(scope, groups)
    wanted = {arn(g): member_addresses(interfaces, g) for g in groups}
    return plan_scope_lists(wanted, load_lists(scope, ACCOUNT).all(), prune=prune)


def calls(moto: MotoHarness) -> list[tuple[str, int]]:
    return [(c["action"], c["status"]) for c in moto.calls() if c["service"] == "ec2"]


def mutations(moto: MotoHarness) -> list[str]:
    return [action for action, _status in calls(moto) if not action.startswith(("Describe", "Get"))]


def the_list(ec2: Any, list_id: str) -> tuple[dict, dict[str, str | None]]:
    (described,) = ec2.describe_managed_prefix_lists(PrefixListIds=[list_id])["PrefixLists"]
    entries = ec2.get_managed_prefix_list_entries(PrefixListId=list_id)["Entries"]
    return described, {e["Cidr"]: e.get("Description") for e in entries}


@pytest.fixture
def world(ec2: Any) -> World:
    return World(ec2)


@pytest.fixture
def scope(moto: MotoHarness) -> Scope:
    return scope_at(moto.url)


def converge(scope: Scope, world: World, **kwargs: Any):
    plans = plans_for(scope, world, **kwargs)
    return plans, ListExecutor(scope, concurrency=4).apply(plans)


def test_create_tags_the_list_and_holds_the_members_addresses(moto, ec2, world, scope):
    members = world.member(3)
    moto.reset_calls()
    plans, outcome = converge(scope, world)
    (plan,) = plans
    assert outcome.failed == {}
    list_id = outcome.ids[plan.placeholder]
    assert mutations(moto) == ["CreateManagedPrefixList"]
    described, entries = the_list(ec2, list_id)
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {ADDRESSES_OF_TAG: arn(world.group)}
    assert (described["AddressFamily"], described["MaxEntries"], described["PrefixListName"]) == (
        IPV4, 10, f"classiclinkmirror-addresses-{world.group}-{ACCOUNT}-{REGION}-ipv4")
    assert set(entries) == world.addresses()
    assert sorted(entries.values()) == sorted(f"interface {m}" for m in members)  # each entry names its member
    assert load_lists(scope, ACCOUNT)[arn(world.group)][IPV4].entries == world.addresses()


def test_a_membership_change_is_one_modify_and_a_converged_list_no_call(moto, ec2, world, scope):
    first, second, _third = world.member(3)
    _plans, outcome = converge(scope, world)
    list_id = next(iter(outcome.ids.values()))
    world.leave(first)
    world.member(1)
    moto.reset_calls()

    plans, outcome = converge(scope, world)
    assert outcome.failed == {} and [p.action for p in plans] == ["modify"]
    assert mutations(moto) == ["ModifyManagedPrefixList"]
    # the reads of a run: members, the scope's lists, the list's entries
    assert sorted(a for a, _s in calls(moto) if a != "ModifyManagedPrefixList") == [
        "DescribeManagedPrefixLists", "DescribeNetworkInterfaces", "GetManagedPrefixListEntries"]
    described, entries = the_list(ec2, list_id)
    assert set(entries) == world.addresses() and described["Version"] == 2

    moto.reset_calls()
    plans, outcome = converge(scope, world)
    assert [p.action for p in plans] == [NONE] and outcome.failed == {} and outcome.ids == {}
    assert mutations(moto) == []
    assert len(calls(moto)) == 3


def test_growth_beyond_max_entries_resizes_then_adds(moto, ec2, world, scope):
    world.member(6)  # sized 10: half again as many, in steps of 10
    _plans, outcome = converge(scope, world)
    list_id = next(iter(outcome.ids.values()))
    assert the_list(ec2, list_id)[0]["MaxEntries"] == 10
    world.member(6)
    moto.reset_calls()

    plans, outcome = converge(scope, world)
    assert outcome.failed == {} and plans[0].resize_to == 20
    assert mutations(moto) == ["ModifyManagedPrefixList", "ModifyManagedPrefixList"]  # the resize alone, then the entries
    described, entries = the_list(ec2, list_id)
    assert described["MaxEntries"] == 20 and set(entries) == world.addresses() and len(entries) == 12


def test_more_than_100_members_are_created_in_batches_of_100(moto, ec2, world, scope):
    world.member(230)  # at least 201 distinct addresses: create + 2 batches
    moto.reset_calls()
    plans, outcome = converge(scope, world)
    assert outcome.failed == {}
    assert mutations(moto) == ["CreateManagedPrefixList", "ModifyManagedPrefixList", "ModifyManagedPrefixList"]
    described, entries = the_list(ec2, outcome.ids[plans[0].placeholder])
    count = len(world.addresses())  # moto may give two interfaces one address: about 230
    assert (described["MaxEntries"], described["Version"], set(entries)) == (max_entries_for(count), 3, world.addresses())


def test_a_version_conflict_is_re_read_and_retried_once(moto, ec2, world, scope):
    world.member(3)
    _plans, outcome = converge(scope, world)
    list_id = next(iter(outcome.ids.values()))
    world.member(1)
    plans = plans_for(scope, world)  # planned against version 1 ...
    ec2.modify_managed_prefix_list(PrefixListId=list_id, CurrentVersion=1, PrefixListName=plans[0].name,
                                   AddEntries=[{"Cidr": "192.0.2.7/32", "Description": "someone else"}])  # ... now 2
    moto.reset_calls()

    outcome = ListExecutor(scope).apply(plans)
    assert outcome.failed == {}
    assert [c for c in calls(moto) if c[0] == "ModifyManagedPrefixList"] == [
        ("ModifyManagedPrefixList", 400), ("ModifyManagedPrefixList", 200)]  # stale, then re-read and sent once more
    _described, entries = the_list(ec2, list_id)
    assert set(entries) == world.addresses()  # exact: the other writer's entry is gone too


def test_a_second_conflict_stands_as_the_lists_problem(moto, ec2, world, scope, monkeypatch):
    world.member(2)
    _plans, outcome = converge(scope, world)
    list_id = next(iter(outcome.ids.values()))
    world.member(1)
    plans = plans_for(scope, world)
    real_read = ListExecutor.read

    def read_then_someone_writes(self, pl_id, group_arn=None):
        found = real_read(self, pl_id, group_arn)
        ec2.modify_managed_prefix_list(PrefixListId=pl_id, PrefixListName="x", AddEntries=[{"Cidr": "192.0.2.%d/32" % found.version}])
        return found

    monkeypatch.setattr(ListExecutor, "read", read_then_someone_writes)
    ec2.modify_managed_prefix_list(PrefixListId=list_id, PrefixListName="x", AddEntries=[{"Cidr": "192.0.2.200/32"}])
    outcome = ListExecutor(scope).apply(plans)
    problem = outcome.problem(list_id)
    assert problem is not None and problem.code == "aws_error" and problem.aws_code == "PrefixListVersionMismatch"


def test_prune_deletes_a_list_no_group_wants(moto, ec2, world, scope):
    world.member(2)
    world.member(1, group=world.other)
    _plans, outcome = converge(scope, world, wanted_groups=(world.group, world.other))
    other_list = load_lists(scope, ACCOUNT)[arn(world.other)][IPV4].id
    moto.reset_calls()

    plans, outcome = converge(scope, world)  # world.other is no longer wanted; without prune it stays
    assert [p.action for p in plans] == [NONE] and mutations(moto) == []
    plans, outcome = converge(scope, world, prune=True)
    assert [(p.action, p.prefix_list_id, p.reason) for p in plans if p.changed] == [("delete", other_list, "unused")]
    assert outcome.failed == {} and mutations(moto) == ["DeleteManagedPrefixList"]
    assert arn(world.other) not in load_lists(scope, ACCOUNT)
    # already gone: a resent delete is success
    moto.reset_calls()
    assert ListExecutor(scope).apply(plans).failed == {}


def test_duplicates_from_overlapping_runs_are_pruned_keeping_the_lowest_id(moto, ec2, world, scope):
    world.member(2)
    plans = plans_for(scope, world)
    ids = sorted(next(iter(ListExecutor(scope).apply(plans).ids.values())) for _run in range(2))  # two runs at once
    lists = load_lists(scope, ACCOUNT)
    assert lists[arn(world.group)][IPV4].id == ids[0] and [d.id for d in lists.duplicates] == [ids[1]]
    plans, outcome = converge(scope, world, prune=True)
    assert [(p.action, p.prefix_list_id, p.reason) for p in plans if p.changed] == [("delete", ids[1], "duplicate")]
    assert outcome.failed == {} and not load_lists(scope, ACCOUNT).duplicates


def test_member_interfaces_batches_the_group_filter(moto, ec2, world, scope, monkeypatch):
    world.member(2)
    world.member(1, group=world.other)
    monkeypatch.setattr(describe, "FILTER_VALUES_MAX", 1)  # member_interfaces batches with describe's filter limit
    moto.reset_calls()
    found = member_interfaces(scope, [world.group, world.other, "sg-0000000000000000f"])
    assert len(found) == 3 and [a for a, _s in calls(moto)] == ["DescribeNetworkInterfaces"] * 3


def test_lists_of_other_owners_and_untagged_lists_are_not_ours(moto, ec2, world, scope):
    ec2.create_managed_prefix_list(PrefixListName="office", MaxEntries=5, AddressFamily="IPv4")
    world.member(1)
    converge(scope, world)
    assert list(load_lists(scope, ACCOUNT)) == [arn(world.group)]
    assert list(load_lists(scope)) == [arn(world.group)]  # without the account: every list read, ours kept


def test_consistency_lag_a_new_list_unknown_for_a_moment(moto, ec2, world):
    world.member(150)  # more than 100 addresses: create + one batch naming the new id at once
    with start_proxy(moto.url, lag_seconds=1.5) as proxy:
        scope = scope_at(proxy.url)
        plans, outcome = converge(scope, world)
        assert outcome.failed == {}, outcome.failed
        assert proxy.stats()["lag_hidden"] >= 1  # the batch was answered NotFound first, and retried
    described, entries = the_list(ec2, outcome.ids[plans[0].placeholder])
    assert set(entries) == world.addresses() and described["Version"] == 2


def test_a_lost_create_answer_does_not_make_a_second_list(moto, ec2, world):
    world.member(2)
    with start_proxy(moto.url, fault_rate=1.0, kinds=("drop_after",), actions={"CreateManagedPrefixList"}, max_faults=1) as proxy:
        scope = scope_at(proxy.url, attempts=3)  # botocore resends the call, ClientToken and all
        plans, outcome = converge(scope, world)
        assert outcome.failed == {} and proxy.stats()["faults"].get("drop_after") == 1
    lists = load_lists(scope_at(moto.url), ACCOUNT)
    assert lists[arn(world.group)][IPV4].id == outcome.ids[plans[0].placeholder] and lists.duplicates == ()
