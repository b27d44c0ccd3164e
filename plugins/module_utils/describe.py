# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Describe: everything a run needs from one scope, read once into a Snapshot.

All pairs of a run plan from the same Snapshot, so a batch of N groups costs a
handful of paginated describes, not N of them. The Snapshot types live in
``model.py``; this is the only reading side of the AWS edge (calls go through
``scope.Scope``).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional, Sequence

from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.classiclink.mirror.plugins.module_utils.model import Instance, Link, SecurityGroup, Snapshot, Vpc
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import EGRESS, GROUP, INGRESS, RuleError, RuleSet, flatten
from ansible_collections.classiclink.mirror.plugins.module_utils.scope import BotoCoreError, ClientError, ResponseParserError, Scope, error_text
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import (
    LINK_TAG_KEYS,
    MIRRORED_FROM_TAG,
    MIRRORED_TO_TAG,
    is_group_id,
    read_link_tag,
)


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
        tags=boto3_tag_list_to_ansible_dict(raw.get("Tags") or []),
        rules=rules,
        rules_error=error,
    )


def describe_groups(scope: Scope, filters: Sequence[dict]) -> list:
    return scope.paginate("describe_security_groups", "SecurityGroups", Filters=list(filters))


def load_snapshot(
    scope: Scope,
    link_tag_keys: Sequence[str] = LINK_TAG_KEYS,
    source_refs: Iterable[str] = (),
    with_links: bool = False,
    instance_ids: Optional[Sequence[str]] = None,
    classic_vpc_id: Optional[str] = None,
    tolerate_link_errors: bool = False,
    target_groups: bool = True,
    name_references: bool = False,
    target_names_only: bool = False,
) -> Snapshot:
    """Read the groups and VPCs a run needs, in four paginated describes or fewer.

    1. every VPC of the region (existence of targets, the default VPC);
    2. every tagged group (sources by their link tag, mirrors by mirroredFrom);
    3. explicitly named sources that carry no tag yet (by id or name);
    4. every group in the target VPCs (default groups, name collisions).

    ``with_links`` adds the instances (``instance_ids``, or every instance that
    is not terminated), their ClassicLinks and the target VPCs' ClassicLink
    status: three more describes; ``target_groups=False`` skips step 4 (links
    need the mirrors, which step 2 finds); ``target_names_only`` reads in step 4 only the groups named like a
    source whose mirror step 2 did not find (what a new mirror's name could clash with, or a default group to map
    onto): none at all once every mirror exists; ``name_references`` reads the names of groups that
    rules refer to but no step read (one more describe, only when there are such groups).
    ``classic_vpc_id`` (an id, or ``default``)
    names a VPC whose groups and instances stand in for EC2-Classic.
    """
    snapshot = Snapshot()
    for raw in scope.paginate("describe_vpcs", "Vpcs"):
        snapshot.vpcs[raw["VpcId"]] = Vpc(raw["VpcId"], bool(raw.get("IsDefault")))
        if raw.get("IsDefault"):
            snapshot.default_vpc_id = raw["VpcId"]
    snapshot.classic_vpc_id = snapshot.default_vpc_id if classic_vpc_id == "default" else classic_vpc_id

    # Sources by link tag, mirrors by mirroredFrom, and former sources by mirroredTo (orphan detection).
    tag_keys = list(link_tag_keys) + [MIRRORED_FROM_TAG, MIRRORED_TO_TAG]
    tagged = describe_groups(scope, [{"Name": "tag-key", "Values": tag_keys}])
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
        for raw in describe_groups(scope, group_filter):
            snapshot.add_group(group_from_description(raw))

    targets = set()
    for group in snapshot.groups.values():
        declared = read_link_tag(group.tags, link_tag_keys).vpc_id
        if declared in snapshot.vpcs:
            targets.add(declared)
    targets = sorted(targets)
    if targets and target_groups:
        names = _names_without_mirror(snapshot, link_tag_keys) if target_names_only else None
        if names is None:
            for raw in describe_groups(scope, [{"Name": "vpc-id", "Values": targets}]):
                snapshot.add_group(group_from_description(raw))
        for batch in _filter_batches("group-name", names or ()):
            for raw in describe_groups(scope, [{"Name": "vpc-id", "Values": targets}] + batch):
                snapshot.add_group(group_from_description(raw))
    if name_references:
        _load_referenced_names(scope, snapshot)
    if with_links:
        _load_links(scope, snapshot, instance_ids, tolerate_link_errors)
    return snapshot


# An EC2 describe filter takes at most 200 values.
FILTER_VALUES_MAX = 200


def _filter_batches(name: str, values: Sequence[str]) -> Iterable[list]:
    """``Filters`` for ``values`` in batches that EC2 accepts, one describe each."""
    values = sorted(set(values))
    for start in range(0, len(values), FILTER_VALUES_MAX):
        yield [{"Name": name, "Values": values[start:start + FILTER_VALUES_MAX]}]


def _names_without_mirror(snapshot: Snapshot, link_tag_keys: Sequence[str]) -> list:
    """Names of the sources whose declared target VPC holds no mirror of theirs yet."""
    mirrored = set((group.mirrored_from, group.vpc_id) for group in snapshot.mirrors())
    names = set()
    for group in snapshot.groups.values():
        declared = read_link_tag(group.tags, link_tag_keys).vpc_id
        if declared in snapshot.vpcs and (group.id, declared) not in mirrored:
            names.add(group.name)
    return sorted(names)


def _load_referenced_names(scope: Scope, snapshot: Snapshot) -> None:
    """Names of the groups that rules refer to but the run did not read (so that messages and
    ``--diff`` name them): one describe per 200 such groups, none when there are none."""
    unknown = set()
    for group in snapshot.groups.values():
        for rule in group.rules:
            if rule.kind == GROUP and rule.target not in snapshot.groups and rule.user_id in (None, "", group.owner_id):
                unknown.add(rule.target)
    for filters in _filter_batches("group-id", unknown):
        for raw in describe_groups(scope, filters):
            snapshot.names[raw["GroupId"]] = raw.get("GroupName", "")


def _load_links(scope, snapshot: Snapshot, instance_ids: Optional[Sequence[str]], tolerate_link_errors: bool) -> None:
    try:
        _load_classiclink_state(scope, snapshot, instance_ids)
    except (BotoCoreError, ClientError, ResponseParserError) as exc:
        # Accounts without EC2-Classic refuse the ClassicLink calls; an audit still reports the rest.
        if not tolerate_link_errors:
            raise
        snapshot.links_error = "ClassicLink state could not be read: %s%s" % (error_text(exc), retirement_hint(exc))
    _load_instances(scope, snapshot, instance_ids)


def _load_classiclink_state(scope: Scope, snapshot: Snapshot, instance_ids: Optional[Sequence[str]]) -> None:
    for raw in scope.call("describe_vpc_classic_link").get("Vpcs", []):
        vpc = snapshot.vpcs.get(raw["VpcId"])
        if vpc is not None:
            snapshot.vpcs[vpc.id] = Vpc(vpc.id, vpc.is_default, bool(raw.get("ClassicLinkEnabled")))
    link_params = {"Filters": [{"Name": "instance-id", "Values": list(instance_ids)}]} if instance_ids else {}
    for raw in describe_links(scope, link_params):
        snapshot.links[raw["InstanceId"]] = Link(
            raw["InstanceId"], raw["VpcId"], tuple(sorted(group["GroupId"] for group in raw.get("Groups", [])))
        )


def _load_instances(scope: Scope, snapshot: Snapshot, instance_ids: Optional[Sequence[str]]) -> None:
    if instance_ids is not None:
        filters = [{"Name": "instance-id", "Values": list(instance_ids)}] if instance_ids else None
    else:
        filters = [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    if filters:
        for reservation in scope.paginate("describe_instances", "Reservations", Filters=filters):
            for raw in reservation.get("Instances", []):
                snapshot.instances[raw["InstanceId"]] = Instance(
                    id=raw["InstanceId"],
                    state=raw.get("State", {}).get("Name", ""),
                    group_ids=tuple(sorted(group["GroupId"] for group in raw.get("SecurityGroups", []))),
                    vpc_id=raw.get("VpcId") or None,
                    tags=boto3_tag_list_to_ansible_dict(raw.get("Tags") or []),
                )


def describe_links(scope: Scope, params: Mapping) -> list:
    return scope.paginate("describe_classic_link_instances", "Instances", **params)


def interface_groups(scope: Scope, group_ids: Sequence[str]) -> set:
    """The groups among ``group_ids`` that some network interface carries (instances, load
    balancers, ...): one paginated DescribeNetworkInterfaces per 200 groups."""
    carried = set()
    for filters in _filter_batches("group-id", group_ids):
        for interface in scope.paginate("describe_network_interfaces", "NetworkInterfaces", Filters=filters):
            carried.update(group["GroupId"] for group in interface.get("Groups", []))
    return carried.intersection(group_ids)


# The ClassicLink describes: an account or region without EC2-Classic refuses them (and only them).
CLASSICLINK_OPERATIONS = ("DescribeVpcClassicLink", "DescribeClassicLinkInstances")
# Refusals that say nothing about EC2-Classic: credentials and permissions, throttling.
NOT_RETIREMENT_CODES = ("AuthFailure", "UnauthorizedOperation", "Blocked", "OptInRequired", "RequestExpired",
                        "SignatureDoesNotMatch", "InvalidClientTokenId", "UnrecognizedClientException",
                        "RequestLimitExceeded", "Throttling")


def retirement_hint(error):
    """The EC2-Classic retirement hint, for a ClassicLink describe that EC2 refused (a 4xx answer) - not for
    missing credentials, a failed DescribeVpcs, a server error or a refusal of permissions."""
    if not isinstance(error, ClientError) or getattr(error, "operation_name", None) not in CLASSICLINK_OPERATIONS:
        return ""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400
    code = error.response.get("Error", {}).get("Code", "")
    if status >= 500 or code in NOT_RETIREMENT_CODES:
        return ""
    return ". EC2-Classic was retired: an account without it refuses the ClassicLink calls"
