# -*- coding: utf-8 -*-
"""Hand-built snapshots for the pure unit tests, and a pure stand-in for EC2.

:func:`converge` plays a plan against a Snapshot the way EC2 would (create the
mirrors, tag, authorize/revoke/update, delete) without boto3, so a test can
ask "and is the next plan empty?".
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Dict, Mapping, Optional, Tuple

from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import NEW_GROUP_RULES, PLACEHOLDER_PREFIX, MirrorOptions, Plan
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_groups import plan_pairs
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    CIDR_IP,
    CIDR_IPV6,
    EGRESS,
    GROUP,
    INGRESS,
    PREFIX_LIST,
    Rule,
    RuleSet,
    apply_diff,
    in_direction,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.model import SecurityGroup, Snapshot, Vpc
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import (
    MIRRORED_FROM_TAG,
    MIRRORED_TO_TAG,
    TagChange,
)

OWNER = "111122223333"
OTHER_ACCOUNT = "444455556666"
LINK = "classiclinkmirror:linkToVPC"  # the original code's spelling
GUIDE_LINK = "classicmirror:linkToVPC"  # the guide's spelling
FROM = MIRRORED_FROM_TAG
TO = MIRRORED_TO_TAG

VPC1 = "vpc-11111111"
VPC2 = "vpc-22222222"
LEGACY_VPC = "vpc-0123456789abcdef0"  # a VPC source's own VPC (17 hex digits)

ALLOW_ALL_EGRESS = Rule(EGRESS, "-1", None, None, CIDR_IP, "0.0.0.0/0")


def tcp(port, kind, target, user_id=None, direction=INGRESS, to_port=None) -> Rule:
    """A tcp rule; a group target gets the owner as user id unless told otherwise."""
    if kind == GROUP and user_id is None:
        user_id = OWNER
    return Rule(direction, "tcp", port, port if to_port is None else to_port, kind, target, user_id)


def cidr(port, block, direction=INGRESS) -> Rule:
    return tcp(port, CIDR_IP, block, direction=direction)


def cidr6(port, block, direction=INGRESS) -> Rule:
    return tcp(port, CIDR_IPV6, block, direction=direction)


def prefix(port, pl_id, direction=INGRESS) -> Rule:
    return tcp(port, PREFIX_LIST, pl_id, direction=direction)


def ref(port, group_id, user_id=None, direction=INGRESS) -> Rule:
    return tcp(port, GROUP, group_id, user_id, direction=direction)


def rules(*items) -> RuleSet:
    """rules(rule, rule, (rule, "description"), ...) -> RuleSet."""
    result: RuleSet = {}
    for item in items:
        if isinstance(item, tuple):
            result[item[0]] = item[1]
        else:
            result[item] = None
    return result


def group(gid, name, vpc_id=None, tags=None, rules=None, description=None, owner=OWNER, rules_error=None) -> SecurityGroup:
    return SecurityGroup(
        id=gid,
        name=name,
        description=description if description is not None else "%s group" % name,
        vpc_id=vpc_id,
        owner_id=owner,
        tags=dict(tags or {}),
        rules=dict(rules or {}),
        rules_error=rules_error,
    )


def source(gid, name, vpc=VPC1, rules=None, tags=None, vpc_id=None, **kw) -> SecurityGroup:
    """A source tagged to mirror into ``vpc`` (None: untagged). ``vpc_id`` is its own VPC (None: Classic)."""
    all_tags = {LINK: vpc} if vpc else {}
    all_tags.update(tags or {})
    return group(gid, name, vpc_id=vpc_id, tags=all_tags, rules=rules, **kw)


def mirror(gid, of: SecurityGroup, vpc=VPC1, rules=None, tags=None, **kw) -> SecurityGroup:
    """An existing mirror of ``of`` (default allow-all egress unless rules given)."""
    all_tags = {FROM: of.id}
    all_tags.update(tags or {})
    kw.setdefault("description", of.description)
    return group(gid, of.name, vpc_id=vpc, tags=all_tags,
                 rules=dict(NEW_GROUP_RULES) if rules is None else rules, **kw)


def snapshot(*groups, vpcs=(VPC1, VPC2, LEGACY_VPC), defaults=True, classic_vpc_id=None) -> Snapshot:
    """A Snapshot holding ``groups``; every VPC gets its default group (sg-0def000N) unless one is given."""
    snap = Snapshot()
    snap.classic_vpc_id = classic_vpc_id
    for vid in vpcs:
        snap.vpcs[vid] = Vpc(vid)
    for item in groups:
        snap.add_group(item)
    if defaults:
        for index, vid in enumerate(vpcs):
            if not any(g.vpc_id == vid and g.name == "default" for g in snap.groups.values()):
                snap.add_group(group("sg-0def%04x" % index, "default", vpc_id=vid,
                                     description="default VPC security group",
                                     rules=rules(ALLOW_ALL_EGRESS)))
    return snap


def linked_snapshot(*groups, instances=(), links=(), classiclink=True) -> Snapshot:
    """snapshot(*groups) with ``instances`` and ClassicLink ``links``; every VPC's ClassicLink flag set to ``classiclink``."""
    snap = snapshot(*groups)
    for vid in list(snap.vpcs):
        snap.vpcs[vid] = Vpc(vid, classiclink_enabled=classiclink)
    for item in instances:
        snap.instances[item.id] = item
    for link in links:
        snap.links[link.instance_id] = link
    return snap


def plan(snap: Snapshot, *refs, **options) -> Plan:
    return plan_pairs(snap, list(refs), MirrorOptions(**options))


def pair_of(result: Plan, source_id: str):
    found = [p for p in result.pairs if p.source is not None and p.source.id == source_id]
    assert len(found) == 1, "expected one pair for %s, got %r" % (source_id, [p.source_ref for p in result.pairs])
    return found[0]


def only_pair(result: Plan):
    assert len(result.pairs) == 1, [p.source_ref for p in result.pairs]
    return result.pairs[0]


def diff_of(pair, direction=INGRESS):
    return pair.rules[direction]


# -- a pure EC2 ---------------------------------------------------------------

_ids = itertools.count(0xE0000000)


def _resolve_rules(ruleset: Mapping[Rule, Optional[str]], ids: Mapping[str, str]) -> RuleSet:
    out: RuleSet = {}
    for rule, description in ruleset.items():
        if rule.kind == GROUP and rule.target in ids:
            rule = rule.with_target(ids[rule.target], rule.user_id)
        out[rule] = description
    return out


def _retag(tags: Mapping[str, str], change: TagChange, ids: Mapping[str, str]) -> Dict[str, str]:
    after = {k: v for k, v in tags.items() if k not in change.unset}
    after.update({k: ids.get(v, v) for k, v in change.set.items()})
    return after


def converge(snap: Snapshot, result: Plan) -> Tuple[Snapshot, Dict[str, str]]:
    """Apply ``result`` to a copy of ``snap`` as EC2 would; returns (snapshot, placeholder -> id)."""
    groups = dict(snap.groups)
    live = [p for p in result.pairs if p.changed]
    ids: Dict[str, str] = {}
    for pair in live:
        if pair.create and not pair.removal:
            assert pair.mirror_id.startswith(PLACEHOLDER_PREFIX)
            gid = "sg-%08x" % next(_ids)
            ids[pair.mirror_id] = gid
            groups[gid] = SecurityGroup(gid, pair.create.name, pair.create.description, pair.create.vpc_id,
                                        pair.source.owner_id, dict(pair.create.tags), dict(NEW_GROUP_RULES))
    for pair in live:
        if pair.removal:
            continue
        gid = ids.get(pair.mirror_id, pair.mirror_id)
        current = groups[gid]
        tags = _retag(current.tags, pair.mirror_tags, ids)
        after = dict(current.rules)
        for direction, diff in pair.rules.items():
            now = in_direction(after, direction)
            resolved = type(diff)(_resolve_rules(diff.authorize, ids), _resolve_rules(diff.revoke, ids),
                                  _resolve_rules(diff.update, ids), diff.revoke_first)
            after = {r: d for r, d in after.items() if r.direction != direction}
            after.update(apply_diff(now, resolved))
        groups[gid] = dataclasses.replace(current, tags=tags, rules=after)
        src = groups[pair.source.id]
        groups[src.id] = dataclasses.replace(src, tags=_retag(src.tags, pair.source_tags, ids))
    for pair in live:
        if not pair.removal:
            continue
        for gid in pair.untag_ids:
            groups[gid] = dataclasses.replace(groups[gid], tags={k: v for k, v in groups[gid].tags.items() if k != FROM})
        for gid in pair.delete_ids:
            del groups[gid]
        if pair.source is not None:
            src = groups[pair.source.id]
            groups[src.id] = dataclasses.replace(src, tags=_retag(src.tags, pair.source_tags, ids))
    return dataclasses.replace(snap, groups=groups, vpcs=dict(snap.vpcs)), ids
