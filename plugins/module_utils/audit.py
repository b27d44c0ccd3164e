# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The audit: what a full run would change, from the same planners a run uses. Pure."""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from ansible_collections.classiclink.mirror.plugins.module_utils.guardrails import Guardrail
from ansible_collections.classiclink.mirror.plugins.module_utils.model import RULE_CHANGES, SecurityGroup, Snapshot
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import MirrorOptions, PairPlan, Plan, declared_sources, source_targets
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_groups import plan_pairs
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_links import MUTATING_ACTIONS, LinkOptions, plan_links
from ansible_collections.classiclink.mirror.plugins.module_utils.report import link_result, orphan_results, pair_result
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import GROUP
from ansible_collections.classiclink.mirror.plugins.module_utils.targets import TargetScope

SELF = "self"  # a source's reference to itself, in the canonical form that compares sources


def _drift(entry: dict) -> dict:
    """What a run would change for a pair, in the pair result's own terms."""
    drift = {"create": entry["created"], "tags": entry["tags"]}
    for direction in ("ingress", "egress"):
        drift[direction] = {change: entry[direction][change] for change in RULE_CHANGES}
    return drift


def _target(scope: Optional[TargetScope], vpc_id: Optional[str]) -> dict:
    """Where a mirror is (or would be): account, region and VPC (account null when the run did not need it)."""
    return {"account": (scope.account or None) if scope else None, "region": (scope.region or None) if scope else None,
            "vpc_id": vpc_id}


def audit(snapshot: Snapshot, link_tag_keys: Sequence[str], vpc_ids: Optional[Sequence[str]] = None,
          prune: bool = False, with_instances: bool = True, guardrails: Tuple[Guardrail, ...] = (),
          interface_groups: Optional[Set[str]] = None, options: Optional[MirrorOptions] = None,
          plan: Optional[Plan] = None) -> Dict[str, object]:
    """Sources, pairs (with drift), orphans, instances, and whether anything drifted; with
    ``interface_groups`` (the groups network interfaces carry, in every scope read) also which mirrors are in use.

    ``snapshot`` may hold several scopes (``scopes_run.read_scopes``): then ``options`` are the run's as the
    group module builds them (the targets option, ``scope_problems``), and every (source, target) pair is planned
    exactly as a run of the group module over every source would plan it: one entry per pair, in any account and
    region, and the orphans of every scope read (found from the sources' mirroredTo records too). ``plan``: the plan
    of the declared sources with these options when the caller made it already (references=addresses: planned
    again with the address lists read)."""
    if options is None:
        options = MirrorOptions(link_tag_keys=tuple(link_tag_keys), guardrails=guardrails)
    options = audit_options(replace(options, link_tag_keys=tuple(link_tag_keys)), vpc_ids)
    in_scope = (lambda vpc: vpc in vpc_ids) if vpc_ids else (lambda vpc: True)
    declared = declared_sources(snapshot, link_tag_keys, vpc_ids)

    if plan is None:
        plan = plan_pairs(snapshot, audit_refs(snapshot, link_tag_keys, vpc_ids), options)
    by_source: Dict[str, List[PairPlan]] = {}
    for pair in plan.pairs:
        if pair.source is not None and not pair.referenced_only and not pair.removal:
            by_source.setdefault(pair.source.id, []).append(pair)
    sources: List[dict] = []
    pairs: List[dict] = []
    for group in declared:
        link = source_targets(snapshot, group, link_tag_keys)
        targets = link.targets
        if options.targets is not None and not options.targets.error:
            targets = options.targets.targets
        own = by_source.get(group.id, [])
        failing = [pair for pair in own if pair.error]
        sources.append({
            "group_id": group.id,
            "group_name": group.name,
            "vpc_id": group.vpc_id,
            "target_vpc_id": targets[0].vpc_id if targets else None,
            "targets": [_target(target.scope, target.vpc_id) for target in targets],
            "mirror_group_id": own[0].mirror.id if own and own[0].mirror else None,
            "problem": "; ".join(pair.error for pair in failing) if failing else link.error,
            "code": failing[0].code if failing else ("bad_link_tag" if link.error else None),
        })
        for pair in own:
            if pair.vpc_id is None:
                continue  # no target VPC to pair with: reported under sources only
            entry = pair_result(pair, names=plan.names, home=plan.home)
            pairs.append({
                "source_group_id": group.id,
                "source_group_name": group.name,
                "vpc_id": pair.vpc_id,
                "target": entry["target"],
                "mirror_group_id": pair.mirror_id,
                "in_sync": not pair.changed and not pair.error,
                "drift": _drift(entry),
                "skipped_references": entry["skipped_references"],
                "withheld_rules": entry["withheld_rules"],
                "error": pair.error,
                "code": pair.code,
            })

    orphans = orphan_results(plan.orphans)
    for orphan in orphans:
        orphan["target"] = _target(snapshot.scope_of_group(orphan["group_id"]), orphan["vpc_id"])
    usage: Dict[str, object] = {"unused_mirrors": [], "mirrors_in_use": 0, "mirrors_total": 0}
    if interface_groups is not None:
        existing = [pair["mirror_group_id"] for pair in pairs if pair["mirror_group_id"] in snapshot.groups]
        usage = add_usage(pairs, mirror_usage(snapshot, existing, interface_groups))

    instances: List[dict] = []
    if with_instances and not snapshot.links_error:
        # ClassicLink links an instance to a VPC of its own account and region only: the home scope's mirrors.
        planned = {}
        for pair in plan.pairs:
            if pair.source is not None and pair.mirror_id and pair.scope is None and not pair.removal:
                planned.setdefault(pair.source_id, pair.mirror_id)
        links_plan = plan_links(snapshot, None, LinkOptions(prune=prune, link_tag_keys=tuple(link_tag_keys)), planned)
        for item in links_plan.instances:
            current = item.current
            if not (in_scope(item.vpc_id) or (current and in_scope(current.vpc_id)) or item.vpc_id is None):
                continue
            instance = snapshot.instances.get(item.instance_id)
            entry = link_result(item)
            entry.pop("previous", None)
            entry.update(state=instance.state if instance else None,
                         link={"vpc_id": current.vpc_id, "groups": list(current.group_ids)} if current else None)
            instances.append(entry)

    drift = (
        any(not pair["in_sync"] and not pair["error"] for pair in pairs)
        or (prune and bool(orphans))
        or any(item["action"] in MUTATING_ACTIONS for item in instances)
    )
    return {
        "drift": drift,
        "sources": sources,
        "pairs": pairs,
        "orphans": orphans,
        "instances": instances,
        "links_error": snapshot.links_error,
        "redundant_sources": redundant_sources(declared),
        **usage,
    }


def audit_options(options: MirrorOptions, vpc_ids: Optional[Sequence[str]] = None) -> MirrorOptions:
    """The options the audit plans with: a run's over every source, without pruning (orphans are reported apart)."""
    return replace(options, prune=False, state="present", prune_vpc_ids=tuple(vpc_ids) if vpc_ids else None)


def audit_refs(snapshot: Snapshot, link_tag_keys: Sequence[str], vpc_ids: Optional[Sequence[str]] = None) -> List[str]:
    """The sources the audit plans: every declared source (narrowed by ``vpc_ids``)."""
    return [group.id for group in declared_sources(snapshot, link_tag_keys, vpc_ids)]


def add_usage(entries: List[dict], usage: Mapping[str, bool]) -> Dict[str, object]:
    """Set ``mirror_in_use`` on the pair entries whose mirror ``usage`` knows (None elsewhere: a mirror
    still to be created); the migration's progress: ``unused_mirrors``, ``mirrors_in_use`` of ``mirrors_total``."""
    unused: List[dict] = []
    for entry in entries:
        used = usage.get(entry.get("mirror_group_id")) if not entry.get("deleted") else None
        entry["mirror_in_use"] = used
        if used is False:
            unused.append({"group_id": entry["mirror_group_id"], "group_name": entry["source_group_name"],
                           "vpc_id": entry["vpc_id"], "mirrored_from": entry["source_group_id"]})
    counted = [entry["mirror_in_use"] for entry in entries if entry["mirror_in_use"] is not None]
    return {"unused_mirrors": unused, "mirrors_in_use": counted.count(True), "mirrors_total": len(counted)}


def mirror_usage(snapshot: Snapshot, mirror_ids: Sequence[str], interface_groups: Set[str]) -> Dict[str, bool]:
    """Mirror id -> whether anything uses it: a network interface carries it (``interface_groups``,
    from DescribeNetworkInterfaces), a rule of a group that is not a mirror refers to it, or a ClassicLink
    holds it. Mirrors' references to each other are copies of the sources' and say nothing about use."""
    referenced = set()
    for group in snapshot.groups.values():
        if group.mirrored_from:
            continue
        for rule in group.rules:
            if rule.kind == GROUP and rule.target != group.id:
                referenced.add(rule.target)
    linked = set(group_id for link in snapshot.links.values() for group_id in link.group_ids)
    used = interface_groups | referenced | linked
    return {mirror_id: mirror_id in used for mirror_id in mirror_ids}


def redundant_sources(sources: Sequence[SecurityGroup]) -> List[List[str]]:
    """Groups of source ids with identical rules (canonical form, descriptions aside, a self
    reference counted as such) within one VPC: candidates to consolidate before mirroring."""
    by_rules: Dict[Tuple, List[str]] = {}
    for source in sources:
        canonical = frozenset(
            replace(rule, target=SELF, user_id=None) if rule.kind == GROUP and rule.target == source.id else rule
            for rule in source.rules
        )
        by_rules.setdefault((source.vpc_id or "", canonical), []).append(source.id)
    return sorted(sorted(ids) for ids in by_rules.values() if len(ids) > 1)
