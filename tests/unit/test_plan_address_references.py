# -*- coding: utf-8 -*-
"""references=addresses in the planner (issue 11): group references that no mirror can stand for become references
to the referenced group's address list, a self reference of a mirror in another scope adds the source's own list,
lists weigh their MaxEntries in the quota, list references are managed rules; placeholders swapped by with_ids. Pure."""

from __future__ import annotations

from dataclasses import replace

from ansible_collections.classiclink.mirror.plugins.module_utils.addresses import IPV4, IPV6, list_placeholder
from ansible_collections.classiclink.mirror.plugins.module_utils.model import Outcome, SecurityGroup, Snapshot, Vpc
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import KnownLists, MirrorOptions, with_ids
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_groups import plan_pairs
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import CIDR_IP, GROUP, INGRESS, PREFIX_LIST, Rule
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import MIRRORED_FROM_TAG
from ansible_collections.classiclink.mirror.plugins.module_utils.targets import TargetScope, group_arn, vpc_arn

HOME = TargetScope("aws", "111122223333", "us-east-1")
EU = TargetScope("aws", "111122223333", "eu-west-1")
LINK = "classiclinkmirror:linkToVPC"
SRC_VPC, HOME_VPC, EU_VPC = "vpc-00000001", "vpc-00000002", "vpc-00000003"
S, G, U = "sg-a0000001", "sg-a0000002", "sg-a0000003"  # source, managed elsewhere, unmanaged
ADDRESSES = MirrorOptions(references="addresses")


def group(gid, name, vpc, tags=None, rules=None, origin=None):
    return SecurityGroup(gid, name, name + " group", vpc, HOME.account, dict(tags or {}), dict(rules or {}), origin=origin)


def ref(port, target):
    return Rule(INGRESS, "tcp", port, port, GROUP, target, HOME.account)


def pl(port, target):
    return Rule(INGRESS, "tcp", port, port, PREFIX_LIST, target)


def world(s_rules, s_link=None, eu_groups=()):
    snapshot = Snapshot(home=HOME)
    for vpc in (SRC_VPC, HOME_VPC):
        snapshot.vpcs[vpc] = Vpc(vpc)
    snapshot.add_group(group(S, "s", SRC_VPC, {LINK: s_link or vpc_arn(EU, EU_VPC)}, s_rules))
    snapshot.add_group(group(G, "g", SRC_VPC, {LINK: HOME_VPC}))
    snapshot.add_group(group(U, "u", SRC_VPC))
    part = Snapshot(home=HOME)
    part.vpcs[EU_VPC] = Vpc(EU_VPC)
    for item in eu_groups:
        part.add_group(item)
    snapshot.merge(part, EU)
    return snapshot


def pair_of(plan, source=S):
    (pair,) = [pair for pair in plan.pairs if pair.source_id == source and not pair.removal]
    return pair


def test_drop_reports_the_references_as_before():
    plan = plan_pairs(world({ref(5432, G): None, ref(22, U): None}), [S], MirrorOptions())
    pair = pair_of(plan)
    assert sorted(item["code"] for item in pair.skipped_references) == ["other_target_reference", "unmanaged_reference"]
    assert plan.address_lists == ()


def test_addresses_before_the_lists_are_read_refer_to_ipv4_placeholders_in_the_mirrors_scope():
    plan = plan_pairs(world({ref(5432, G): "db", ref(22, U): None}), [S], ADDRESSES)
    pair = pair_of(plan)
    assert pair.skipped_references == ()
    g_list, u_list = list_placeholder(group_arn(HOME, G), IPV4), list_placeholder(group_arn(HOME, U), IPV4)
    assert pair.rules[INGRESS].authorize == {pl(5432, g_list): "db", pl(22, u_list): None}
    wanted = {(item.scope, item.group_arn, item.family): item for item in plan.address_lists}
    assert set(wanted) == {(EU, group_arn(HOME, G), IPV4), (EU, group_arn(HOME, U), IPV4)}
    assert all(item.active and item.group_scope == HOME for item in wanted.values())


def test_self_reference_in_another_scope_is_the_mirror_plus_the_sources_own_list():
    plan = plan_pairs(world({ref(8080, S): "cluster"}), [S], ADDRESSES)
    pair = pair_of(plan)
    s_list = list_placeholder(group_arn(HOME, S), IPV4)
    assert pair.rules[INGRESS].authorize == {Rule(INGRESS, "tcp", 8080, 8080, GROUP, pair.mirror_id, EU.account): "cluster",
                                             pl(8080, s_list): "cluster"}


def test_self_reference_in_the_home_scope_stays_the_mirror_alone():
    plan = plan_pairs(world({ref(8080, S): None}, s_link=HOME_VPC), [S], ADDRESSES)
    pair = pair_of(plan)
    assert [rule.kind for rule in pair.rules[INGRESS].authorize] == [GROUP]
    assert plan.address_lists == ()


def test_known_lists_give_ids_families_and_quota_weight():
    g_arn = group_arn(HOME, G)
    known = KnownLists({(EU, g_arn): ((IPV4, "pl-0000000000000000a", 10), (IPV6, list_placeholder(g_arn, IPV6), 20))},
                       frozenset({"pl-0000000000000000a"}), {"pl-0000000000000000a": 10, list_placeholder(g_arn, IPV6): 20})
    rules = {ref(5432, G): None}
    rules.update({Rule(INGRESS, "tcp", 1000 + n, 1000 + n, CIDR_IP, "192.0.2.%d/32" % n): None for n in range(5)})
    # 5 CIDR rules + 10 (IPv4 list) + 20 (IPv6 list) per family: IPv4 count 35, IPv6 count 30
    failing = plan_pairs(world(rules), [S], replace(ADDRESSES, address_lists=known, rules_quota=34))
    assert pair_of(failing).code == "quota" and "maximum entries" in pair_of(failing).error
    assert [item.active for item in failing.address_lists] == [False, False]  # nothing to create for a failed pair
    fitting = plan_pairs(world(rules), [S], replace(ADDRESSES, address_lists=known, rules_quota=35))
    pair = pair_of(fitting)
    assert pl(5432, "pl-0000000000000000a") in pair.rules[INGRESS].authorize
    assert pl(5432, list_placeholder(g_arn, IPV6)) in pair.rules[INGRESS].authorize


def test_a_reference_to_one_of_our_lists_is_revoked_like_a_mirror_reference_and_kept_when_current():
    g_arn = group_arn(HOME, G)
    mirror = group("sg-c0000001", "s", EU_VPC, {MIRRORED_FROM_TAG: group_arn(HOME, S)},
                   {pl(5432, "pl-0000000000000000a"): None, pl(443, "pl-0000000000000000f"): None}, origin=S)
    known = KnownLists({(EU, g_arn): ((IPV4, "pl-0000000000000000a", 10),)},
                       frozenset({"pl-0000000000000000a", "pl-0000000000000000b"}), {"pl-0000000000000000a": 10})
    converged = plan_pairs(world({ref(5432, G): None, Rule(INGRESS, "tcp", 443, 443, PREFIX_LIST, "pl-0000000000000000f"): None},
                                 eu_groups=[mirror]), [S], replace(ADDRESSES, address_lists=known))
    assert not pair_of(converged).rules[INGRESS].authorize and not pair_of(converged).rules[INGRESS].revoke
    stale = replace(mirror, rules={pl(5432, "pl-0000000000000000b"): None})
    moved = plan_pairs(world({ref(5432, G): None}, eu_groups=[stale]), [S], replace(ADDRESSES, address_lists=known))
    assert pair_of(moved).rules[INGRESS].revoke == {pl(5432, "pl-0000000000000000b"): None}


def test_with_ids_swaps_group_and_list_placeholders():
    placeholder = list_placeholder(group_arn(HOME, G), IPV4)
    ids = {placeholder: "pl-0000000000000000c", "new-mirror-of-" + S: "sg-c0000009"}
    assert with_ids(pl(1, placeholder), ids) == pl(1, "pl-0000000000000000c")
    assert with_ids(ref(1, "new-mirror-of-" + S), ids).target == "sg-c0000009"
    outcome = Outcome()
    outcome.created_list(EU, placeholder, "pl-0000000000000000d")
    assert outcome.ids_for(EU)[placeholder] == "pl-0000000000000000d" and placeholder not in outcome.ids_for(None)
