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

from dataclasses import replace
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.classiclink.mirror.plugins.module_utils.model import Instance, Link, SecurityGroup, Snapshot, Vpc
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import home_sources, source_targets
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import EGRESS, GROUP, INGRESS, RuleError, RuleSet, flatten
from ansible_collections.classiclink.mirror.plugins.module_utils.scope import (
    BotoCoreError,
    ClientError,
    ResponseParserError,
    Scope,
    error_text,
    run_concurrently,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import (
    LINK_TAG_KEYS,
    MIRRORED_FROM_TAG,
    MIRRORED_TO_TAG,
    is_group_id,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.targets import (
    DEFAULT_PARTITION,
    TargetScope,
    Targets,
    partition_for_region,
    read_mirrored_from,
    read_mirrored_to,
    record_keys,
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
    home: Optional[Callable[[bool], TargetScope]] = None,
    targets_option: Optional[Targets] = None,
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
    ``home(need_account)`` gives the run's own scope (the account is only needed, and only asked for, when a
    tag read here or ``targets_option`` holds an ARN); ``targets_option`` adds its home-scope VPCs to step 4.
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

    need_account = bool(targets_option and any(target.scope.account for target in targets_option.targets)) or _holds_arn(
        snapshot, link_tag_keys)
    region = scope.region or ""
    snapshot.home = home(need_account) if home else TargetScope(partition_for_region(region) if region else DEFAULT_PARTITION, "", region)
    _normalise_origins(snapshot, snapshot.home)
    targets = set()
    for group in home_sources(snapshot):
        for target in source_targets(snapshot, group, link_tag_keys).targets:
            if target.scope == snapshot.home and target.vpc_id in snapshot.vpcs:
                targets.add(target.vpc_id)
    for target in targets_option.targets if targets_option else ():
        if target.scope == snapshot.home and target.vpc_id in snapshot.vpcs:
            targets.add(target.vpc_id)
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


def _names_without_mirror(snapshot: Snapshot, link_tag_keys: Sequence[str], scope: Optional[TargetScope] = None,
                          vpcs: Optional[Mapping[str, Vpc]] = None, mirrors: Iterable[SecurityGroup] = ()) -> list:
    """Names of the sources whose declared target VPC (in ``scope``, default the home scope) holds no mirror of theirs yet."""
    scope = scope or snapshot.home
    vpcs = snapshot.vpcs if vpcs is None else vpcs
    mirrored = set((group.mirrored_from, group.vpc_id) for group in list(snapshot.mirrors()) + list(mirrors))
    names = set()
    for group in home_sources(snapshot):
        for target in source_targets(snapshot, group, link_tag_keys).targets:
            if target.scope == scope and target.vpc_id in vpcs and (group.id, target.vpc_id) not in mirrored:
                names.add(group.name)
    return sorted(names)


def _holds_arn(snapshot: Snapshot, link_tag_keys: Sequence[str]) -> bool:
    """Whether a link tag, a mirroredTo record or a mirroredFrom tag of the home scope holds an ARN
    (then the run needs its own account to tell its scope from the others)."""
    for group in snapshot.groups.values():
        keys = list(link_tag_keys) + [MIRRORED_FROM_TAG] + list(record_keys(group.tags))
        if any("arn:" in group.tags.get(key, "") for key in keys):
            return True
    return False


def origin_of(group: SecurityGroup, scope: TargetScope, home: TargetScope) -> Optional[str]:
    """A mirror's source as the home scope names it: its bare id when the source is in ``home``, else the
    source's ARN (another scope's mirror); None for a group of ``home`` whose tag is a bare id (read as is)."""
    value = group.tags.get(MIRRORED_FROM_TAG)
    if not value:
        return None
    location = read_mirrored_from(value, scope)
    if location is None:
        return None if scope == home else value
    if location.scope == home:
        return None if (scope == home and location.group_id == value.strip()) else location.group_id
    return location.arn


def _normalise_origins(snapshot: Snapshot, home: TargetScope, scope: Optional[TargetScope] = None) -> None:
    scope = scope or home
    for group_id, group in list(snapshot.groups.items()):
        origin = origin_of(group, scope, home)
        if origin is not None:
            snapshot.groups[group_id] = replace(group, origin=origin)


def load_remote(scope: Scope, target: TargetScope, home: Snapshot, link_tag_keys: Sequence[str] = LINK_TAG_KEYS,
                targets_option: Optional[Targets] = None, target_groups: bool = True) -> Snapshot:
    """What a run needs from another scope (a target's account or region, or one that only a source's
    mirroredTo record names): its VPCs, the mirrors there (groups tagged mirroredFrom), the groups named like
    a source whose mirror is missing in a target VPC there, and the names of the groups their rules refer to.
    No ClassicLink describes: ClassicLink links an instance to a VPC of its own account and region only.
    Returns the scope's part (``home.merge(part, target)`` adds it to the run's Snapshot)."""
    part = Snapshot(home=home.home)
    for raw in scope.paginate("describe_vpcs", "Vpcs"):
        part.vpcs[raw["VpcId"]] = Vpc(raw["VpcId"], bool(raw.get("IsDefault")))
    for raw in describe_groups(scope, [{"Name": "tag-key", "Values": [MIRRORED_FROM_TAG]}]):
        part.add_group(group_from_description(raw))
    _normalise_origins(part, home.home, target)
    if target_groups:
        wanted = set()
        for group in home_sources(home):
            declared = targets_option.targets if targets_option is not None else source_targets(home, group, link_tag_keys).targets
            wanted.update(item.vpc_id for item in declared if item.scope == target and item.vpc_id in part.vpcs)
        names = _names_without_mirror(home, link_tag_keys, target, part.vpcs, part.mirrors())
        if targets_option is not None:
            mirrored = set((group.mirrored_from, group.vpc_id) for group in part.mirrors())
            names = sorted(set(names) | set(group.name for group in home_sources(home)
                                            if any((group.id, vpc) not in mirrored for vpc in wanted)))
        if wanted:
            for batch in _filter_batches("group-name", names):
                for raw in describe_groups(scope, [{"Name": "vpc-id", "Values": sorted(wanted)}] + batch):
                    group = group_from_description(raw)
                    part.add_group(group)
            _normalise_origins(part, home.home, target)
    _load_referenced_names(scope, part)
    return part


def read_other_scopes(module, home: Scope, snapshot: Snapshot, refs: Sequence[str], options, every_source: bool = False):
    """Connect to and read every other scope the run needs (targets of the sources, and scopes their mirroredTo
    records name), in parallel within O(concurrency), and merge them into ``snapshot``.

    -> ({scope: Scope} reached, {scope: Problem} not reached: no target_role_arn for another account, role not
    assumable, describe refused). ``refs``: the requested sources (ids or names); ``every_source``: every source of
    the home scope (all_sources, prune)."""
    if every_source:
        sources = [group for group in home_sources(snapshot)
                   if source_targets(snapshot, group, options.link_tag_keys).keys or record_keys(group.tags)]
    else:
        wanted = set(ref.strip() for ref in refs)
        sources = [group for group in home_sources(snapshot) if group.id in wanted or group.name in wanted]
    needed = scopes_to_read(snapshot, sources, options.link_tag_keys, options.targets)
    if not needed:
        return {}, {}
    params = module.params
    reached, parts, problems = {}, {}, {}

    def read(target: TargetScope) -> None:
        scope, problem = home.other(module, target, params.get("target_role_arn"), params.get("target_role_external_id"),
                                    params.get("role_session_name"))
        if problem is not None:
            problems[target] = problem
            return
        try:
            parts[target] = load_remote(scope, target, snapshot, options.link_tag_keys, options.targets)
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            problems[target] = scope.unreachable(exc)
            return
        reached[target] = scope

    run_concurrently(sorted(needed), read, params.get("concurrency") or 1)
    for target in sorted(parts):
        snapshot.merge(parts[target], target)
    snapshot.scope_errors.update((target, problem.message) for target, problem in problems.items())
    return reached, problems


def scope_warnings(snapshot: Snapshot, problems: Mapping) -> list:
    """A warning per scope that only a mirroredTo record names and that the run could not read: its mirrors
    are kept in the record (never dropped unseen) and their orphans are not looked for."""
    warnings = []
    for target, problem in sorted(problems.items()):
        warnings.append("%s (named by a source's record of its mirrors, or a target) was not read: %s; mirrors there are kept "
                        "in the record and not pruned" % (target.label, problem.message))
    return warnings


def scopes_to_read(snapshot: Snapshot, sources: Iterable[SecurityGroup], link_tag_keys: Sequence[str] = LINK_TAG_KEYS,
                   targets_option: Optional[Targets] = None) -> Dict[TargetScope, Tuple[str, ...]]:
    """The other scopes a run reads -> why (for messages): every scope a target of ``sources`` is in, and every
    scope their mirroredTo records name (orphans there are found even when no tag names the scope any more)."""
    found: Dict[TargetScope, set] = {}
    for group in sources:
        declared = targets_option.targets if targets_option is not None else source_targets(snapshot, group, link_tag_keys).targets
        for target in declared:
            found.setdefault(target.scope, set()).add("target")
        for location in read_mirrored_to(group.tags, snapshot.home).mirrors:
            found.setdefault(location.scope, set()).add("record")
    found.pop(snapshot.home, None)
    return {scope: tuple(sorted(why)) for scope, why in sorted(found.items())}


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


def member_interfaces(scope: Scope, group_ids: Iterable[str]) -> List[dict]:
    """The network interfaces carrying any of ``group_ids`` (each once), as DescribeNetworkInterfaces
    returns them: one paginated describe per 200 groups (``group-id`` filter)."""
    seen: Set[str] = set()
    found = []
    for filters in _filter_batches("group-id", list(group_ids)):
        for interface in scope.paginate("describe_network_interfaces", "NetworkInterfaces", Filters=filters):
            if interface.get("NetworkInterfaceId") not in seen:
                seen.add(interface.get("NetworkInterfaceId"))
                found.append(interface)
    return found


def interface_groups(scope: Scope, group_ids: Sequence[str]) -> set:
    """The groups among ``group_ids`` that some network interface carries (instances, load
    balancers, ...): :func:`member_interfaces`, one describe per 200 groups."""
    carried = set(group["GroupId"] for interface in member_interfaces(scope, group_ids) for group in interface.get("Groups", []))
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
