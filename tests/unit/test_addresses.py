# -*- coding: utf-8 -*-
"""addresses.py: members' addresses, address-list (prefix list) plans, quota weight, pruning."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.classiclink.mirror.plugins.module_utils.addresses import (
    ADDRESSES_OF_TAG,
    CREATE,
    DUPLICATE,
    IPV4,
    IPV6,
    MAX_ENTRIES_PER_CALL,
    MAX_LIST_ENTRIES,
    MODIFY,
    NONE,
    PRIVATE,
    PUBLIC,
    UNUSED,
    AddressList,
    Member,
    Members,
    entries_to_add,
    entry_description,
    host_cidr,
    index_lists,
    list_name,
    list_tags,
    max_entries_for,
    member_addresses,
    plan_group_lists,
    plan_list,
    prune_candidates,
    read_address_list,
    reference_weight,
    weighted_quota_count,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    CIDR_IP,
    CIDR_IPV6,
    GROUP,
    INGRESS,
    PREFIX_LIST,
    Rule,
    quota_count,
)

SG = "sg-0123456789abcdef0"
OTHER_SG = "sg-1a2b3c4d"
ARN = "arn:aws:ec2:us-east-1:111122223333:security-group/" + SG


def eni(eni_id, private=(), public=None, secondary_public=(), ipv6=(), groups=(SG,), instance=None, kind="interface"):
    item = {
        "NetworkInterfaceId": eni_id,
        "InterfaceType": kind,
        "Groups": [{"GroupId": group, "GroupName": "n"} for group in groups],
        "PrivateIpAddresses": [],
        "Ipv6Addresses": [{"Ipv6Address": address} for address in ipv6],
    }
    for index, address in enumerate(private):
        entry = {"PrivateIpAddress": address, "Primary": index == 0}
        if index == 0 and public:
            entry["Association"] = {"PublicIp": public}
        if index > 0 and index - 1 < len(secondary_public) and secondary_public[index - 1]:
            entry["Association"] = {"PublicIp": secondary_public[index - 1]}
        item["PrivateIpAddresses"].append(entry)
    if private:
        item["PrivateIpAddress"] = private[0]
    if public:
        item["Association"] = {"PublicIp": public}
    if instance:
        item["Attachment"] = {"InstanceId": instance, "Status": "attached"}
    return item


INTERFACES = [
    eni("eni-1", ["10.0.0.1", "10.0.0.11"], public="54.0.0.1", secondary_public=["54.0.0.11"], instance="i-1"),
    eni("eni-2", ["10.0.0.2"], ipv6=["2001:DB8::2"], instance="i-2"),
    eni("eni-3", ["10.0.0.3"], public="54.0.0.3", kind="network_load_balancer"),
    eni("eni-4", ["10.0.0.4"], groups=(OTHER_SG,), public="54.0.0.4", instance="i-4"),  # not a member
    eni("eni-5", ["10.0.0.5"], groups=(OTHER_SG, SG), instance="i-5"),
]


# -- members' addresses ---------------------------------------------------------------------


def test_private_kind_every_private_ipv4_and_ipv6():
    members = member_addresses(INTERFACES, SG, PRIVATE)
    assert members.ipv4 == {"10.0.0.1/32", "10.0.0.11/32", "10.0.0.2/32", "10.0.0.3/32", "10.0.0.5/32"}
    assert members.ipv6 == {"2001:db8::2/128"}
    assert [member.interface_id for member in members.members] == ["eni-1", "eni-2", "eni-3", "eni-5"]
    assert members.without_public == ()
    assert members.cidrs(IPV4) == members.ipv4 and members.cidrs(IPV6) == members.ipv6


def test_public_kind_public_ipv4_primary_and_secondary_and_ipv6():
    members = member_addresses(INTERFACES, SG, PUBLIC)
    assert members.ipv4 == {"54.0.0.1/32", "54.0.0.11/32", "54.0.0.3/32"}
    assert members.ipv6 == {"2001:db8::2/128"}  # IPv6 is public as well
    assert [member.label for member in members.without_public] == ["i-2", "i-5"]


def test_interfaces_not_carrying_the_group_are_ignored():
    assert member_addresses(INTERFACES, "sg-99999999", PRIVATE) == Members()


def test_a_member_without_any_address_is_still_a_member():
    members = member_addresses([{"NetworkInterfaceId": "eni-9", "Groups": [{"GroupId": SG}]}], SG, PUBLIC)
    assert members.ipv4 == frozenset() and [m.interface_id for m in members.without_public] == ["eni-9"]


def test_addresses_are_canonical_and_shared_addresses_collapse():
    interfaces = [eni("eni-a", ["10.0.0.7"], ipv6=["2001:0DB8:0000::0007"]), eni("eni-b", ["10.0.0.7"], ipv6=["2001:db8::7"])]
    members = member_addresses(interfaces, SG, PRIVATE)
    assert members.ipv4 == {"10.0.0.7/32"} and members.ipv6 == {"2001:db8::7/128"}
    assert members.owners["10.0.0.7/32"].interface_id == "eni-a"


def test_unreadable_addresses_are_kept_aside():
    members = member_addresses([eni("eni-a", ["10.0.0.1", "not-an-ip"])], SG, PRIVATE)
    assert members.ipv4 == {"10.0.0.1/32"} and members.unreadable == ("not-an-ip",)


def test_top_level_private_address_alone_is_read():
    members = member_addresses([{"NetworkInterfaceId": "eni-x", "PrivateIpAddress": "10.1.1.1", "Groups": [{"GroupId": SG}]}], SG)
    assert members.ipv4 == {"10.1.1.1/32"}


def test_bad_address_kind():
    with pytest.raises(ValueError, match="address_kind"):
        member_addresses(INTERFACES, SG, "elastic")


def test_host_cidr():
    assert host_cidr(" 10.0.0.1 ") == "10.0.0.1/32"
    assert host_cidr("2001:DB8:0:0::1") == "2001:db8::1/128"
    with pytest.raises(ValueError):
        host_cidr("10.0.0.0/24")


# -- names, tags, descriptions --------------------------------------------------------------------


def test_names_tags_and_descriptions():
    name = list_name(SG, "111122223333", "us-east-1", IPV4)
    assert name == "classiclinkmirror-addresses-%s-111122223333-us-east-1-ipv4" % SG
    assert len(name) <= 255 and not name.startswith("com.amazonaws")
    assert list_name(SG, "111122223333", "us-east-1", IPV6).endswith("-ipv6")
    assert list_tags(ARN) == {ADDRESSES_OF_TAG: ARN}
    assert entry_description(Member("eni-1", "i-1")) == "i-1 (eni-1)"
    assert entry_description(Member("eni-3", None, "network_load_balancer")) == "network_load_balancer eni-3"
    assert entry_description(Member("eni-3")) == "interface eni-3"


def test_entries_to_add_carry_their_member():
    members = member_addresses(INTERFACES, SG, PRIVATE)
    assert entries_to_add(["10.0.0.1/32", "10.9.9.9/32"], members) == [
        {"Cidr": "10.0.0.1/32", "Description": "i-1 (eni-1)"},
        {"Cidr": "10.9.9.9/32"},
    ]


# -- reading described lists ---------------------------------------------------------------------


def description(list_id="pl-1", group=ARN, family=IPV4, version=3, max_entries=10, state="modify-complete", name="n"):
    item = {"PrefixListId": list_id, "AddressFamily": family, "Version": version, "MaxEntries": max_entries,
            "State": state, "PrefixListName": name, "Tags": [{"Key": "Name", "Value": "x"}]}
    if group:
        item["Tags"].append({"Key": ADDRESSES_OF_TAG, "Value": group})
    return item


def test_read_address_list():
    read = read_address_list(description(), [{"Cidr": "10.0.0.1/32", "Description": "i-1"}, {"Cidr": "2001:DB8::1/128"}, {"Cidr": "bad"}, {}])
    assert read == AddressList("pl-1", ARN, IPV4, 3, 10, frozenset({"10.0.0.1/32", "2001:db8::1/128"}), "n")


@pytest.mark.parametrize("item", [description(group=None), description(state="delete-in-progress"), description(state="delete-complete")])
def test_lists_not_ours_or_being_deleted_are_skipped(item):
    assert read_address_list(item, []) is None


def test_index_lists_keeps_the_lowest_id_per_group_and_family():
    lists = [AddressList("pl-b", ARN, IPV4, 1, 10), AddressList("pl-a", ARN, IPV4, 1, 10), AddressList("pl-c", ARN, IPV6, 1, 10)]
    kept, duplicates = index_lists(lists)
    assert kept == {(ARN, IPV4): lists[1], (ARN, IPV6): lists[2]}
    assert duplicates == (lists[0],)


# -- sizing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("count, size", [(0, 10), (1, 10), (6, 10), (7, 20), (10, 20), (13, 20), (14, 30),
                                         (100, 150), (101, 160), (600, 900), (667, 1000), (1000, 1000)])
def test_max_entries_for(count, size):
    assert max_entries_for(count) == size


@given(st.integers(min_value=0, max_value=MAX_LIST_ENTRIES))
def test_max_entries_always_fits_and_has_headroom(count):
    size = max_entries_for(count)
    assert count <= size <= MAX_LIST_ENTRIES and size % 10 == 0 and size >= 10
    assert size >= min(MAX_LIST_ENTRIES, 1.5 * count)


# -- planning one list ---------------------------------------------------------------------------


def cidrs(count, base=0):
    return ["10.%d.%d.%d/32" % ((base + index) // 65536, (base + index) // 256 % 256, (base + index) % 256) for index in range(count)]


def test_create_small():
    plan = plan_list(["10.0.0.2/32", "10.0.0.1/32"], None, "name")
    assert (plan.action, plan.max_entries, plan.create_entries, plan.batches, plan.resize_to) == (CREATE, 10, ("10.0.0.1/32", "10.0.0.2/32"), (), None)
    assert plan.changed and plan.calls == 1 and plan.prefix_list_id is None


def test_create_empty_still_creates():
    plan = plan_list([], None, "name")
    assert plan.action == CREATE and plan.create_entries == () and plan.max_entries == 10 and plan.calls == 1


def test_create_more_than_100_continues_in_batches():
    plan = plan_list(cidrs(250), None, "name")
    assert plan.action == CREATE and len(plan.create_entries) == 100 and plan.max_entries == 380
    assert [(len(batch.add), len(batch.remove), batch.offset) for batch in plan.batches] == [(100, 0, 0), (50, 0, 1)]
    assert plan.calls == 3
    assert set(plan.create_entries).union(*[batch.add for batch in plan.batches]) == set(cidrs(250))


def test_converged_list_makes_no_call():
    current = AddressList("pl-1", ARN, IPV4, 7, 10, frozenset(cidrs(5)))
    plan = plan_list(cidrs(5), current, "name")
    assert (plan.action, plan.calls, plan.changed, plan.max_entries) == (NONE, 0, False, 10)


def test_membership_change_is_one_modify_with_the_current_version():
    current = AddressList("pl-1", ARN, IPV4, 7, 10, frozenset(cidrs(5)))
    wanted = cidrs(4) + ["10.9.9.9/32"]
    plan = plan_list(wanted, current, "name")
    assert plan.action == MODIFY and plan.resize_to is None and plan.calls == 1
    (batch,) = plan.batches
    assert batch.add == ("10.9.9.9/32",) and batch.remove == (cidrs(5)[4],)
    assert batch.current_version(plan.version) == 7
    assert plan.add == ("10.9.9.9/32",) and plan.remove == (cidrs(5)[4],)


def test_growth_beyond_max_entries_resizes_first_in_a_call_of_its_own():
    current = AddressList("pl-1", ARN, IPV4, 7, 10, frozenset(cidrs(10)))
    plan = plan_list(cidrs(12), current, "name")
    assert plan.action == MODIFY and plan.resize_to == 20 and plan.max_entries == 20
    assert [batch.add for batch in plan.batches] == [tuple(cidrs(12)[10:])]
    assert plan.calls == 2


def test_only_a_resize_when_entries_are_right_but_the_list_is_too_small():
    current = AddressList("pl-1", ARN, IPV4, 7, 5, frozenset(cidrs(8)))  # made smaller by hand
    plan = plan_list(cidrs(8), current, "name")
    assert plan.action == MODIFY and plan.resize_to == 20 and plan.batches == () and plan.calls == 1


def test_a_list_is_never_shrunk():
    current = AddressList("pl-1", ARN, IPV4, 7, 500, frozenset(cidrs(2)))
    plan = plan_list(cidrs(2), current, "name")
    assert plan.action == NONE and plan.max_entries == 500


def test_large_changes_are_split_into_batches_of_100_with_consecutive_versions():
    current = AddressList("pl-1", ARN, IPV4, 40, 1000, frozenset(cidrs(150)))
    plan = plan_list(cidrs(230, base=120), current, "name")  # keep 30, remove 120, add 200
    assert [(len(b.add), len(b.remove)) for b in plan.batches] == [(100, 100), (100, 20)]
    assert [b.current_version(plan.version) for b in plan.batches] == [40, 41]
    assert all(len(b.add) <= MAX_ENTRIES_PER_CALL and len(b.remove) <= MAX_ENTRIES_PER_CALL for b in plan.batches)


def test_more_than_1000_addresses_is_an_error_and_changes_nothing():
    plan = plan_list(cidrs(1001), None, "name")
    assert plan.error and "1000" in plan.error and plan.action == NONE and plan.calls == 0
    current = AddressList("pl-1", ARN, IPV4, 3, 1000, frozenset(cidrs(1000)))
    plan = plan_list(cidrs(1001), current, "name")
    assert plan.error and plan.prefix_list_id == "pl-1" and plan.calls == 0


def test_ipv6_plan():
    plan = plan_list(["2001:db8::1/128"], None, "name", IPV6)
    assert plan.family == IPV6 and plan.create_entries == ("2001:db8::1/128",)


def test_plan_group_lists_ipv6_only_when_needed():
    members = member_addresses(INTERFACES, SG, PRIVATE)
    plans = plan_group_lists(members, ARN, SG, "111122223333", "us-east-1", {})
    assert [(p.family, p.action) for p in plans] == [(IPV4, CREATE), (IPV6, CREATE)]
    assert plans[0].name.endswith("-ipv4") and plans[1].name.endswith("-ipv6")
    only_v4 = member_addresses(INTERFACES[:1], SG, PRIVATE)
    assert [p.family for p in plan_group_lists(only_v4, ARN, SG, "111122223333", "us-east-1", {})] == [IPV4]
    existing_v6 = {(ARN, IPV6): AddressList("pl-6", ARN, IPV6, 2, 10, frozenset({"2001:db8::2/128"}))}
    plans = plan_group_lists(only_v4, ARN, SG, "111122223333", "us-east-1", existing_v6)
    assert [(p.family, p.action) for p in plans] == [(IPV4, CREATE), (IPV6, MODIFY)]
    assert plans[1].remove == ("2001:db8::2/128",)


def _apply(current, plan, count_check=None):
    """Play a plan the way EC2 would (versions checked, sizes checked at every call)."""
    if plan.action == CREATE:
        entries, version, size = set(plan.create_entries), 1, plan.max_entries
        assert len(plan.create_entries) <= MAX_ENTRIES_PER_CALL and len(entries) <= size
    else:
        entries, version, size = set(current.entries), current.version, current.max_entries
    if plan.resize_to is not None:
        size = plan.resize_to
        version += 1  # whether a resize makes a version or not, the batches follow the answer
    base = version
    for batch in plan.batches:
        assert batch.current_version(base) == version
        assert len(batch.add) <= MAX_ENTRIES_PER_CALL and len(batch.remove) <= MAX_ENTRIES_PER_CALL
        assert set(batch.remove) <= entries and not set(batch.add) & entries
        entries = (entries - set(batch.remove)) | set(batch.add)
        assert len(entries) <= size
        version += 1
    return AddressList(plan.prefix_list_id or "pl-new", ARN, plan.family, version, size, frozenset(entries))


@given(before=st.sets(st.integers(min_value=0, max_value=1500), max_size=600), after=st.sets(st.integers(min_value=0, max_value=1500), max_size=600),
       exists=st.booleans(), size_slack=st.integers(min_value=0, max_value=300))
@settings(max_examples=150, deadline=None)
def test_any_plan_converges_in_one_run_within_every_limit(before, after, exists, size_slack):
    everything = cidrs(1501)
    current = None
    if exists:
        current = AddressList("pl-1", ARN, IPV4, 5, min(MAX_LIST_ENTRIES, max(1, len(before)) + size_slack), frozenset(everything[i] for i in before))
    wanted = [everything[i] for i in after]
    plan = plan_list(wanted, current, "name")
    assert plan.error is None
    result = _apply(current, plan)
    assert result.entries == set(wanted)
    assert plan.max_entries == result.max_entries >= len(wanted)
    assert plan_list(wanted, result, "name").action == NONE


# -- the quota -------------------------------------------------------------------------------------


def rule(kind, target, port=443):
    return Rule(INGRESS, "tcp", port, port, kind, target)


def test_reference_weight():
    assert reference_weight(20) == 20 and reference_weight(0) == 1


def test_weighted_quota_count_counts_a_list_reference_as_its_max_entries():
    rules = [rule(CIDR_IP, "10.0.0.0/8"), rule(CIDR_IPV6, "::/0"), rule(PREFIX_LIST, "pl-1"), rule(PREFIX_LIST, "pl-aws"), rule(GROUP, SG)]
    assert quota_count(rules) == 4
    assert weighted_quota_count(rules, {}) == quota_count(rules)
    assert weighted_quota_count(rules, {"pl-1": 20}) == 23
    assert weighted_quota_count(rules, {"pl-1": 20, "pl-aws": 45}) == 67
    assert weighted_quota_count([rule(PREFIX_LIST, "pl-1", port) for port in (1, 2)], {"pl-1": 30}) == 60


# -- pruning ------------------------------------------------------------------------------------------


def test_prune_candidates_unused_and_duplicates():
    other = "arn:aws:ec2:eu-west-1:444455556666:security-group/" + OTHER_SG
    lists = [
        AddressList("pl-1", ARN, IPV4, 1, 10),
        AddressList("pl-2", ARN, IPV6, 1, 10),
        AddressList("pl-0", ARN, IPV4, 1, 10),  # duplicate of pl-1 with a lower id: pl-0 is kept
        AddressList("pl-9", other, IPV4, 1, 10),
    ]
    found = prune_candidates(lists, [ARN], referenced_ids=["pl-9"])
    assert [(c.address_list.id, c.reason, c.referenced) for c in found] == [("pl-9", UNUSED, True), ("pl-1", DUPLICATE, False)]  # unused by id, then duplicates
    assert [(c.address_list.id, c.reason) for c in prune_candidates(lists, [])] == [("pl-0", UNUSED), ("pl-2", UNUSED), ("pl-9", UNUSED), ("pl-1", DUPLICATE)]
    assert prune_candidates([], [ARN]) == ()


# -- a scope's plans, placeholders, deletes -------------------------------------------------------


def test_plan_scope_lists_plans_every_wanted_group_and_deletes_only_with_prune():
    from ansible_collections.classiclink.mirror.plugins.module_utils.addresses import (
        DELETE, group_of_arn, is_list_placeholder, list_placeholder, plan_scope_lists)

    other = "arn:aws:ec2:eu-west-1:444455556666:security-group/" + OTHER_SG
    members = member_addresses(INTERFACES[:1], SG, PRIVATE)
    lists = [AddressList("pl-9", other, IPV4, 4, 10, frozenset({"10.1.1.1/32"}), "n9"),
             AddressList("pl-8", other, IPV4, 2, 10, frozenset(), "n8"),
             AddressList("pl-7", "arn:aws:ec2:eu-west-1:444455556666:security-group/sg-77777777", IPV4, 1, 10)]
    plans = plan_scope_lists({ARN: members}, lists)
    (create,) = plans
    assert create.action == CREATE and create.group_arn == ARN and create.name == list_name(SG, "111122223333", "us-east-1", IPV4)
    assert create.placeholder == list_placeholder(ARN, IPV4) == create.key and is_list_placeholder(create.key)
    assert dict(create.descriptions) == {"10.0.0.1/32": "i-1 (eni-1)", "10.0.0.11/32": "i-1 (eni-1)"}
    assert create.entries(["10.0.0.1/32", "10.9.9.9/32"]) == [{"Cidr": "10.0.0.1/32", "Description": "i-1 (eni-1)"}, {"Cidr": "10.9.9.9/32"}]
    assert create.wanted == ("10.0.0.1/32", "10.0.0.11/32")
    pruned = plan_scope_lists({ARN: members}, lists, prune=True, referenced_ids=["pl-7"])
    assert [(p.action, p.prefix_list_id, p.reason, p.key, p.calls) for p in pruned[1:]] == [
        (DELETE, "pl-8", UNUSED, "pl-8", 1), (DELETE, "pl-9", DUPLICATE, "pl-9", 1)]  # pl-7 is still referenced
    assert group_of_arn(other) == (OTHER_SG, "444455556666", "eu-west-1")
    with pytest.raises(ValueError):
        group_of_arn("arn:aws:ec2:eu-west-1:444455556666:vpc/vpc-1")


def test_a_modify_plan_knows_what_the_list_must_hold():
    current = AddressList("pl-1", ARN, IPV4, 7, 10, frozenset(cidrs(5)))
    plan = plan_group_lists(member_addresses(INTERFACES[:2], SG, PRIVATE), ARN, SG, "111122223333", "us-east-1", {(ARN, IPV4): current})[0]
    assert plan.action == MODIFY and plan.key == "pl-1" and plan.placeholder is None
    assert set(plan.wanted) == {"10.0.0.1/32", "10.0.0.11/32", "10.0.0.2/32"}
