# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Apply: carry out a Plan with as few EC2 calls as the plan allows.

Three phases, each running independent pairs concurrently (bounded):

1. create every missing mirror, tagged in the same call (``TagSpecifications``),
   so no crash can leave an untagged group behind;
2. per pair: tags, then rules per direction -- one Authorize and one Revoke
   call each, authorize first unless the quota needs room first;
3. deletions (``state=absent``), last, once no other pair refers to them.

A failure is recorded on its pair (``pair.error``) and the other pairs go on.
Every call is retried with jittered backoff when EC2 throttles.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Iterable, List, Mapping, Optional

try:
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError
except ImportError:  # pragma: no cover - AnsibleAWSModule reports the missing library
    BotoCoreError = ClientError = ResponseParserError = Exception  # type: ignore[misc,assignment]

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import PLACEHOLDER_PREFIX, PairPlan, Plan
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import GROUP, RuleDiff, RuleSet, regroup
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import MIRRORED_FROM_TAG, TagChange, aws_tag_list, tag_dict

DEFAULT_CONCURRENCY = 8
_UNPARSABLE_RETRIES = 3
_PLACEHOLDER_RE = re.compile(re.escape(PLACEHOLDER_PREFIX) + r"sg-[0-9a-f]+")
_retry = AWSRetry.jittered_backoff(retries=10, delay=1, max_delay=30)


def call(client, operation: str, **params):
    """One EC2 call, retried on throttling and transient errors.

    An answer that cannot be parsed (an HTML 500 from a proxy or an overloaded
    endpoint) is retried too, a few times; a resent call that finds its work
    done is handled by the callers (see ``Executor.create``, ``permissions_call``).
    """
    for attempt in range(_UNPARSABLE_RETRIES):
        try:
            return _retry(getattr(client, operation))(**params)
        except ResponseParserError:
            if attempt == _UNPARSABLE_RETRIES - 1:
                raise
            time.sleep(0.5 * 2 ** attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def run_concurrently(items: Iterable, work: Callable, concurrency: int) -> None:
    """``work(item)`` for each item, at most ``concurrency`` at a time; ``work`` handles its own errors."""
    items = list(items)
    if concurrency <= 1 or len(items) < 2:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items))) as pool:
        list(pool.map(work, items))


def error_text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return "%s: %s" % (error.get("Code", "Error"), error.get("Message", ""))
    return str(exc)


def error_code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


class Executor:
    def __init__(self, client, concurrency: int = DEFAULT_CONCURRENCY):
        self.client = client
        self.concurrency = max(1, int(concurrency))
        self.ids: Dict[str, str] = {}  # placeholder -> created group id

    # -- helpers -------------------------------------------------------------

    def _each(self, pairs: Iterable[PairPlan], work: Callable[[PairPlan], None], what: str) -> None:
        def guarded(pair: PairPlan) -> None:
            try:
                work(pair)
            except (BotoCoreError, ClientError, ResponseParserError) as exc:
                pair.error = "%s for %s failed: %s" % (what, pair.source.label if pair.source else pair.source_ref, error_text(exc))

        run_concurrently(pairs, guarded, self.concurrency)

    def resolve(self, value: Optional[str]) -> Optional[str]:
        return self.ids.get(value, value) if value else value

    def resolve_rules(self, rules: RuleSet) -> RuleSet:
        resolved: RuleSet = {}
        for rule, description in rules.items():
            if rule.kind == GROUP and rule.target.startswith(PLACEHOLDER_PREFIX):
                real = self.ids.get(rule.target)
                if real is None:
                    raise _Unresolved(rule.target[len(PLACEHOLDER_PREFIX):])
                rule = rule.with_target(real, rule.user_id)
            resolved[rule] = description
        return resolved

    # -- phases --------------------------------------------------------------

    def create(self, pair: PairPlan) -> None:
        spec = pair.create
        try:
            response = call(
                self.client,
                "create_security_group",
                GroupName=spec.name,
                Description=spec.description,
                VpcId=spec.vpc_id,
                TagSpecifications=[{"ResourceType": "security-group", "Tags": aws_tag_list(spec.tags)}],
            )
            self.ids[pair.mirror_id] = response["GroupId"]
        except ClientError as exc:
            # A retry after a lost response finds the group it created: take it only if it is ours.
            existing = self.own_group(spec) if error_code(exc) == "InvalidGroup.Duplicate" else None
            if existing is None:
                raise
            self.ids[pair.mirror_id] = existing

    def own_group(self, spec) -> Optional[str]:
        found = call(
            self.client,
            "describe_security_groups",
            Filters=[{"Name": "vpc-id", "Values": [spec.vpc_id]}, {"Name": "group-name", "Values": [spec.name]}],
        ).get("SecurityGroups", [])
        for group in found:
            if tag_dict(group.get("Tags")).get(MIRRORED_FROM_TAG) == spec.tags.get(MIRRORED_FROM_TAG):
                return group["GroupId"]
        return None

    def tag(self, resource_id: str, change: TagChange) -> None:
        if change.set:
            values = {key: self.resolve(value) for key, value in change.set.items()}
            call(self.client, "create_tags", Resources=[resource_id], Tags=aws_tag_list(values))
        if change.unset:
            call(self.client, "delete_tags", Resources=[resource_id], Tags=[{"Key": key} for key in change.unset])

    def rules(self, group_id: str, owner_id: str, direction: str, diff: RuleDiff, pair: PairPlan) -> None:
        authorize = regroup(self.resolve_rules(diff.authorize), owner_id)
        revoke = regroup(self.resolve_rules(diff.revoke), owner_id)
        update = regroup(self.resolve_rules(diff.update), owner_id)
        steps = [("authorize", authorize), ("revoke", revoke)]
        if diff.revoke_first:
            steps.reverse()
        steps.append(("update_security_group_rule_descriptions", update))
        for verb, permissions in steps:
            if permissions:
                operation = "%s_%s" % (verb, direction) if verb.startswith("update") else "%s_security_group_%s" % (verb, direction)
                self.permissions_call(operation, group_id, permissions)

    def permissions_call(self, operation: str, group_id: str, permissions: List[dict]) -> None:
        """One call for all permissions. If a retry of a call whose answer was lost finds the
        rules already there (or already gone), redo it one rule at a time, skipping those."""
        try:
            call(self.client, operation, GroupId=group_id, IpPermissions=permissions)
        except ClientError as exc:
            done = _ALREADY_DONE.get(operation.split("_security_group_")[0])
            if error_code(exc) != done:
                raise
            for single in _one_target_each(permissions):
                try:
                    call(self.client, operation, GroupId=group_id, IpPermissions=[single])
                except ClientError as inner:
                    if error_code(inner) != done:
                        raise

    def converge(self, pair: PairPlan) -> None:
        group_id = self.resolve(pair.mirror_id)
        if group_id is None or group_id.startswith(PLACEHOLDER_PREFIX):
            pair.error = "mirror of %s was not created, nothing else was changed for it" % pair.source.label
            return
        owner_id = pair.mirror.owner_id if pair.mirror else pair.source.owner_id
        try:
            self.tag(group_id, pair.mirror_tags)
            for direction, diff in pair.rules.items():
                self.rules(group_id, owner_id, direction, diff, pair)
        except _Unresolved as missing:
            pair.error = (
                "rules of mirror %s were not changed: it refers to the mirror of %s, which could not be created"
                % (group_id, missing.source_id))
            return
        except ClientError as exc:
            if error_code(exc) != "InvalidGroup.NotFound":
                raise
            pair.error = "mirror %s of %s was deleted during the run (%s); run again to recreate it" % (
                group_id, pair.source.label, error_text(exc))
            return
        try:
            self.tag(pair.source.id, pair.source_tags)
        except ClientError as exc:
            if error_code(exc) != "InvalidGroup.NotFound":
                raise
            pair.error = "source %s was deleted during the run (%s); its mirror %s is now an orphan: run again with prune to delete it" % (
                pair.source.label, error_text(exc), group_id)

    def remove(self, pair: PairPlan) -> None:
        for group_id in pair.untag_ids:
            call(self.client, "delete_tags", Resources=[group_id], Tags=[{"Key": MIRRORED_FROM_TAG}])
        for group_id in pair.delete_ids:
            try:
                call(self.client, "delete_security_group", GroupId=group_id)
            except ClientError as exc:
                if error_code(exc) == "InvalidGroup.NotFound":
                    continue
                if error_code(exc) == "DependencyViolation":
                    pair.error = (
                        "mirror %s is still in use (%s); detach it from instances and remove rules that refer to it, then run again"
                        % (group_id, error_text(exc)))
                    return
                raise
        if pair.source is not None:
            self.tag(pair.source.id, pair.source_tags)

    def apply(self, plan: Plan) -> Dict[str, str]:
        """Carry out ``plan``; returns placeholder -> created group id."""
        live = [pair for pair in plan.pairs if pair.changed]
        converging = [pair for pair in live if not pair.removal]
        self._each([pair for pair in converging if pair.create], self.create, "creating the mirror")
        self._each([pair for pair in converging if not pair.error], self.converge, "updating the mirror")
        self._each([pair for pair in live if pair.removal], self.remove, "removing the mirror")
        return dict(self.ids)


_ALREADY_DONE = {"authorize": "InvalidPermission.Duplicate", "revoke": "InvalidPermission.NotFound"}
_TARGET_FIELDS = ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs")


def _one_target_each(permissions: List[dict]) -> List[dict]:
    """Split permissions into one permission per target."""
    singles = []
    for perm in permissions:
        head = {key: value for key, value in perm.items() if key not in _TARGET_FIELDS}
        for field in _TARGET_FIELDS:
            for entry in perm.get(field, []):
                singles.append(dict(head, **{field: [entry]}))
    return singles


class _Unresolved(Exception):
    def __init__(self, source_id: str):
        super().__init__(source_id)
        self.source_id = source_id


def apply_plan(client, plan: Plan, concurrency: int = DEFAULT_CONCURRENCY) -> Dict[str, str]:
    return Executor(client, concurrency).apply(plan)


def resolve_ids(value, ids: Mapping[str, str]):
    """Swap placeholders for created ids anywhere in a report structure, inside text too."""
    if isinstance(value, str):
        if PLACEHOLDER_PREFIX not in value:
            return value
        return _PLACEHOLDER_RE.sub(lambda match: ids.get(match.group(0), match.group(0)), value)
    if isinstance(value, list):
        return [resolve_ids(item, ids) for item in value]
    if isinstance(value, dict):
        return {resolve_ids(key, ids): resolve_ids(item, ids) for key, item in value.items()}
    return value
