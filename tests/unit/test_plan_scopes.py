# -*- coding: utf-8 -*-
"""The planner over a Snapshot of several scopes (issue 11): targets per source, mirroredFrom ARNs,
the mirroredTo record, orphans across scopes, scope problems. Pure: no AWS."""

from __future__ import annotations

from ansible_collections.classiclink.mirror.plugins.module_utils.model import Outcome, Problem, SecurityGroup, Snapshot, Vpc
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import MirrorOptions, placeholder, record_change
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_groups import plan_pairs
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import CIDR_IP, GROUP, INGRESS, Rule
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import MIRRORED_FROM_TAG, MIRRORED_TO_TAG
from ansible_collections.classiclink.mirror.plugins.module_utils.targets import TargetScope, group_arn, vpc_arn

HOME = TargetScope("aws", "111122223333", "us-east-1")
EU = TargetScope("aws", "111122223333", "eu-west-1")
OTHER = TargetScope("aws", "444455556666", "eu-west-1")
LINK = "classiclinkmirror:linkToVPC"
SRC_VPC, HOME_VPC, EU_VPC, OTHER_VPC = "vpc-00000001", "vpc-00000002", "vpc-00000003", "vpc-00000004"
WEB = "sg-a0000001"


def group(gid, name, vpc, tags=None, rules=None, owner=HOME.account, origin=None):
    return SecurityGroup(gid, name, name + " group", vpc, owner, dict(tags or {}), dict(rules or {}), origin=origin)


def world(link, extra_home=(), remote=()):
    snapshot = Snapshot(home=HOME)
    for vpc in (SRC_VPC, HOME_VPC):
        snapshot.vpcs[vpc] = Vpc(vpc)
    web_rules = {Rule(INGRESS, "tcp", 443, 443, CIDR_IP, "10.0.0.0/8"): None, Rule(INGRESS, "tcp", 80, 80, GROUP, WEB, HOME.account): None}
    snapshot.add_group(group(WEB, "web", SRC_VPC, {LINK: link}, web_rules))
    for item in extra_home:
        snapshot.add_group(item)
    for scope, vpc, groups in remote:
        part = Snapshot(home=HOME)
        part.vpcs[vpc] = Vpc(vpc)
        for item in groups:
            part.add_group(item)
        snapshot.merge(part, scope)
    return snapshot


ALL = ",".join([HOME_VPC, vpc_arn(EU, EU_VPC), vpc_arn(OTHER, OTHER_VPC)])


def test_one_source_three_targets_three_pairs_with_scopes_tags_and_one_record():
    snapshot = world(ALL, remote=[(EU, EU_VPC, []), (OTHER, OTHER_VPC, [])])
    plan = plan_pairs(snapshot, [WEB], MirrorOptions())
    assert [(pair.vpc_id, pair.scope) for pair in plan.pairs] == [(HOME_VPC, None), (EU_VPC, EU), (OTHER_VPC, OTHER)]
    home, eu, other = plan.pairs
    assert home.create.tags[MIRRORED_FROM_TAG] == WEB  # own scope: bare id
    assert eu.create.tags[MIRRORED_FROM_TAG] == group_arn(HOME, WEB)
    assert eu.mirror_id == placeholder(WEB, EU_VPC) != home.mirror_id
    # the self reference becomes each mirror's own id, owned by the mirror's account
    assert Rule(INGRESS, "tcp", 80, 80, GROUP, other.mirror_id, OTHER.account) in other.rules[INGRESS].authorize
    # the record goes on the first pair only, written after every scope
    assert all(pair.record for pair in plan.pairs) and not eu.source_tags.set and not other.source_tags.set
    outcome = Outcome()
    for pair, real in zip(plan.pairs, ("sg-b0000001", "sg-b0000002", "sg-b0000003")):
        outcome.created(pair.mirror_id, real)
    change, error = record_change(plan, WEB, outcome)
    assert error is None
    assert change.set == {MIRRORED_TO_TAG: "sg-b0000001,%s,%s" % (group_arn(EU, "sg-b0000002"), group_arn(OTHER, "sg-b0000003"))}


def test_a_failed_create_is_left_out_of_the_record():
    snapshot = world(",".join([HOME_VPC, vpc_arn(EU, EU_VPC)]), remote=[(EU, EU_VPC, [])])
    plan = plan_pairs(snapshot, [WEB], MirrorOptions())
    outcome = Outcome()
    outcome.created(plan.pairs[0].mirror_id, "sg-b0000001")
    outcome.fail(1, Problem("aws_error", "boom"))
    change, _error = record_change(plan, WEB, outcome)
    assert change.set == {MIRRORED_TO_TAG: "sg-b0000001"}


def test_cross_account_target_without_role_fails_its_pair_only():
    snapshot = world(ALL, remote=[(EU, EU_VPC, [])])
    problem = Problem("no_target_role", "set target_role_arn for account 444455556666")
    plan = plan_pairs(snapshot, [WEB], MirrorOptions(scope_problems={OTHER: problem}))
    by_vpc = {pair.vpc_id: pair for pair in plan.pairs}
    assert by_vpc[OTHER_VPC].code == "no_target_role" and not by_vpc[OTHER_VPC].changed
    assert by_vpc[HOME_VPC].create and by_vpc[EU_VPC].create


def test_converged_remote_mirror_plans_nothing():
    remote_mirror = group("sg-c0000001", "web", EU_VPC, {MIRRORED_FROM_TAG: group_arn(HOME, WEB)},
                          {Rule(INGRESS, "tcp", 443, 443, CIDR_IP, "10.0.0.0/8"): None,
                           Rule(INGRESS, "tcp", 80, 80, GROUP, "sg-c0000001", HOME.account): None},
                          origin=WEB)
    tags = {LINK: vpc_arn(EU, EU_VPC), MIRRORED_TO_TAG: group_arn(EU, "sg-c0000001")}
    snapshot = world(vpc_arn(EU, EU_VPC), remote=[(EU, EU_VPC, [remote_mirror])])
    snapshot.groups[WEB] = group(WEB, "web", SRC_VPC, tags, snapshot.groups[WEB].rules)
    plan = plan_pairs(snapshot, [WEB], MirrorOptions())
    assert not plan.changed, plan.pairs


def test_retargeted_remote_mirror_is_an_orphan_and_another_scopes_mirror_never_is():
    ours = group("sg-c0000001", "web", EU_VPC, {MIRRORED_FROM_TAG: group_arn(HOME, WEB)}, origin=WEB)
    theirs = group("sg-c0000002", "api", EU_VPC, {MIRRORED_FROM_TAG: "sg-d0000001"}, origin=group_arn(EU, "sg-d0000001"))
    snapshot = world(HOME_VPC, remote=[(EU, EU_VPC, [ours, theirs])])
    plan = plan_pairs(snapshot, [WEB], MirrorOptions(prune=True))
    assert [(mirror.id, reason) for mirror, reason in plan.orphans] == [("sg-c0000001", "retargeted")]
    (removal,) = [pair for pair in plan.pairs if pair.removal]
    assert removal.scope == EU and removal.delete_ids == ("sg-c0000001",)


def test_an_unreadable_tag_keeps_every_mirror():
    ours = group("sg-c0000001", "web", EU_VPC, {MIRRORED_FROM_TAG: group_arn(HOME, WEB)}, origin=WEB)
    snapshot = world("arn:aws:ec2:eu-west-1:1234:vpc/" + EU_VPC, remote=[(EU, EU_VPC, [ours])])
    plan = plan_pairs(snapshot, [WEB], MirrorOptions(prune=True))
    assert plan.orphans == () and plan.pairs[0].code == "bad_link_tag"
