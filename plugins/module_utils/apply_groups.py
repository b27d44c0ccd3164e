# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Apply the group plan: carry out a Plan with as few EC2 calls as it allows, return an Outcome.

Three phases, each running independent pairs concurrently (bounded):

1. create every missing mirror, tagged in the same call (``TagSpecifications``),
   so no crash can leave an untagged group behind; then wait until EC2 shows
   them (amazon.aws's ``security_group_exists`` waiter: EC2 is eventually
   consistent, and the next step or the next module must see them);
2. per pair: tags, then rules per direction -- one Authorize and one Revoke
   call each, authorize first unless the quota needs room first -- then the
   source's mirroredTo tag, last, so it only ever names a complete mirror;
3. deletions, last, once no other pair refers to them.

A failed mutating call is judged by re-reading the resource, not by its error
code: a resent call whose first answer was lost, or an overlapping run that
made the same change, leaves the resource as planned, and that is success;
what is still missing is done once more. The plan is never written to: what
happened is in the returned Outcome (real ids, a Problem per failed pair).
"""

from __future__ import annotations

import time
from typing import Callable, Dict, Iterable, Mapping, Optional, Sequence, Set, Tuple

from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    boto3_tag_specifications,
)

from ansible_collections.classiclink.mirror.plugins.module_utils.addresses import ListPlan, is_list_placeholder
from ansible_collections.classiclink.mirror.plugins.module_utils.address_lists import ListExecutor
from ansible_collections.classiclink.mirror.plugins.module_utils.model import RETARGETED, Outcome, Problem
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import PLACEHOLDER_PREFIX, CreateMirror, PairPlan, Plan, record_change, with_ids
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    GROUP,
    INGRESS,
    PREFIX_LIST,
    RuleDiff,
    RuleSet,
    flatten,
    regroup,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.scope import (
    BotoCoreError,
    ClientError,
    ResponseParserError,
    DEFAULT_CONCURRENCY,
    GROUP_NOT_FOUND,
    Scope,
    error_text,
    is_code,
    problem_of,
    run_concurrently,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import MIRRORED_FROM_TAG, TagChange

# A create answered "duplicate" by a group this run cannot see yet (an overlapping run made it a
# moment ago): look again this many times, a second apart, before calling it someone else's.
DUPLICATE_LOOKS = 20
_PERMISSION_OPERATIONS = {
    "authorize": "authorize_security_group_%s",
    "revoke": "revoke_security_group_%s",
    "update": "update_security_group_rule_descriptions_%s",
}


class _Unresolved(Exception):
    """A rule refers to a mirror that was not created."""

    def __init__(self, source_id: str):
        super().__init__(source_id)
        self.source_id = source_id


class _UnresolvedList(Exception):
    """A rule refers to an address list that was not created."""

    def __init__(self, placeholder: str):
        super().__init__(placeholder)
        self.placeholder = placeholder


class GroupExecutor:
    def __init__(self, scope: Scope, concurrency: int = DEFAULT_CONCURRENCY, outcome: Optional[Outcome] = None,
                 scope_key: object = None):
        self.scope = scope
        self.scope_key = scope_key  # this scope's key in Outcome.list_ids (None: the run's home scope)
        self.concurrency = max(1, int(concurrency))
        self.outcome = outcome if outcome is not None else Outcome()  # shared by the executors of one run's scopes
        self.fresh: Set[str] = set()  # groups this run created (or found just created): EC2 may not know them yet

    # -- reading back ---------------------------------------------------------

    def read_group(self, group_id: str) -> Optional[dict]:
        """The group as EC2 describes it now; None when it does not exist."""
        try:
            found = self.scope.call("describe_security_groups", fresh=group_id in self.fresh, GroupIds=[group_id])
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            if is_code(exc, GROUP_NOT_FOUND):
                return None
            raise
        groups = found.get("SecurityGroups", [])
        return groups[0] if groups else None

    def find_own_group(self, spec: CreateMirror, exists: bool) -> Optional[str]:
        """The group named ``spec.name`` in ``spec.vpc_id`` if it carries our mirroredFrom tag.
        ``exists``: EC2 said it does, so a describe that does not show it yet is looked at again."""
        for look in range(DUPLICATE_LOOKS if exists else 1):
            if look:
                time.sleep(1)
            found = self.scope.call(
                "describe_security_groups",
                Filters=[{"Name": "vpc-id", "Values": [spec.vpc_id]}, {"Name": "group-name", "Values": [spec.name]}],
            ).get("SecurityGroups", [])
            for group in found:
                if boto3_tag_list_to_ansible_dict(group.get("Tags") or []).get(MIRRORED_FROM_TAG) == spec.tags.get(MIRRORED_FROM_TAG):
                    return group["GroupId"]
            if found:
                return None  # there, and not ours
        return None

    # -- helpers --------------------------------------------------------------

    def _each(self, pairs: Iterable[Tuple[int, PairPlan]], work: Callable[[int, PairPlan], None], what: str) -> None:
        def guarded(item: Tuple[int, PairPlan]) -> None:
            index, pair = item
            try:
                work(index, pair)
            except (BotoCoreError, ClientError, ResponseParserError) as exc:
                self.outcome.fail(index, problem_of(exc, "%s for %s" % (what, pair.source.label if pair.source else pair.source_ref)))

        run_concurrently(pairs, guarded, self.concurrency)

    def resolve_rules(self, rules: RuleSet) -> RuleSet:
        resolved: RuleSet = {}
        list_ids = self.outcome.list_ids.get(self.scope_key, {})
        for rule, description in rules.items():
            rule = with_ids(with_ids(rule, self.outcome.ids), list_ids)
            if rule.kind == GROUP and rule.target.startswith(PLACEHOLDER_PREFIX):
                raise _Unresolved(rule.target[len(PLACEHOLDER_PREFIX):])  # its mirror was not created
            if rule.kind == PREFIX_LIST and is_list_placeholder(rule.target):
                raise _UnresolvedList(rule.target)  # its address list was not created
            resolved[rule] = description
        return resolved

    def names_fresh(self, group_id: str, rules: Optional[RuleSet] = None) -> bool:
        """Whether a call on ``group_id`` with ``rules`` names a group this run created."""
        return group_id in self.fresh or any(rule.kind == GROUP and rule.target in self.fresh for rule in rules or ())

    # -- phase 1: create ------------------------------------------------------

    def create(self, index: int, pair: PairPlan) -> None:
        spec = pair.create
        try:
            group_id = self.scope.call(
                "create_security_group",
                GroupName=spec.name,
                Description=spec.description,
                VpcId=spec.vpc_id,
                TagSpecifications=boto3_tag_specifications(spec.tags, ["security-group"]),
            )["GroupId"]
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            # Did the create happen after all (our resent call, or an overlapping run's)? Take it if it is ours.
            group_id = self.find_own_group(spec, exists=is_code(exc, "InvalidGroup.Duplicate"))
            if group_id is None:
                raise
        self.fresh.add(group_id)
        self.outcome.created(pair.mirror_id, group_id)

    # -- phase 2: converge ----------------------------------------------------

    def tag(self, resource_id: str, change: TagChange) -> None:
        fresh = resource_id in self.fresh
        values = {key: self.outcome.resolve(value) for key, value in change.set.items()}
        try:
            if values:
                self.scope.call("create_tags", fresh=fresh, Resources=[resource_id], Tags=ansible_dict_to_boto3_tag_list(values))
            if change.unset:
                self.scope.call("delete_tags", fresh=fresh, Resources=[resource_id], Tags=[{"Key": key} for key in change.unset])
        except (BotoCoreError, ClientError, ResponseParserError):
            if not self.tags_as_planned(resource_id, values, change.unset):
                raise

    def tags_as_planned(self, group_id: str, wanted: Dict[str, str], gone: Sequence[str]) -> bool:
        group = self.read_group(group_id)
        if group is None:
            return False
        tags = boto3_tag_list_to_ansible_dict(group.get("Tags") or [])
        return all(tags.get(key) == value for key, value in wanted.items()) and not any(key in tags for key in gone)

    def rules(self, group_id: str, owner_id: str, direction: str, diff: RuleDiff) -> None:
        steps = [("authorize", self.resolve_rules(diff.authorize)), ("revoke", self.resolve_rules(diff.revoke))]
        if diff.revoke_first:
            steps.reverse()
        steps.append(("update", self.resolve_rules(diff.update)))
        for verb, rules in steps:
            if rules:
                self.permissions_call(verb, direction, group_id, owner_id, rules)

    def permissions_call(self, verb: str, direction: str, group_id: str, owner_id: str, rules: RuleSet) -> None:
        """One call for all ``rules``. If it fails, re-read the group: what is already as planned
        (a resent call, an overlapping run) is done; the rest is sent once more."""
        operation = _PERMISSION_OPERATIONS[verb] % direction
        fresh = self.names_fresh(group_id, rules)
        try:
            self.scope.call(operation, fresh=fresh, GroupId=group_id, IpPermissions=regroup(rules, owner_id))
        except (BotoCoreError, ClientError, ResponseParserError):
            remaining = self.still_to_do(verb, direction, group_id, rules)
            if remaining is None or remaining == rules:
                raise  # nothing of it happened: the failure stands
            if remaining:
                self.scope.call(operation, fresh=fresh, GroupId=group_id, IpPermissions=regroup(remaining, owner_id))

    def still_to_do(self, verb: str, direction: str, group_id: str, rules: RuleSet) -> Optional[RuleSet]:
        """The part of ``rules`` the group does not show as planned yet (None: the group is gone)."""
        group = self.read_group(group_id)
        if group is None:
            return None
        current = flatten(group.get("IpPermissions" if direction == INGRESS else "IpPermissionsEgress"), direction, group.get("OwnerId", ""))
        if verb == "authorize":
            return {rule: d for rule, d in rules.items() if rule not in current}
        if verb == "revoke":
            return {rule: d for rule, d in rules.items() if rule in current}
        return {rule: d for rule, d in rules.items() if current.get(rule) != d}

    def converge(self, index: int, pair: PairPlan) -> None:
        group_id = self.outcome.resolve(pair.mirror_id)
        owner_id = pair.mirror.owner_id if pair.mirror else (pair.scope.account if pair.scope is not None else pair.source.owner_id)
        try:
            self.tag(group_id, pair.mirror_tags)
            for direction, diff in pair.rules.items():
                self.rules(group_id, owner_id, direction, diff)
        except _Unresolved as missing:
            self.outcome.fail(index, Problem("dependency_failed", (
                "rules of mirror %s were not changed: it refers to the mirror of %s, which could not be created"
                % (group_id, missing.source_id))))
            return
        except _UnresolvedList as missing:
            self.outcome.fail(index, Problem("dependency_failed", (
                "rules of mirror %s were not changed: it refers to the address list %s, which could not be created"
                % (group_id, missing.placeholder))))
            return
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            if not is_code(exc, GROUP_NOT_FOUND) or self.read_group(group_id) is not None:
                raise
            self.outcome.fail(index, Problem("not_found", "mirror %s of %s was deleted during the run (%s); run again to recreate it" % (
                group_id, pair.source.label, error_text(exc)), GROUP_NOT_FOUND))
            return
        if pair.record:
            return  # the source's record is written once, after every scope (tag_records)
        try:
            self.tag(pair.source.id, pair.source_tags)
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            if not is_code(exc, GROUP_NOT_FOUND):
                raise
            self.outcome.fail(index, Problem("not_found", (
                "source %s was deleted during the run (%s); its mirror %s is now an orphan: run again with prune to delete it"
                % (pair.source.label, error_text(exc), group_id)), GROUP_NOT_FOUND))

    # -- phase 3: remove ------------------------------------------------------

    def remove(self, index: int, pair: PairPlan) -> None:
        for group_id in pair.untag_ids:
            self.tag(group_id, TagChange({}, (MIRRORED_FROM_TAG,)))
        for group_id in pair.delete_ids:
            try:
                self.scope.call("delete_security_group", GroupId=group_id)
            except (BotoCoreError, ClientError, ResponseParserError) as exc:
                if self.read_group(group_id) is None:
                    continue  # gone, as planned (a resent call, or another run deleted it)
                if is_code(exc, "DependencyViolation"):
                    self.outcome.fail(index, Problem("in_use", (
                        "mirror %s is still in use (%s); detach it from instances and remove rules that refer to it, then run again"
                        % (group_id, error_text(exc))), "DependencyViolation"))
                    return
                raise
        if pair.source is not None and not pair.record:
            self.tag(pair.source.id, pair.source_tags)

    # -- the whole plan -------------------------------------------------------

    def apply_converging(self, plan: Plan, indices: Optional[Set[int]] = None) -> Outcome:
        """Phases 1 and 2: create the new mirrors, then bring every pair's rules and tags to the plan
        (``indices``: only those pairs, the ones of this executor's scope)."""
        converging = [(index, pair) for index, pair in enumerate(plan.pairs)
                      if pair.changed and not pair.removal and (indices is None or index in indices)]
        self._each([(index, pair) for index, pair in converging if pair.create], self.create, "creating the mirror")
        # Created groups, visible to every later call (and the next module) before we go on; a group
        # that never shows up fails its pair in the next phase, with the reason.
        self.scope.wait_for_groups(sorted(self.fresh))
        self._each([(index, pair) for index, pair in converging if self.outcome.problem(index) is None], self.converge, "updating the mirror")
        return self.outcome

    def apply_removals(self, plan: Plan, indices: Optional[Set[int]] = None) -> Outcome:
        """Phase 3: delete the mirrors of removed pairs and orphans. A source whose new pair failed in
        phases 1-2 keeps its old (retargeted) mirror: its instances may still be linked to it."""
        failed_sources = set(
            pair.source_id for index, pair in enumerate(plan.pairs)
            if not pair.removal and pair.source_id and (pair.error or self.outcome.problem(index) is not None))
        removals = []
        for index, pair in enumerate(plan.pairs):
            if not (pair.changed and pair.removal) or (indices is not None and index not in indices):
                continue
            if pair.orphan == RETARGETED and pair.source_id in failed_sources:
                self.outcome.fail(index, Problem("dependency_failed", (
                    "orphan %s kept: the new mirror of %s failed this run; it is deleted by the first run that "
                    "converges the new pair" % (pair.mirror_id, pair.source.label))))
                continue
            removals.append((index, pair))
        self._each(removals, self.remove, "removing the mirror")
        return self.outcome

    def tag_records(self, plan: Plan) -> Outcome:
        """Last: each record source's mirroredTo record (and rewritten link tags), as the run left its mirrors:
        created ones by their ids, failed creates left out, mirrors that could not be deleted kept."""
        first: Dict[str, int] = {}  # the pair that carries the source's record: its first pair without a plan error
        for index, pair in enumerate(plan.pairs):
            if pair.record and pair.source_id and (pair.source_id not in first or plan.pairs[first[pair.source_id]].error and not pair.error):
                first[pair.source_id] = index
        work = []
        for source_id, index in sorted(first.items()):
            change, error = record_change(plan, source_id, self.outcome)
            self.outcome.source_tags[source_id] = change
            if not error and not change.empty and not plan.pairs[index].error:
                work.append((index, plan.pairs[index], change))

        def write(item) -> None:
            index, pair, change = item
            try:
                self.tag(pair.source.id, change)
            except (BotoCoreError, ClientError, ResponseParserError) as exc:
                self.outcome.fail(index, problem_of(exc, "writing the record of mirrors (mirroredTo) on %s" % pair.source.label))

        run_concurrently(work, write, self.concurrency)
        return self.outcome


class ScopedExecutor:
    """A plan whose pairs are in several scopes: one GroupExecutor per scope, all sharing one Outcome (pair
    indices and placeholders are the plan's), scopes in parallel within ``concurrency``. The phases keep their
    order across scopes: creates and converges everywhere, then (the caller's links), then removals, then the
    sources' records in the home scope."""

    def __init__(self, home: Scope, others: Mapping[object, Scope], concurrency: int = DEFAULT_CONCURRENCY):
        self.outcome = Outcome()
        self.concurrency = max(1, int(concurrency))
        self.scopes = dict(others)
        self.home = GroupExecutor(home, concurrency, self.outcome)
        self.executors: Dict[object, GroupExecutor] = {None: self.home}
        for key, scope in self.scopes.items():
            self.executors[key] = GroupExecutor(scope, concurrency, self.outcome, key)
        self.list_executors: Dict[object, ListExecutor] = {}  # address lists, per scope (None: home)

    def _split(self, plan: Plan) -> Dict[object, Set[int]]:
        """Pair indices per scope key (None: the home scope); a scope the run could not reach has no executor: its
        pairs failed while planning."""
        split: Dict[object, Set[int]] = {}
        for index, pair in enumerate(plan.pairs):
            if pair.scope in self.executors:
                split.setdefault(pair.scope, set()).add(index)
        return split

    def _run_scopes(self, keys: Iterable[object], run: Callable[[object, int], None]) -> None:
        """``run(key, concurrency)`` for each scope key (home first), the scopes in parallel within ``concurrency``
        and their calls sharing it."""
        keys = sorted(keys, key=lambda key: (key is not None, str(key)))
        width = max(1, min(self.concurrency, len(keys)))
        run_concurrently(keys, lambda key: run(key, max(1, self.concurrency // width)), width)

    def _each_scope(self, plan: Plan, phase: str) -> None:
        split = self._split(plan)

        def run(key, concurrency: int) -> None:
            self.executors[key].concurrency = concurrency
            getattr(self.executors[key], phase)(plan, split[key])

        self._run_scopes(split, run)

    def apply_converging(self, plan: Plan) -> Outcome:
        self._each_scope(plan, "apply_converging")
        return self.outcome

    def apply_removals(self, plan: Plan) -> Outcome:
        self._each_scope(plan, "apply_removals")
        self.home.concurrency = self.concurrency
        return self.home.tag_records(plan)

    # -- address lists (references=addresses) -----------------------------------

    def _lists(self, lists: Mapping[object, Sequence[ListPlan]], phase: str) -> None:
        def run(key, concurrency: int) -> None:
            executor = self.list_executors.get(key)
            if executor is None:
                executor = self.list_executors[key] = ListExecutor(self.executors[key].scope, concurrency)
            getattr(executor, phase)(lists[key])
            for placeholder, list_id in executor.outcome.ids.items():
                self.outcome.created_list(key, placeholder, list_id)

        self._run_scopes([key for key in lists if key in self.executors and lists[key]], run)

    def apply_lists(self, lists: Mapping[object, Sequence[ListPlan]]) -> Outcome:
        """Create and true up the address lists of every scope (``lists``: scope key -> its list plans), before the
        mirrors' rules that refer to them (apply_converging); created lists' ids go to ``Outcome.list_ids``."""
        self._lists(lists, "apply_converging")
        return self.outcome

    def delete_lists(self, lists: Mapping[object, Sequence[ListPlan]]) -> Outcome:
        """Delete the unused address lists (prune), after the rules that referred to them were revoked (apply_removals)."""
        self._lists(lists, "apply_deletions")
        return self.outcome

    def list_problem(self, key: object, plan: ListPlan) -> Optional[Problem]:
        """Why a list of scope ``key`` failed (None: as planned, or not run)."""
        executor = self.list_executors.get(key)
        return executor.outcome.problem(plan.key) if executor is not None else None
