# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Describe: everything a run needs from one region, read once into a Snapshot.

All pairs of a run plan from the same Snapshot, so a batch of N groups costs a
handful of paginated describes, not N of them. The Snapshot types are plain
data; :func:`load_snapshot` is the only part that talks to EC2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

try:
    from botocore.exceptions import ClientError
except ImportError:  # pragma: no cover - AnsibleAWSModule reports the missing library
    ClientError = Exception  # type: ignore[misc,assignment]

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    EGRESS,
    INGRESS,
    RuleError,
    RuleSet,
    flatten,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import (
    LINK_TAG_KEYS,
    MIRRORED_FROM_TAG,
    MIRRORED_TO_TAG,
    is_group_id,
    read_link_tag,
    tag_dict,
)


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

    @property
    def mirrored_from(self) -> Optional[str]:
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

    def is_classic(self, vpc_id: Optional[str]) -> bool:
        """Whether a group or instance in ``vpc_id`` counts as EC2-Classic."""
        return vpc_id is None or vpc_id == self.classic_vpc_id

    def add_group(self, group: SecurityGroup) -> None:
        self.groups[group.id] = group

    def groups_named(self, name: str) -> List[SecurityGroup]:
        return [group for group in self.groups.values() if group.name == name]

    def groups_in_vpc(self, vpc_id: str) -> List[SecurityGroup]:
        return [group for group in self.groups.values() if group.vpc_id == vpc_id]

    def mirrors(self) -> List[SecurityGroup]:
        """Every group carrying the mirroredFrom tag, in any VPC."""
        return [group for group in self.groups.values() if group.mirrored_from]


def group_from_description(raw: Mapping) -> SecurityGroup:
    """One ``DescribeSecurityGroups`` entry -> SecurityGroup (rules flattened)."""
    owner = raw.get("OwnerId", "")
    rules: RuleSet = {}
    error = None
    try:
        rules.update(flatten(raw.get("IpPermissions"), INGRESS, owner))
        rules.update(flatten(raw.get("IpPermissionsEgress"), EGRESS, owner))
    except RuleError as exc:
        error = "security group %s (%s) has a rule that cannot be read: %s" % (raw.get("GroupName"), raw["GroupId"], exc)
    return SecurityGroup(
        id=raw["GroupId"],
        name=raw.get("GroupName", ""),
        description=raw.get("Description", ""),
        vpc_id=raw.get("VpcId") or None,
        owner_id=owner,
        tags=tag_dict(raw.get("Tags")),
        rules=rules,
        rules_error=error,
    )


@AWSRetry.jittered_backoff()
def _paginate(client, operation: str, key: str, **params) -> List[dict]:
    """All pages of one describe; retried as a whole when EC2 throttles."""
    return client.get_paginator(operation).paginate(**params).build_full_result().get(key, [])


def describe_groups(client, filters: Sequence[dict]) -> List[dict]:
    return _paginate(client, "describe_security_groups", "SecurityGroups", Filters=list(filters))


def load_snapshot(
    client,
    link_tag_keys: Sequence[str] = LINK_TAG_KEYS,
    source_refs: Iterable[str] = (),
    with_links: bool = False,
    instance_ids: Optional[Sequence[str]] = None,
    classic_vpc_id: Optional[str] = None,
    tolerate_link_errors: bool = False,
    target_groups: bool = True,
) -> Snapshot:
    """Read the groups and VPCs a run needs, in four paginated describes or fewer.

    1. every VPC of the region (existence of targets, the default VPC);
    2. every tagged group (sources by their link tag, mirrors by mirroredFrom);
    3. explicitly named sources that carry no tag yet (by id or name);
    4. every group in the target VPCs (default groups, name collisions).

    ``with_links`` adds the instances (``instance_ids``, or every instance that
    is not terminated), their ClassicLinks and the target VPCs' ClassicLink
    status: three more describes; ``target_groups=False`` skips step 4 (links
    need the mirrors, which step 2 finds). ``classic_vpc_id`` (an id, or ``default``)
    names a VPC whose groups and instances stand in for EC2-Classic.
    """
    snapshot = Snapshot()
    for raw in _paginate(client, "describe_vpcs", "Vpcs"):
        snapshot.vpcs[raw["VpcId"]] = Vpc(raw["VpcId"], bool(raw.get("IsDefault")))
        if raw.get("IsDefault"):
            snapshot.default_vpc_id = raw["VpcId"]
    snapshot.classic_vpc_id = snapshot.default_vpc_id if classic_vpc_id == "default" else classic_vpc_id

    # Sources by link tag, mirrors by mirroredFrom, and former sources by mirroredTo (orphan detection).
    tag_keys = list(link_tag_keys) + [MIRRORED_FROM_TAG, MIRRORED_TO_TAG]
    tagged = describe_groups(client, [{"Name": "tag-key", "Values": tag_keys}])
    for raw in tagged:
        snapshot.add_group(group_from_description(raw))

    refs = [ref for ref in source_refs if ref not in snapshot.groups]
    ids = [ref for ref in refs if is_group_id(ref)]
    names = [ref for ref in refs if not is_group_id(ref)]
    filters = []
    if ids:
        filters.append([{"Name": "group-id", "Values": ids}])
    if names:
        filters.append([{"Name": "group-name", "Values": names}])
    for group_filter in filters:
        for raw in describe_groups(client, group_filter):
            snapshot.add_group(group_from_description(raw))

    targets = set()
    for group in snapshot.groups.values():
        declared = read_link_tag(group.tags, link_tag_keys).vpc_id
        if declared in snapshot.vpcs:
            targets.add(declared)
    targets = sorted(targets)
    if targets and target_groups:
        for raw in describe_groups(client, [{"Name": "vpc-id", "Values": targets}]):
            snapshot.add_group(group_from_description(raw))
    if with_links:
        _load_links(client, snapshot, instance_ids, tolerate_link_errors)
    return snapshot


def _load_links(client, snapshot: Snapshot, instance_ids: Optional[Sequence[str]], tolerate_link_errors: bool) -> None:
    try:
        _load_classiclink_state(client, snapshot, instance_ids)
    except ClientError as exc:
        # Accounts without EC2-Classic refuse the ClassicLink calls; an audit still reports the rest.
        if not tolerate_link_errors:
            raise
        error = exc.response.get("Error", {})
        snapshot.links_error = "ClassicLink state could not be read: %s: %s" % (error.get("Code"), error.get("Message"))
    _load_instances(client, snapshot, instance_ids)


def _load_classiclink_state(client, snapshot: Snapshot, instance_ids: Optional[Sequence[str]]) -> None:
    for raw in _retry_call(client.describe_vpc_classic_link).get("Vpcs", []):
        vpc = snapshot.vpcs.get(raw["VpcId"])
        if vpc is not None:
            snapshot.vpcs[vpc.id] = Vpc(vpc.id, vpc.is_default, bool(raw.get("ClassicLinkEnabled")))
    link_params = {"Filters": [{"Name": "instance-id", "Values": list(instance_ids)}]} if instance_ids else {}
    for raw in describe_links(client, link_params):
        snapshot.links[raw["InstanceId"]] = Link(
            raw["InstanceId"], raw["VpcId"], tuple(sorted(group["GroupId"] for group in raw.get("Groups", [])))
        )


def _load_instances(client, snapshot: Snapshot, instance_ids: Optional[Sequence[str]]) -> None:
    if instance_ids is not None:
        filters = [{"Name": "instance-id", "Values": list(instance_ids)}] if instance_ids else None
    else:
        filters = [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    if filters:
        for reservation in _paginate(client, "describe_instances", "Reservations", Filters=filters):
            for raw in reservation.get("Instances", []):
                snapshot.instances[raw["InstanceId"]] = Instance(
                    id=raw["InstanceId"],
                    state=raw.get("State", {}).get("Name", ""),
                    group_ids=tuple(sorted(group["GroupId"] for group in raw.get("SecurityGroups", []))),
                    vpc_id=raw.get("VpcId") or None,
                    tags=tag_dict(raw.get("Tags")),
                )


def describe_links(client, params: Mapping) -> List[dict]:
    return _paginate(client, "describe_classic_link_instances", "Instances", **params)


@AWSRetry.jittered_backoff()
def _retry_call(operation, **params):
    return operation(**params)
