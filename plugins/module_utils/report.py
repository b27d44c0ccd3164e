# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Plan -> what the modules return: one entry per pair, and the ``--diff``.

Check mode and a real run report from the same plan; after a real run the
placeholders of created mirrors are replaced by their ids.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional

from ansible_collections.classiclink.mirror.plugins.module_utils.apply import resolve_ids
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import PairPlan, Plan
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    DIRECTIONS,
    Rule,
    RuleSet,
    describe_rule,
    rule_lines,
)


def _rules(rules: RuleSet) -> List[dict]:
    return [describe_rule(rule, rules[rule]) for rule in sorted(rules, key=Rule.sort_key)]


def pair_result(pair: PairPlan) -> dict:
    source = pair.source
    result = {
        "source_ref": pair.source_ref,
        "source_group_id": source.id if source else None,
        "source_group_name": source.name if source else None,
        "vpc_id": pair.vpc_id,
        "mirror_group_id": pair.mirror_id,
        "created": bool(pair.create) and not pair.error,
        "adopted": pair.adopt and not pair.error,
        "deleted": list(pair.delete_ids),
        "referenced_only": pair.referenced_only,
        "orphan": pair.orphan,
        "changed": pair.changed,
        "skipped_references": pair.skipped_references,
        "warnings": pair.warnings,
        "error": pair.error,
        "tags": {
            "mirror": {"set": pair.mirror_tags.set, "removed": list(pair.mirror_tags.unset)},
            "source": {"set": pair.source_tags.set, "removed": list(pair.source_tags.unset)},
        },
    }
    for direction in DIRECTIONS:
        diff = pair.rules.get(direction)
        result[direction] = {
            "added": _rules(diff.authorize) if diff else [],
            "revoked": _rules(diff.revoke) if diff else [],
            "updated": _rules(diff.update) if diff else [],
            "revoke_first": bool(diff and diff.revoke_first),
        }
    return result


def _state(rules: Optional[Mapping], tags: Mapping[str, str]) -> dict:
    state: Dict[str, object] = {direction: rule_lines(rules or {}, direction) for direction in DIRECTIONS}
    state["tags"] = dict(sorted(tags.items()))
    return state


def pair_diff(pair: PairPlan) -> Optional[dict]:
    if not pair.changed:
        return None
    name = "%s in %s" % (pair.source.name if pair.source else pair.source_ref, pair.vpc_id or "?")
    before_tags = dict(pair.mirror.tags) if pair.mirror else {}
    if pair.create:
        before, after_tags = {}, dict(pair.create.tags)
    else:
        before = _state(pair.before, before_tags)
        after_tags = {k: v for k, v in before_tags.items() if k not in pair.mirror_tags.unset}
        after_tags.update(pair.mirror_tags.set)
    if pair.removal:
        after = {}
    else:
        after = _state(pair.after if pair.rules else pair.before, after_tags)
    return {
        "before_header": "mirror %s (%s)" % (name, pair.mirror_id or "none"),
        "after_header": "mirror %s (%s)" % (name, pair.mirror_id or "none"),
        "before": before,
        "after": after,
    }


def orphan_results(orphans) -> List[dict]:
    return [
        {"group_id": mirror.id, "group_name": mirror.name, "vpc_id": mirror.vpc_id,
         "mirrored_from": mirror.mirrored_from, "reason": reason}
        for mirror, reason in orphans
    ]


def plan_result(plan: Plan, ids: Optional[Mapping[str, str]] = None) -> dict:
    """The module result: ``changed``, ``groups`` and ``diff`` (resolved ids after a real run)."""
    groups = [pair_result(pair) for pair in plan.pairs]
    diffs = [diff for diff in (pair_diff(pair) for pair in plan.pairs) if diff]
    result = {"groups": groups, "diff": diffs, "orphans": orphan_results(plan.orphans)}
    return resolve_ids(result, ids or {})
