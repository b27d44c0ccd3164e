# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The group plan's vocabulary: options, pair plans, and the facts about sources, mirrors and orphans. Pure.

``plan_groups.py`` builds pair plans from these; ``plan_links.py``, ``audit.py``,
``apply_groups.py`` and ``report.py`` read them. A plan is immutable once built:
the executor reports what it did in an ``Outcome`` (``model.py``), never in the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    ALL_PROTOCOLS,
    CIDR_IP,
    DEFAULT_RULES_QUOTA,
    EGRESS,
    GROUP,
    Rule,
    RuleDiff,
    RuleSet,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.guardrails import Guardrail
from ansible_collections.classiclink.mirror.plugins.module_utils.model import (
    RETARGETED,
    SOURCE_GONE,
    UNTAGGED,
    Outcome,
    Problem,
    SecurityGroup,
    Snapshot,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import (
    LINK_TAG_KEYS,
    MIRRORED_TO_TAG,
    NO_TAG_CHANGE,
    TagChange,
    read_link_tag,
)

PLACEHOLDER_PREFIX = "new-mirror-of-"
DEFAULT_GROUP_NAME = "default"
CLASSIC_ELB_OWNER = "amazon-elb"
# What EC2 gives every new VPC security group.
NEW_GROUP_RULES: RuleSet = {Rule(EGRESS, ALL_PROTOCOLS, None, None, CIDR_IP, "0.0.0.0/0"): None}


def placeholder(source_id: str) -> str:
    """The id a not-yet-created mirror has inside a plan."""
    return PLACEHOLDER_PREFIX + source_id


def with_ids(rule: Rule, ids: Mapping[str, str]) -> Rule:
    """``rule`` with its placeholder target replaced by the id of the group created for it (when ``ids`` has it)."""
    if rule.kind == GROUP and rule.target in ids:
        return rule.with_target(ids[rule.target], rule.user_id)
    return rule


def managed_sources(snapshot: Snapshot, link_tag_keys: Sequence[str] = LINK_TAG_KEYS) -> Dict[str, str]:
    """Source group id -> the VPC its (valid) link tag names. Mirrors are never sources."""
    managed: Dict[str, str] = {}
    for group in snapshot.groups.values():
        if not group.mirrored_from:
            declared = read_link_tag(group.tags, link_tag_keys).vpc_id
            if declared:
                managed[group.id] = declared
    return managed


def declared_sources(snapshot: Snapshot, link_tag_keys: Sequence[str] = LINK_TAG_KEYS,
                     vpc_ids: Optional[Sequence[str]] = None) -> List[SecurityGroup]:
    """Every non-mirror group carrying a link tag, sorted by name; with ``vpc_ids`` only
    those whose tag names one of them (an unreadable tag then names none)."""
    found = []
    for group in snapshot.groups.values():
        link = read_link_tag(group.tags, link_tag_keys)
        if group.mirrored_from or not link.present:
            continue
        if vpc_ids and link.vpc_id not in vpc_ids:
            continue
        found.append(group)
    return sorted(found, key=lambda group: (group.name, group.id))


class GroupIndex:
    """Groups by VPC and mirrors by (source, VPC), built once per plan: planning a
    thousand pairs must not scan the snapshot once per pair."""

    def __init__(self, snapshot: Snapshot):
        self.by_vpc: Dict[Optional[str], List[SecurityGroup]] = {}
        self.mirrors: Dict[Tuple[str, Optional[str]], SecurityGroup] = {}
        for group in snapshot.groups.values():
            self.by_vpc.setdefault(group.vpc_id, []).append(group)
            if group.mirrored_from:
                self.mirrors.setdefault((group.mirrored_from, group.vpc_id), group)

    def in_vpc(self, vpc_id: str) -> List[SecurityGroup]:
        return self.by_vpc.get(vpc_id, [])

    def mirror_of(self, source_id: str, vpc_id: str) -> Optional[SecurityGroup]:
        """The group in ``vpc_id`` whose mirroredFrom tag names ``source_id``."""
        return self.mirrors.get((source_id, vpc_id))


@dataclass(frozen=True)
class MirrorOptions:
    state: str = "present"
    purge_rules: bool = True
    egress: str = "auto"  # auto | yes | no
    tags: Optional[Mapping[str, str]] = None
    purge_tags: bool = True
    adopt: bool = False
    link_tag_keys: Tuple[str, ...] = LINK_TAG_KEYS
    rules_quota: int = DEFAULT_RULES_QUOTA
    vpc_id: Optional[str] = None  # overrides (and rewrites) the sources' link tags
    prune: bool = False  # also delete orphan mirrors
    prune_vpc_ids: Optional[Tuple[str, ...]] = None  # ... only in these VPCs
    guardrails: Tuple[Guardrail, ...] = ()  # rule patterns not carried into mirrors (guardrails.py)


@dataclass(frozen=True)
class CreateMirror:
    name: str
    description: str
    vpc_id: str
    tags: Mapping[str, str]


@dataclass(frozen=True)
class PairPlan:
    """Everything one (source, mirror) pair needs, and why. Immutable: the planner
    builds it with ``dataclasses.replace``; the executor never writes to it."""

    source_ref: str
    source: Optional[SecurityGroup] = None
    vpc_id: Optional[str] = None
    mirror: Optional[SecurityGroup] = None
    mirror_id: Optional[str] = None  # real id, or placeholder() when create is set
    create: Optional[CreateMirror] = None
    adopt: bool = False
    referenced_only: bool = False  # created empty because another pair refers to it
    removal: bool = False  # state=absent, or an orphan being pruned
    orphan: Optional[str] = None  # why a pruned mirror was an orphan
    delete_ids: Tuple[str, ...] = ()
    mirror_tags: TagChange = NO_TAG_CHANGE
    untag_ids: Tuple[str, ...] = ()  # default groups released by state=absent
    source_tags: TagChange = NO_TAG_CHANGE
    rules: Mapping[str, RuleDiff] = field(default_factory=dict)
    before: RuleSet = field(default_factory=dict)
    after: RuleSet = field(default_factory=dict)
    skipped_references: Tuple[dict, ...] = ()  # each with ``reason`` and its ``code``
    withheld_rules: Tuple[dict, ...] = ()  # source rules a guardrail keeps out of the mirror
    revoke_reasons: Tuple[Tuple[Rule, Problem], ...] = ()  # why a revoked reference goes (a knock-on change)
    warnings: Tuple[str, ...] = ()
    error: Optional[str] = None  # why the pair cannot be planned ...
    code: Optional[str] = None  # ... as a code of model.CODES

    @property
    def source_id(self) -> Optional[str]:
        return self.source.id if self.source else None

    @property
    def changed(self) -> bool:
        if self.error:
            return False
        return bool(
            self.create
            or self.delete_ids
            or self.untag_ids
            or not self.mirror_tags.empty
            or not self.source_tags.empty
            or any(not diff.empty for diff in self.rules.values())
        )


@dataclass(frozen=True)
class Plan:
    pairs: Tuple[PairPlan, ...]
    orphans: Tuple[Tuple[SecurityGroup, str], ...] = ()  # seen, pruned only with prune
    names: Mapping[str, str] = field(default_factory=dict)  # group id (or placeholder) -> name, for messages and --diff

    @property
    def changed(self) -> bool:
        return any(pair.changed for pair in self.pairs)

    @property
    def failed(self) -> List[PairPlan]:
        return [pair for pair in self.pairs if pair.error]


def planned_mirrors(plan: Plan, outcome: Outcome) -> Dict[str, str]:
    """Source id -> its mirror's id after ``outcome`` (a placeholder for a mirror still to be created, in check mode),
    for the pairs that did not fail: what the link planner links instances to."""
    mirrors = {}
    for index, pair in enumerate(plan.pairs):
        if pair.removal or pair.error or not pair.source_id or not pair.mirror_id or outcome.problem(index) is not None:
            continue
        mirrors[pair.source_id] = outcome.resolve(pair.mirror_id)
    return mirrors


def removal_pair(ref: str, source: Optional[SecurityGroup], mirrors: Sequence[SecurityGroup], touch_source: bool = True,
                 vpc_id: Optional[str] = None, orphan: Optional[str] = None) -> PairPlan:
    """Delete ``mirrors`` (a VPC default group is released instead: it cannot be deleted).

    The source's mirroredTo tag is removed only when it names one of them.
    """
    first = mirrors[0] if mirrors else None
    release_source = touch_source and source is not None and source.tags.get(MIRRORED_TO_TAG) in set(group.id for group in mirrors)
    return PairPlan(
        source_ref=ref,
        source=source,
        removal=True,
        mirror=first,
        mirror_id=first.id if first else None,
        vpc_id=first.vpc_id if first else vpc_id,
        before=dict(first.rules) if first else {},
        delete_ids=tuple(group.id for group in mirrors if group.name != DEFAULT_GROUP_NAME),
        untag_ids=tuple(group.id for group in mirrors if group.name == DEFAULT_GROUP_NAME),
        source_tags=TagChange({}, (MIRRORED_TO_TAG,)) if release_source else NO_TAG_CHANGE,
        orphan=orphan,
    )


def find_orphans(snapshot: Snapshot, link_tag_keys: Sequence[str] = LINK_TAG_KEYS,
                 vpc_ids: Optional[Sequence[str]] = None,
                 declared: Optional[Mapping[str, str]] = None,
                 undecided: Sequence[str] = ()) -> List[Tuple[SecurityGroup, str]]:
    """Mirrors whose source is gone, untagged, or now linked to another VPC.

    ``declared`` (source id -> VPC) overrides what the tags say, for sources a
    run is retargeting right now. A source whose link tag cannot be read, or
    names a VPC that does not exist, or is ``undecided`` (its pair failed this
    run), keeps its mirror: a typo in a tag must never delete a mirror.
    """
    declared = declared or {}
    orphans = []
    for mirror in snapshot.mirrors():
        if vpc_ids and mirror.vpc_id not in vpc_ids:
            continue
        source = snapshot.groups.get(mirror.mirrored_from)
        if source is None:
            orphans.append((mirror, SOURCE_GONE))
            continue
        link = read_link_tag(source.tags, link_tag_keys)
        if source.id in undecided:
            continue
        if source.id in declared:
            if declared[source.id] != mirror.vpc_id:
                orphans.append((mirror, RETARGETED))
        elif link.error or (link.vpc_id and link.vpc_id not in snapshot.vpcs):
            continue
        elif not link.present:
            orphans.append((mirror, UNTAGGED))
        elif link.vpc_id != mirror.vpc_id:
            orphans.append((mirror, RETARGETED))
    return orphans
