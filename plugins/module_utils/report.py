# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Plan + Outcome -> the one result vocabulary: what the modules return, the ``--diff``,
and what the audit, the ``mirror_summary`` filter and the reports read.

Check mode reports the plan with no Outcome. After a real run the Outcome
supplies the created groups' ids (swapped in field by field: ids are data, not
text to rewrite) and the failures, each with its ``code`` (``model.CODES``).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.classiclink.mirror.plugins.module_utils.addresses import (
    CREATE,
    DELETE,
    MODIFY,
    NONE,
    AddressList,
    ListPlan,
    Members,
    group_of_arn,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.model import AUTHORIZE, REVOKE, UPDATE, Outcome, Problem
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import TagChange
from ansible_collections.classiclink.mirror.plugins.module_utils.targets import TargetScope
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import PairPlan, Plan, with_ids
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_links import ERROR, MUTATING_ACTIONS, UNLINKED, LinkPlan, LinksPlan
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    DIRECTIONS,
    GROUP,
    Rule,
    RuleSet,
    describe_rule,
    rule_lines,
)


def _resolved(rules: Optional[RuleSet], ids: Mapping[str, str]) -> RuleSet:
    """``rules`` with placeholders of created mirrors replaced by their ids."""
    return {with_ids(rule, ids): description for rule, description in (rules or {}).items()}


def _rules(rules: RuleSet, ids: Mapping[str, str], names: Mapping[str, str], why: Optional[Mapping[Rule, Problem]] = None) -> List[dict]:
    """Rules as results list them: a group reference with the group's name, a knock-on revoke with its reason."""
    entries = []
    for rule in sorted(rules, key=Rule.sort_key):
        entry = _name(describe_rule(with_ids(rule, ids), rules[rule]), names)
        if why and rule in why:
            entry.update(reason=why[rule].message, code=why[rule].code)
        entries.append(entry)
    return entries


def _with_created(names: Mapping[str, str], ids: Mapping[str, str]) -> Dict[str, str]:
    """``names`` plus the created groups' real ids (the plan names them by placeholder)."""
    known = dict(names)
    known.update((ids[key], value) for key, value in names.items() if key in ids)
    return known


def _name(entry: dict, names: Mapping[str, str]) -> dict:
    """Add ``group_name`` to a rule entry that refers to a group the run knows by name."""
    if entry.get(GROUP) and names.get(entry[GROUP]):
        entry["group_name"] = names[entry[GROUP]]
    return entry


def _tags(tags: Mapping[str, str], ids: Mapping[str, str]) -> Dict[str, str]:
    return {key: ids.get(value, value) for key, value in tags.items()}


def _problem(pair: PairPlan, failed: Optional[Problem]) -> Optional[Problem]:
    if pair.error:
        return Problem(pair.code or "aws_error", pair.error)
    return failed


def pair_result(pair: PairPlan, failed: Optional[Problem] = None, ids: Optional[Mapping[str, str]] = None,
                names: Optional[Mapping[str, str]] = None, home: Optional[TargetScope] = None,
                source_tags: Optional[TagChange] = None) -> dict:
    """One pair as the modules, the audit and the summary read it; ``failed``: its Problem in the Outcome,
    ``names``: group names (``Plan.names``) so that references read ``name (sg-...)``; ``home``: the run's scope
    (``target`` names the mirror's account and region); ``source_tags``: the source's tag change as the run made it
    (a record written after every scope), instead of the planned one."""
    ids, names = ids or {}, _with_created(names or {}, ids or {})
    scope = pair.scope or home
    source_change = source_tags if source_tags is not None else pair.source_tags
    problem = _problem(pair, failed)
    source = pair.source
    result = {
        "source_ref": pair.source_ref,
        "source_group_id": source.id if source else None,
        "source_group_name": source.name if source else None,
        "vpc_id": pair.vpc_id,
        "target": {"account": (scope.account or None) if scope else None, "region": (scope.region or None) if scope else None,
                   "vpc_id": pair.vpc_id},
        "mirror_group_id": ids.get(pair.mirror_id, pair.mirror_id),
        "created": bool(pair.create) and problem is None,
        "adopted": pair.adopt and problem is None,
        "deleted": list(pair.delete_ids),
        "referenced_only": pair.referenced_only,
        "orphan": pair.orphan,
        "changed": pair.changed and problem is None,
        "skipped_references": [_name(dict(entry), names) for entry in pair.skipped_references],
        "withheld_rules": [dict(entry) for entry in pair.withheld_rules],
        "warnings": list(pair.warnings),
        "error": problem.message if problem else None,
        "code": problem.code if problem else None,
        "aws_code": problem.aws_code if problem else None,
        "tags": {
            "mirror": {"set": _tags(pair.mirror_tags.set, ids), "removed": list(pair.mirror_tags.unset)},
            "source": {"set": _tags(source_change.set, ids), "removed": list(source_change.unset)},
        },
    }
    for direction in DIRECTIONS:
        diff = pair.rules.get(direction)
        result[direction] = {
            AUTHORIZE: _rules(diff.authorize, ids, names) if diff else [],
            REVOKE: _rules(diff.revoke, ids, names, dict(pair.revoke_reasons)) if diff else [],
            UPDATE: _rules(diff.update, ids, names) if diff else [],
            "revoke_first": bool(diff and diff.revoke_first),
        }
    return result


def _state(rules: Optional[RuleSet], tags: Mapping[str, str], names: Mapping[str, str]) -> dict:
    state: Dict[str, object] = {direction: rule_lines(rules or {}, direction, names) for direction in DIRECTIONS}
    state["tags"] = dict(sorted(tags.items()))
    return state


def pair_diff(pair: PairPlan, ids: Mapping[str, str], names: Mapping[str, str]) -> dict:
    name = "%s in %s" % (pair.source.label if pair.source else pair.source_ref, pair.vpc_id or "?")
    if pair.scope is not None:
        name += " (%s)" % pair.scope.label
    names = _with_created(names, ids)
    header = "mirror %s (%s)" % (name, ids.get(pair.mirror_id, pair.mirror_id) or "none")
    before_tags = dict(pair.mirror.tags) if pair.mirror else {}
    if pair.create:
        before, after_tags = {}, _tags(pair.create.tags, ids)
    else:
        before = _state(pair.before, before_tags, names)
        after_tags = {k: v for k, v in before_tags.items() if k not in pair.mirror_tags.unset}
        after_tags.update(_tags(pair.mirror_tags.set, ids))
    after = {} if pair.removal else _state(_resolved(pair.after if pair.rules else pair.before, ids), after_tags, names)
    return {"before_header": header, "after_header": header, "before": before, "after": after}


def orphan_results(orphans, scopes: Optional[Mapping[str, object]] = None) -> List[dict]:
    """Orphan mirrors, each with its ``target`` (account, region, VPC) when its scope is known."""
    results = []
    for mirror, reason in orphans:
        scope = (scopes or {}).get(mirror.id)
        results.append({"group_id": mirror.id, "group_name": mirror.name, "vpc_id": mirror.vpc_id,
                        "mirrored_from": mirror.mirrored_from, "reason": reason,
                        "target": {"account": getattr(scope, "account", None) or None, "region": getattr(scope, "region", None) or None,
                                   "vpc_id": mirror.vpc_id}})
    return results


def plan_result(plan: Plan, outcome: Optional[Outcome] = None) -> dict:
    """The group module's result: ``groups``, ``diff`` and ``orphans`` (real ids after a real run)."""
    real = outcome is not None
    outcome = outcome or Outcome()
    groups, diffs = [], []
    for index, pair in enumerate(plan.pairs):  # the executor keys a pair's Problem by its index
        written = None
        if real and pair.record and not pair.source_tags.empty:
            written = outcome.source_tags.get(pair.source_id)
        ids = outcome.ids_for(pair.scope)  # created mirrors, and the created address lists of the pair's scope
        entry = pair_result(pair, outcome.problem(index), ids, plan.names, plan.home, written)
        groups.append(entry)
        if entry["changed"]:
            diffs.append(pair_diff(pair, ids, plan.names))
    return {"groups": groups, "diff": diffs, "orphans": orphan_results(plan.orphans, plan.orphan_scopes)}


def link_result(plan: LinkPlan, failed: Optional[Problem] = None) -> Dict[str, object]:
    """One instance as the link module, the audit and the summary read it."""
    action, reason, code, aws = plan.action, plan.reason, plan.code, None
    if failed is not None:
        action, reason, code, aws = ERROR, failed.message, failed.code, failed.aws_code
    result: Dict[str, object] = {
        "instance_id": plan.instance_id,
        "vpc_id": plan.vpc_id,
        "groups": list(plan.groups),
        "action": action,
        "reason": reason,
        "code": code,
        "aws_code": aws,
    }
    if plan.current:
        result["previous"] = {"vpc_id": plan.current.vpc_id, "groups": list(plan.current.group_ids)}
    return result


def _link_text(vpc_id, groups) -> str:
    return "%s: %s\n" % (vpc_id, ", ".join(groups)) if vpc_id else ""


def links_result(plan: LinksPlan, outcome: Optional[Outcome] = None) -> dict:
    """The link module's result: ``instances``, ``enabled_classiclink`` and ``diff``."""
    outcome = outcome or Outcome()
    instances = [link_result(item, outcome.problem(item.instance_id)) for item in plan.instances]
    diff = [
        {
            "before_header": item.instance_id,
            "after_header": item.instance_id,
            "before": _link_text(item.current.vpc_id, item.current.group_ids) if item.current else "",
            "after": "" if item.action == UNLINKED else _link_text(item.vpc_id, item.groups),
        }
        for item in plan.instances
        if item.action in MUTATING_ACTIONS
    ]
    return {"instances": instances, "enabled_classiclink": list(plan.enable_vpcs), "diff": diff}


# -- address lists (references=addresses) -------------------------------------------------

LIST_ACTIONS = {CREATE: "created", MODIFY: "modified", NONE: "unchanged", DELETE: "deleted"}


def _without_public(members: Optional[Members]) -> List[dict]:
    found = []
    for member in (members.without_public if members is not None else ()):
        found.append({"interface_id": member.interface_id, "instance_id": member.instance_id, "code": "no_public_address",
                      "reason": "%s has no public IPv4 address (address_kind public): it is not in the address list" % (
                          "instance %s (%s)" % (member.instance_id, member.interface_id) if member.instance_id
                          else "%s %s" % (member.interface_type or "network interface", member.interface_id))})
    return found


def address_lists_result(plans: Mapping[TargetScope, Sequence[ListPlan]], members: Mapping[str, Members],
                         current: Mapping[str, AddressList], home: Optional[TargetScope],
                         outcome: Optional[Outcome] = None,
                         problem: Optional[Callable[[object, ListPlan], Optional[Problem]]] = None) -> Tuple[List[dict], List[dict]]:
    """(the module's ``address_lists``, their ``--diff`` entries): one entry per list of every target scope, with the
    created lists' ids after a real run (``outcome``: its ``list_ids``; ``problem(scope key, plan)``: a list's failure);
    in check mode a list to create is named by its placeholder."""
    entries, diffs = [], []
    for scope in sorted(plans):
        key = None if scope == home else scope
        ids = outcome.list_ids.get(key, {}) if outcome is not None else {}
        for plan in plans[scope]:
            failed = problem(key, plan) if problem is not None else None
            if failed is None and plan.error:
                failed = Problem("quota", plan.error)
            list_id = plan.prefix_list_id or ids.get(plan.placeholder or "", plan.placeholder)
            before = current.get(plan.prefix_list_id) if plan.prefix_list_id else None
            before_entries = sorted(before.entries) if before is not None else []
            after_entries = [] if plan.action == DELETE else list(plan.wanted)
            group_id = None
            try:
                group_id = group_of_arn(plan.group_arn)[0] if plan.group_arn else None
            except ValueError:
                pass
            entry = {
                "account": scope.account or None,
                "region": scope.region or None,
                "group_arn": plan.group_arn,
                "group_id": group_id,
                "family": plan.family,
                "name": plan.name,
                "prefix_list_id": list_id,
                "action": LIST_ACTIONS.get(plan.action, plan.action),
                "changed": plan.changed and failed is None,
                "max_entries": plan.max_entries,
                "resized_to": plan.resize_to,
                "entries": after_entries,
                "entries_added": len(plan.add),
                "entries_removed": len(plan.remove) if plan.action != DELETE else len(before_entries),
                "added": list(plan.add),
                "removed": list(plan.remove) if plan.action != DELETE else before_entries,
                "reason": plan.reason,
                "members_without_public_address": _without_public(members.get(plan.group_arn or "")) if plan.action != DELETE else [],
                "error": failed.message if failed else None,
                "code": failed.code if failed else None,
                "aws_code": failed.aws_code if failed else None,
            }
            entries.append(entry)
            if plan.changed:
                header = "address list %s (%s) of %s in %s" % (plan.name, list_id, plan.group_arn, scope.label)
                diffs.append({"before_header": header, "after_header": header,
                              "before": "".join(cidr + "\n" for cidr in (before_entries if plan.action != CREATE else ())),
                              "after": "".join(cidr + "\n" for cidr in after_entries)})
    return entries, diffs
