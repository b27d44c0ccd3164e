# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The model: what a run reads (Snapshot), and what its executors report back (Outcome).

Plain dataclasses, no AWS import: the describe step fills a Snapshot, the pure
planners read it, the executors return an Outcome, and the report turns plan +
Outcome into the one result vocabulary below. A unit test imports this module
and the planners with boto3, botocore and amazon.aws made unimportable.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

from ansible_collections.classiclink.mirror.plugins.module_utils.rules import RuleSet
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import MIRRORED_FROM_TAG
from ansible_collections.classiclink.mirror.plugins.module_utils.targets import DEFAULT_PARTITION, TargetScope

# -- the result vocabulary ------------------------------------------------------
# Rule changes, in every result (modules, audit, summary filter, EDA source).
AUTHORIZE, REVOKE, UPDATE = "authorize", "revoke", "update"
RULE_CHANGES = (AUTHORIZE, REVOKE, UPDATE)

# Reason codes: ``code`` beside every human message (``error``, ``reason``). One place.
CODES: Dict[str, str] = {
    # why a reference was not mirrored (groups[].skipped_references[].code)
    "unmanaged_reference": "the referenced group carries no link tag",
    "other_target_reference": "the referenced group is mirrored into another VPC",
    "cross_account_reference": "the referenced group belongs to another account",
    "classic_elb_reference": "the EC2-Classic load balancer group has no VPC equivalent",
    "unplannable_reference": "the referenced group's mirror cannot be planned",
    # why a pair failed (groups[].code)
    "not_found": "a group, VPC or instance does not exist (or was deleted during the run)",
    "ambiguous_name": "a group name matches several groups",
    "is_mirror": "a mirror was given as a source",
    "no_link_tag": "the source declares no target VPC",
    "bad_link_tag": "the link tag cannot be read",
    "bad_vpc_id": "a VPC id option is malformed",
    "same_vpc": "the source is already in the target VPC",
    "name_clash": "two sources with one name map to one VPC",
    "name_taken": "a same-name group in the target VPC is not this source's mirror",
    "no_default_group": "the target VPC has no default group",
    "unreadable_rules": "EC2 returned a rule that cannot be read",
    "quota": "the mirror would exceed the rules quota",
    "dependency_failed": "a mirror this pair refers to could not be created",
    "in_use": "a mirror to delete is still in use",
    "guardrail": "a source rule matches a guardrail (withheld from the mirror, or the pair failed)",
    "aws_error": "an EC2 call failed (aws_code has EC2's error code)",
    "no_target_role": "the target is in another account and target_role_arn is not set (or does not fit it)",
    "unreachable_scope": "the target's account or region could not be reached (role not assumable, region disabled, describe refused)",
    "bad_record": "the source's record of its mirrors (mirroredTo tags) cannot be written",
    # why an instance was skipped or failed (instances[].code)
    "vpc_conflict": "the instance's managed groups map to more than one VPC",
    "not_running": "only running instances can be linked",
    "not_classic": "the instance is not an EC2-Classic instance",
    "not_member": "the instance is in no managed group",
    "stale_link_kept": "a stale link is kept until prune",
    "too_many_groups": "a ClassicLink takes at most five groups",
    "mirror_missing": "the mirror of a member group does not exist",
    "classiclink_disabled": "ClassicLink is not enabled on the target VPC",
    "bad_groups": "the explicit link groups do not name one VPC's groups",
    # why a member of a group is not in its address list (address_lists[].members_without_public_address[].code)
    "no_public_address": "address_kind is public and the member has no public IPv4 address",
}
# Why a mirror is an orphan (orphans[].reason, groups[].orphan).
SOURCE_GONE, UNTAGGED, RETARGETED = "source_gone", "untagged", "retargeted"


@dataclass(frozen=True)
class Problem:
    """A machine-readable code and the sentence a person reads."""

    code: str
    message: str
    aws_code: Optional[str] = None  # EC2's own error code, for code == aws_error


# -- what a run reads ----------------------------------------------------------


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    name: str
    description: str
    vpc_id: Optional[str]  # None for an EC2-Classic group
    owner_id: str
    tags: Mapping[str, str]
    rules: RuleSet  # both directions
    rules_error: Optional[str] = None  # rules EC2 returned that could not be read
    # The source this mirror is of, as the run's home scope names it: the bare id of a home-scope source,
    # else the source's group ARN (a mirror of another scope's source: never this run's to manage).
    # None: read from the mirroredFrom tag as it is (a group of the home scope).
    origin: Optional[str] = None

    @property
    def mirrored_from(self) -> Optional[str]:
        if self.origin is not None:
            return self.origin
        return self.tags.get(MIRRORED_FROM_TAG)

    @property
    def label(self) -> str:
        return "%s (%s)" % (self.name, self.id)


@dataclass(frozen=True)
class Vpc:
    id: str
    is_default: bool = False
    classiclink_enabled: Optional[bool] = None  # None: not described


@dataclass(frozen=True)
class Instance:
    id: str
    state: str  # pending | running | stopping | stopped | ...
    group_ids: Tuple[str, ...]
    vpc_id: Optional[str]  # None for an EC2-Classic instance
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class Link:
    """A ClassicLink: one instance, one VPC, 1-5 of that VPC's groups."""

    instance_id: str
    vpc_id: str
    group_ids: Tuple[str, ...]  # sorted


@dataclass
class Snapshot:
    """One region as the run saw it."""

    groups: Dict[str, SecurityGroup] = field(default_factory=dict)
    vpcs: Dict[str, Vpc] = field(default_factory=dict)
    instances: Dict[str, Instance] = field(default_factory=dict)
    links: Dict[str, Link] = field(default_factory=dict)  # by instance id
    default_vpc_id: Optional[str] = None
    classic_vpc_id: Optional[str] = None  # a VPC standing in for EC2-Classic (test environments)
    links_error: Optional[str] = None  # why ClassicLink state could not be read (audit runs go on)
    names: Dict[str, str] = field(default_factory=dict)  # id -> name of groups rules refer to, not read in full
    # Several scopes (issue 11): the run's own scope, and the scope of every group and VPC read elsewhere
    # (absent from these maps: the home scope). EC2 ids are unique across accounts and regions.
    home: TargetScope = field(default_factory=lambda: TargetScope(DEFAULT_PARTITION, "", ""))
    group_scopes: Dict[str, TargetScope] = field(default_factory=dict)
    vpc_scopes: Dict[str, TargetScope] = field(default_factory=dict)
    read_scopes: Dict[TargetScope, bool] = field(default_factory=dict)  # scopes read besides home (True)
    scope_errors: Dict[TargetScope, str] = field(default_factory=dict)  # scopes that could not be read, and why

    def scope_of_group(self, group_id: str) -> TargetScope:
        return self.group_scopes.get(group_id, self.home)

    def scope_of_vpc(self, vpc_id: str) -> TargetScope:
        return self.vpc_scopes.get(vpc_id, self.home)

    def is_home_group(self, group_id: str) -> bool:
        return group_id not in self.group_scopes

    def was_read(self, scope: TargetScope) -> bool:
        """Whether the run read ``scope`` (the home scope always)."""
        return scope == self.home or bool(self.read_scopes.get(scope))

    def merge(self, other: "Snapshot", scope: TargetScope) -> None:
        """Add another scope's VPCs, groups and names (read by describe.load_remote)."""
        for vpc_id, vpc in other.vpcs.items():
            self.vpcs[vpc_id] = vpc
            self.vpc_scopes[vpc_id] = scope
        for group_id, group in other.groups.items():
            self.groups[group_id] = group
            self.group_scopes[group_id] = scope
        self.names.update(other.names)
        self.read_scopes[scope] = True

    def is_classic(self, vpc_id: Optional[str]) -> bool:
        """Whether a group or instance in ``vpc_id`` counts as EC2-Classic."""
        return vpc_id is None or vpc_id == self.classic_vpc_id

    def add_group(self, group: SecurityGroup) -> None:
        self.groups[group.id] = group

    def groups_named(self, name: str) -> List[SecurityGroup]:
        """Groups of the home scope named ``name`` (sources are resolved there)."""
        return [group for group in self.groups.values() if group.name == name and group.id not in self.group_scopes]

    def name_of(self, group_id: str) -> Optional[str]:
        group = self.groups.get(group_id)
        return group.name if group is not None else self.names.get(group_id)

    def groups_in_vpc(self, vpc_id: str) -> List[SecurityGroup]:
        return [group for group in self.groups.values() if group.vpc_id == vpc_id]

    def mirrors(self) -> List[SecurityGroup]:
        """Every group carrying the mirroredFrom tag, in any VPC."""
        return [group for group in self.groups.values() if group.mirrored_from]


# -- what the executors report -------------------------------------------------


class Outcome:
    """What applying a plan did: real ids for the plan's placeholders, and a Problem
    per item (pair index, or instance id) that failed. Items not listed went as planned.

    Written by the executors' worker threads (one lock), read by the report.
    """

    def __init__(self) -> None:
        self.ids: Dict[str, str] = {}  # placeholder -> created group id
        # address lists created, per scope (None: the home scope): placeholder -> list id. Per scope because a group
        # referred to in two scopes has a list in each, under the same placeholder.
        self.list_ids: Dict[object, Dict[str, str]] = {}
        self.source_tags: Dict[str, object] = {}  # source id -> the TagChange its record really got (several scopes)
        self.failed: Dict[object, Problem] = {}
        self._lock = threading.Lock()

    def created(self, placeholder: str, group_id: str) -> None:
        with self._lock:
            self.ids[placeholder] = group_id

    def fail(self, item: object, problem: Problem) -> None:
        with self._lock:
            self.failed.setdefault(item, problem)  # the first failure is the cause

    def problem(self, item: object) -> Optional[Problem]:
        return self.failed.get(item)

    def created_list(self, scope: object, placeholder: str, list_id: str) -> None:
        with self._lock:
            self.list_ids.setdefault(scope, {})[placeholder] = list_id

    def ids_for(self, scope: object) -> Dict[str, str]:
        """The real ids a pair of ``scope`` (None: home) reads its placeholders with: mirrors, and that scope's lists."""
        ids = dict(self.ids)
        ids.update(self.list_ids.get(scope, {}))
        return ids

    def resolve(self, value: Optional[str]) -> Optional[str]:
        """A placeholder -> the id of the group created for it (other values unchanged)."""
        return self.ids.get(value, value) if value else value
