# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The audit: what a full run would change, from the same planners a run uses. Pure."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from ansible_collections.classiclink.mirror.plugins.module_utils.guardrails import Guardrail
from ansible_collections.classiclink.mirror.plugins.module_utils.model import RULE_CHANGES, Snapshot
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import MirrorOptions, declared_sources, find_orphans
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_groups import plan_pairs
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_links import MUTATING_ACTIONS, LinkOptions, plan_links
from ansible_collections.classiclink.mirror.plugins.module_utils.report import link_result, orphan_results, pair_result
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import read_link_tag


def _drift(entry: dict) -> dict:
    """What a run would change for a pair, in the pair result's own terms."""
    drift = {"create": entry["created"], "tags": entry["tags"]}
    for direction in ("ingress", "egress"):
        drift[direction] = {change: entry[direction][change] for change in RULE_CHANGES}
    return drift


def audit(snapshot: Snapshot, link_tag_keys: Sequence[str], vpc_ids: Optional[Sequence[str]] = None,
          prune: bool = False, with_instances: bool = True, guardrails: Tuple[Guardrail, ...] = ()) -> Dict[str, object]:
    """Sources, pairs (with drift), orphans, instances, and whether anything drifted."""
    in_scope = (lambda vpc: vpc in vpc_ids) if vpc_ids else (lambda vpc: True)
    declared = [(group, read_link_tag(group.tags, link_tag_keys, group.label))
                for group in declared_sources(snapshot, link_tag_keys, vpc_ids)]

    plan = plan_pairs(snapshot, [group.id for group, _link in declared], MirrorOptions(link_tag_keys=tuple(link_tag_keys), guardrails=guardrails))
    by_source = {pair.source_id: pair for pair in plan.pairs if pair.source is not None and not pair.referenced_only}
    sources: List[dict] = []
    pairs: List[dict] = []
    for group, link in declared:
        pair = by_source.get(group.id)
        sources.append({
            "group_id": group.id,
            "group_name": group.name,
            "vpc_id": group.vpc_id,
            "target_vpc_id": link.vpc_id,
            "mirror_group_id": pair.mirror.id if pair and pair.mirror else None,
            "problem": pair.error if pair else link.error,
            "code": pair.code if pair else ("bad_link_tag" if link.error else None),
        })
        if pair is None or link.vpc_id is None:
            continue  # no target VPC to pair with: reported under sources only
        entry = pair_result(pair)
        pairs.append({
            "source_group_id": group.id,
            "source_group_name": group.name,
            "vpc_id": pair.vpc_id,
            "mirror_group_id": pair.mirror_id,
            "in_sync": not pair.changed and not pair.error,
            "drift": _drift(entry),
            "skipped_references": entry["skipped_references"],
            "withheld_rules": entry["withheld_rules"],
            "error": pair.error,
            "code": pair.code,
        })

    orphans = orphan_results(find_orphans(snapshot, link_tag_keys, vpc_ids))

    instances: List[dict] = []
    if with_instances and not snapshot.links_error:
        planned = {pair.source_id: pair.mirror_id for pair in plan.pairs if pair.source is not None and pair.mirror_id}
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
    }
