# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Plan the ClassicLinks: each member instance linked to the mirrors of its groups. Pure.

An EC2-Classic instance can have one ClassicLink, to one VPC, with 1 to 5 of
that VPC's groups, and a link's groups cannot be changed in place. So the
desired link of an instance is the mirrors of ALL its managed source groups;
when that set changes the instance is detached, then attached again.
:func:`plan_links` builds an immutable LinksPlan; ``apply_links.LinkExecutor``
makes the calls and ``report.links_result`` says what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import List, Mapping, Optional, Sequence, Tuple

from ansible_collections.classiclink.mirror.plugins.module_utils.model import Instance, Link, Problem, Snapshot
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import GroupIndex, managed_sources, placeholder
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import LINK_TAG_KEYS, is_group_id

MAX_LINK_GROUPS = 5  # ClassicLink's limit of VPC groups per link

LINKED = "linked"
RELINKED = "relinked"
UNLINKED = "unlinked"
UNCHANGED = "unchanged"
SKIPPED = "skipped"
ERROR = "error"
MUTATING_ACTIONS = (LINKED, RELINKED, UNLINKED)


@dataclass(frozen=True)
class LinkOptions:
    state: str = "present"
    prune: bool = False
    vpc_id: Optional[str] = None
    groups: Optional[Tuple[str, ...]] = None  # explicit VPC group ids or names
    enable_classiclink: bool = False
    link_tag_keys: Tuple[str, ...] = LINK_TAG_KEYS
    vpc_ids: Optional[Tuple[str, ...]] = None  # only instances linked or to be linked to these VPCs
    assume_planned: bool = False  # check mode: a missing mirror would be created by the mirror step


@dataclass(frozen=True)
class LinkPlan:
    instance_id: str
    action: str = UNCHANGED
    vpc_id: Optional[str] = None
    groups: Tuple[str, ...] = ()
    current: Optional[Link] = None
    reason: Optional[str] = None
    code: Optional[str] = None  # a code of model.CODES beside ``reason`` (skipped and error actions)

    @property
    def detach(self) -> bool:
        return self.action in (RELINKED, UNLINKED)

    @property
    def attach(self) -> bool:
        return self.action in (LINKED, RELINKED)


@dataclass(frozen=True)
class LinksPlan:
    instances: Tuple[LinkPlan, ...]
    enable_vpcs: Tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.enable_vpcs) or any(plan.action in MUTATING_ACTIONS for plan in self.instances)


class _LinkPlanner:
    def __init__(self, snapshot: Snapshot, options: LinkOptions, planned_mirrors: Mapping[str, str]):
        self.snapshot = snapshot
        self.options = options
        self.planned_mirrors = planned_mirrors
        self.index = GroupIndex(snapshot)
        self.managed = managed_sources(snapshot, options.link_tag_keys)
        self.enable_vpcs: List[str] = []

    def desired(self, instance: Instance) -> Tuple[Optional[str], Tuple[str, ...], Optional[Problem]]:
        """(VPC, group ids, problem) of the link ``instance`` should have; VPC None = no link."""
        if self.options.groups is not None:
            return self.explicit_groups()
        targets = {}
        for group_id in instance.group_ids:
            if group_id in self.managed:
                targets.setdefault(self.managed[group_id], []).append(group_id)
        if self.options.vpc_id:
            targets = {vpc: ids for vpc, ids in targets.items() if vpc == self.options.vpc_id}
        if not targets:
            return None, (), None
        if len(targets) > 1:
            listed = "; ".join("%s -> %s" % (", ".join(ids), vpc) for vpc, ids in sorted(targets.items()))
            return None, (), Problem("vpc_conflict", (
                "its managed groups point at more than one VPC (%s) and an instance can be linked to one VPC only; "
                "make their link tags agree" % listed))
        (vpc_id, sources), = targets.items()
        mirrors = []
        for source_id in sources:
            mirror = self.index.mirror_of(source_id, vpc_id)
            mirror_id = mirror.id if mirror else self.planned_mirrors.get(source_id)
            if mirror_id is None and self.options.assume_planned and vpc_id in self.snapshot.vpcs:
                mirror_id = placeholder(source_id)
            if mirror_id is None:
                return vpc_id, (), Problem("mirror_missing", "the mirror of %s in %s does not exist yet; run classiclink_mirror_group for it first" % (
                    source_id, vpc_id))
            mirrors.append(mirror_id)
        return vpc_id, tuple(sorted(mirrors)), None

    def explicit_groups(self) -> Tuple[Optional[str], Tuple[str, ...], Optional[Problem]]:
        vpc_id = self.options.vpc_id
        found = []
        for ref in self.options.groups or ():
            matches = [
                group for group in self.snapshot.groups.values()
                if (group.id == ref if is_group_id(ref) else group.name == ref) and (vpc_id is None or group.vpc_id == vpc_id)
            ]
            if len(matches) != 1:
                where = vpc_id or "any VPC"
                return vpc_id, (), Problem("bad_groups", "group %r matches %d groups in %s; give group ids, or vpc_id with names" % (ref, len(matches), where))
            found.append(matches[0])
        vpcs = set(group.vpc_id for group in found)
        if len(vpcs) != 1 or None in vpcs:
            return vpc_id, (), Problem("bad_groups", "groups must all be in one VPC (got %s)" % ", ".join(sorted(str(v) for v in vpcs)))
        return vpcs.pop(), tuple(sorted(group.id for group in found)), None

    def plan(self, instance_id: str) -> LinkPlan:
        plan = LinkPlan(instance_id, current=self.snapshot.links.get(instance_id))
        instance = self.snapshot.instances.get(instance_id)
        if instance is None:
            return ended(plan, ERROR, Problem("not_found", "instance %s does not exist in this region; check the id and the region" % instance_id))
        if self.options.state == "absent":
            return self.plan_absent(plan)
        vpc_id, groups, problem = self.desired(instance)
        plan = replace(plan, vpc_id=vpc_id, groups=groups)
        if problem and problem.code == "vpc_conflict":
            return ended(plan, SKIPPED, problem)  # the instance cannot be linked, nothing to fix here
        if problem:
            return ended(plan, ERROR, problem)
        if vpc_id is None:
            return self.plan_stale(plan)
        if len(groups) > MAX_LINK_GROUPS:
            return ended(plan, ERROR, Problem("too_many_groups", (
                "instance %s needs %d mirror groups in %s but a ClassicLink takes at most %d; reduce its managed groups"
                % (instance_id, len(groups), vpc_id, MAX_LINK_GROUPS))))
        if not instance.running:
            return ended(plan, SKIPPED, Problem("not_running", "instance is %s; only running instances can be linked" % (instance.state or "not running")))
        if not self.snapshot.is_classic(instance.vpc_id):
            return ended(plan, SKIPPED, Problem("not_classic", (
                "instance is in %s; ClassicLink links only EC2-Classic instances (see classic_vpc_id)" % instance.vpc_id)))
        current = plan.current
        if current and current.vpc_id == vpc_id and current.group_ids == groups:
            return plan
        problem = self.check_vpc(vpc_id)
        if problem:
            return ended(plan, ERROR, problem)
        if current:
            return replace(plan, action=RELINKED, reason="link was to %s with %s" % (current.vpc_id, ", ".join(current.group_ids)))
        return replace(plan, action=LINKED)

    def check_vpc(self, vpc_id: str) -> Optional[Problem]:
        vpc = self.snapshot.vpcs.get(vpc_id)
        if vpc is None:
            return Problem("not_found", "VPC %s does not exist in this region" % vpc_id)
        if vpc.classiclink_enabled:
            return None
        if self.options.enable_classiclink:
            if vpc_id not in self.enable_vpcs:
                self.enable_vpcs.append(vpc_id)
            return None
        return Problem("classiclink_disabled", "ClassicLink is not enabled on VPC %s; enable it (EnableVpcClassicLink) or set enable_classiclink" % vpc_id)

    def plan_stale(self, plan: LinkPlan) -> LinkPlan:
        current = plan.current
        if current is None:
            return ended(plan, SKIPPED, Problem("not_member", "not a member of any managed security group"))
        plan = replace(plan, vpc_id=current.vpc_id, groups=current.group_ids)
        if self.options.prune:
            return replace(plan, action=UNLINKED, reason="stale link: the instance is no longer in a managed group mapping to %s" % current.vpc_id)
        return replace(plan, reason="stale link to %s kept; set prune to remove it" % current.vpc_id, code="stale_link_kept")

    def plan_absent(self, plan: LinkPlan) -> LinkPlan:
        current = plan.current
        if current is None or (self.options.vpc_id and current.vpc_id != self.options.vpc_id):
            return plan
        return replace(plan, vpc_id=current.vpc_id, groups=current.group_ids, action=UNLINKED)


def ended(plan: LinkPlan, action: str, problem: Problem) -> LinkPlan:
    """``plan`` ending in ``action`` (skipped or error) for ``problem``."""
    return replace(plan, action=action, reason=problem.message, code=problem.code)


def plan_links(snapshot: Snapshot, instance_ids: Optional[Sequence[str]], options: LinkOptions,
               planned_mirrors: Optional[Mapping[str, str]] = None) -> LinksPlan:
    """Plan the links of ``instance_ids``, or of every instance that is a member of a
    managed group or already linked. ``planned_mirrors`` (source id -> mirror id)
    stands in for mirrors a pair plan will create (the audit's view of a full run)."""
    planner = _LinkPlanner(snapshot, options, planned_mirrors or {})
    if instance_ids is None:
        wanted = options.vpc_ids
        managed = set(sid for sid, vpc in planner.managed.items() if not wanted or vpc in wanted)
        linked = set(iid for iid, link in snapshot.links.items() if not wanted or link.vpc_id in wanted)
        instance_ids = sorted(
            set(iid for iid, inst in snapshot.instances.items() if managed.intersection(inst.group_ids)) | linked
        )
    seen = []
    for instance_id in instance_ids:
        if instance_id not in seen:
            seen.append(instance_id)
    return LinksPlan(tuple(planner.plan(instance_id) for instance_id in seen), tuple(planner.enable_vpcs))
