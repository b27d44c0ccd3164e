# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The group plan's vocabulary: options, pair plans, and the facts about sources, mirrors and orphans. Pure.

``plan_groups.py`` builds pair plans from these; ``plan_links.py``, ``audit.py``,
``apply_groups.py`` and ``report.py`` read them. A plan is immutable once built:
the executor reports what it did in an ``Outcome`` (``model.py``), never in the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    ALL_PROTOCOLS,
    CIDR_IP,
    DEFAULT_RULES_QUOTA,
    EGRESS,
    GROUP,
    PREFIX_LIST,
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
    is_group_id,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.targets import (
    GroupLocation,
    TargetScope,
    Targets,
    format_mirrored_to,
    plan_mirrored_to,
    read_mirrored_to,
    read_targets,
    record_keys,
)

PLACEHOLDER_PREFIX = "new-mirror-of-"
DEFAULT_GROUP_NAME = "default"
CLASSIC_ELB_OWNER = "amazon-elb"
# What EC2 gives every new VPC security group.
NEW_GROUP_RULES: RuleSet = {Rule(EGRESS, ALL_PROTOCOLS, None, None, CIDR_IP, "0.0.0.0/0"): None}


def placeholder(source_id: str, vpc_id: Optional[str] = None) -> str:
    """The id a not-yet-created mirror has inside a plan: ``new-mirror-of-<source id>``, and
    ``@<VPC id>`` after it for a source with several targets."""
    return PLACEHOLDER_PREFIX + source_id + ("@" + vpc_id if vpc_id else "")


def is_placeholder(value: Optional[str]) -> bool:
    return bool(value) and value.startswith(PLACEHOLDER_PREFIX)


def source_targets(snapshot: Snapshot, group: SecurityGroup, link_tag_keys: Sequence[str] = LINK_TAG_KEYS) -> Targets:
    """What a source's link tag(s) declare: one or more targets (VPC ids of the home scope, or VPC ARNs), or an error."""
    return read_targets(group.tags, snapshot.home, link_tag_keys, group.label)


def home_sources(snapshot: Snapshot) -> List[SecurityGroup]:
    """The groups of the home scope that are not mirrors (only they can be this run's sources)."""
    return [group for group in snapshot.groups.values() if not group.mirrored_from and snapshot.is_home_group(group.id)]


def with_ids(rule: Rule, ids: Mapping[str, str]) -> Rule:
    """``rule`` with its placeholder target replaced by the id of the group (or address list) created for it
    (when ``ids`` has it)."""
    if rule.kind == GROUP and rule.target in ids:
        return rule.with_target(ids[rule.target], rule.user_id)
    if rule.kind == PREFIX_LIST and rule.target in ids:
        return replace(rule, target=ids[rule.target])
    return rule


def managed_targets(snapshot: Snapshot, link_tag_keys: Sequence[str] = LINK_TAG_KEYS) -> Dict[str, Tuple[str, ...]]:
    """Source group id -> the VPCs its (valid) link tag names, in every scope. Mirrors are never sources."""
    managed: Dict[str, Tuple[str, ...]] = {}
    for group in home_sources(snapshot):
        declared = source_targets(snapshot, group, link_tag_keys)
        if declared.targets:
            managed[group.id] = tuple(target.vpc_id for target in declared.targets)
    return managed


def managed_sources(snapshot: Snapshot, link_tag_keys: Sequence[str] = LINK_TAG_KEYS) -> Dict[str, str]:
    """Source group id -> the VPC of its own account and region that its (valid) link tag names (the first
    one when it names several): what ClassicLink links its instances to. Mirrors are never sources."""
    managed: Dict[str, str] = {}
    for group in home_sources(snapshot):
        declared = source_targets(snapshot, group, link_tag_keys)
        home = [target.vpc_id for target in declared.targets if target.scope == snapshot.home]
        if home:
            managed[group.id] = home[0]
    return managed


def declared_sources(snapshot: Snapshot, link_tag_keys: Sequence[str] = LINK_TAG_KEYS,
                     vpc_ids: Optional[Sequence[str]] = None) -> List[SecurityGroup]:
    """Every non-mirror group of the home scope carrying a link tag, sorted by name; with ``vpc_ids`` only
    those whose tag names one of them (an unreadable tag then names none)."""
    found = []
    for group in home_sources(snapshot):
        declared = source_targets(snapshot, group, link_tag_keys)
        if not declared.keys:
            continue
        if vpc_ids and not any(target.vpc_id in vpc_ids for target in declared.targets):
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
    targets: Optional[Targets] = None  # the targets option (read against the home scope): overrides and rewrites the tags
    references: str = "drop"  # drop | addresses: what becomes of a reference that no mirror can stand for
    address_kind: str = "private"  # private | public (the members' addresses in address lists)
    # Why a target scope cannot be used (no target_role_arn for another account, role not assumable, region
    # disabled...): its pairs fail with this, before any call.
    scope_problems: Mapping[TargetScope, Problem] = field(default_factory=dict)
    prune: bool = False  # also delete orphan mirrors
    prune_vpc_ids: Optional[Tuple[str, ...]] = None  # ... only in these VPCs
    guardrails: Tuple[Guardrail, ...] = ()  # rule patterns not carried into mirrors (guardrails.py)
    # references=addresses: the address lists as read (None before they are read: every list is an IPv4 placeholder).
    address_lists: Optional["KnownLists"] = None


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
    scope: Optional[TargetScope] = None  # the target's (mirror's) scope; None: the run's own
    record: bool = False  # the source's mirroredTo record is written once per source, after every scope (record_change)
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
    home: Optional[TargetScope] = None  # the run's own scope
    records: Mapping[str, "SourceRecord"] = field(default_factory=dict)  # source id -> its record (several scopes or targets)
    address_lists: Tuple["WantedList", ...] = ()  # address lists the planned rules refer to (references=addresses)
    orphan_scopes: Mapping[str, TargetScope] = field(default_factory=dict)  # orphan mirror id -> its scope

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
        if pair.scope is not None:
            continue  # ClassicLink links instances to VPCs of their own account and region only
        mirrors.setdefault(pair.source_id, outcome.resolve(pair.mirror_id))
    return mirrors


def removal_pair(ref: str, source: Optional[SecurityGroup], mirrors: Sequence[SecurityGroup], touch_source: bool = True,
                 vpc_id: Optional[str] = None, orphan: Optional[str] = None, scope: Optional[TargetScope] = None) -> PairPlan:
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
        scope=scope,
    )


def find_orphans(snapshot: Snapshot, link_tag_keys: Sequence[str] = LINK_TAG_KEYS,
                 vpc_ids: Optional[Sequence[str]] = None,
                 declared: Optional[Mapping[str, object]] = None,
                 undecided: Sequence[str] = ()) -> List[Tuple[SecurityGroup, str]]:
    """Mirrors whose source is gone, untagged, or no longer linked to the mirror's VPC.

    ``declared`` (source id -> VPC, or VPCs) overrides what the tags say, for sources a
    run is retargeting right now. A source whose link tag cannot be read, or names a
    VPC that does not exist (or that the run could not read), or is ``undecided`` (a
    pair of it failed this run), keeps its mirrors: a typo in a tag must never delete
    a mirror. A mirror of another scope's source (its mirroredFrom is an ARN of
    another account or region) is that scope's run's business, never an orphan here.
    """
    declared = declared or {}
    orphans = []
    for mirror in snapshot.mirrors():
        if vpc_ids and mirror.vpc_id not in vpc_ids:
            continue
        if mirror.mirrored_from.startswith("arn:") or not (snapshot.is_home_group(mirror.id) or is_group_id(mirror.mirrored_from)):
            continue  # another scope's mirror (or, elsewhere, a tag this run cannot read): never this run's orphan
        source = snapshot.groups.get(mirror.mirrored_from)
        if source is None or not snapshot.is_home_group(source.id):
            orphans.append((mirror, SOURCE_GONE))
            continue
        if source.id in undecided:
            continue
        if source.id in declared:
            wanted = declared[source.id]
            if mirror.vpc_id not in ((wanted,) if isinstance(wanted, str) else tuple(wanted)):
                orphans.append((mirror, RETARGETED))
            continue
        link = source_targets(snapshot, source, link_tag_keys)
        if link.error or any(target.vpc_id not in snapshot.vpcs for target in link.targets):
            continue
        if not link.keys:
            orphans.append((mirror, UNTAGGED))
        elif mirror.vpc_id not in [target.vpc_id for target in link.targets]:
            orphans.append((mirror, RETARGETED))
    return orphans


# -- the source's record of its mirrors (mirroredTo), for sources with mirrors in several scopes ---------


@dataclass(frozen=True)
class SourceRecord:
    """What the final mirroredTo record of a source is made of, besides the pairs of the plan."""

    source: SecurityGroup
    kept: Tuple[GroupLocation, ...] = ()  # mirrors the run leaves alone (unread scopes; other scopes' unpruned orphans)
    link_tags: Mapping[str, str] = field(default_factory=dict)  # link tags the run (re)writes (vpc_id, targets)


@dataclass(frozen=True)
class WantedList:
    """An address list some planned rule refers to: the members of ``group_arn`` in ``scope``."""

    scope: TargetScope  # where the list lives (the mirror's scope)
    group_arn: str  # the group whose members it lists
    group_id: str
    group_scope: TargetScope  # where the group (and its members' interfaces) are read
    family: str
    prefix_list_id: str  # the existing list's id, or an address-list placeholder
    max_entries: int = 0  # the list's size as planned (what a reference weighs in the quota)
    active: bool = True  # a pair that did not fail refers to it (else: only failed pairs do; not created, not pruned)


@dataclass(frozen=True)
class KnownLists:
    """The address lists of the scopes a run read (references=addresses), as the planner uses them."""

    # (target scope, group ARN) -> ((family, list id or address-list placeholder, MaxEntries as planned), ...)
    lists: Mapping[Tuple[TargetScope, str], Tuple[Tuple[str, str, int], ...]] = field(default_factory=dict)
    own: FrozenSet[str] = frozenset()  # ids of every address list (addressesOf tag) of the scopes read
    sizes: Mapping[str, int] = field(default_factory=dict)  # list id or placeholder -> MaxEntries (the quota weight)


def record_mirrors(plan: Plan, source_id: str, outcome: Optional[Outcome] = None) -> List[GroupLocation]:
    """The mirrors a source has after the run (``outcome`` None: as planned, placeholders for creates)."""
    home = plan.home
    record = plan.records.get(source_id)
    found = set(record.kept) if record else set()
    for index, pair in enumerate(plan.pairs):
        if pair.source_id != source_id:
            continue
        scope = pair.scope or home
        problem = outcome.problem(index) if outcome is not None else None
        if pair.removal:
            if pair.error or problem is not None or not pair.changed:
                found.update(GroupLocation(scope, group_id) for group_id in pair.delete_ids)
            continue
        if pair.error or problem is not None:
            if pair.mirror is not None:
                found.add(GroupLocation(scope, pair.mirror.id))
            elif outcome is not None and pair.mirror_id in outcome.ids:
                found.add(GroupLocation(scope, outcome.ids[pair.mirror_id]))
            continue
        mirror_id = outcome.resolve(pair.mirror_id) if outcome is not None else pair.mirror_id
        if mirror_id and not (outcome is not None and is_placeholder(mirror_id)):
            found.add(GroupLocation(scope, mirror_id))
    return sorted(found)


def record_change(plan: Plan, source_id: str, outcome: Optional[Outcome] = None) -> Tuple[TagChange, Optional[str]]:
    """The source's tag change: its mirroredTo record naming every mirror after the run (and the link tags
    the run rewrites). Placeholders (check mode, or the plan before the run) read as changes."""
    record = plan.records[source_id]
    source, home = record.source, plan.home
    mirrors = record_mirrors(plan, source_id, outcome)
    if any(is_placeholder(location.group_id) for location in mirrors):
        wanted, error = format_mirrored_to(mirrors, home)
        change = TagChange({key: value for key, value in wanted.items() if source.tags.get(key) != value},
                           tuple(key for key in record_keys(source.tags) if key not in wanted))
    else:
        change, error = plan_mirrored_to(source.tags, mirrors, home)
    links = {key: value for key, value in record.link_tags.items() if source.tags.get(key) != value}
    if links:
        change = TagChange(dict(change.set, **links), change.unset)
    return change, error


def current_record(snapshot: Snapshot, source: SecurityGroup) -> Tuple[GroupLocation, ...]:
    """The mirrors the source's mirroredTo tags name now."""
    return read_mirrored_to(source.tags, snapshot.home).mirrors
