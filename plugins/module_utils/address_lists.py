# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Address lists, the AWS side: read a scope's lists and members, carry out list plans.

What the lists are and how a plan keeps one exact is :mod:`addresses` (pure).
This module reads and changes them through :class:`scope.Scope` only:

* :func:`load_lists`: the scope's own prefix lists (``DescribeManagedPrefixLists``
  with ``owner-id`` when the account is known; the documented filters have no tag
  filter), those tagged ``classiclinkmirror:addressesOf`` kept, each one's entries
  read with ``GetManagedPrefixListEntries`` (paginated, 100 a page on EC2);
* :func:`member_interfaces` (describe.py): the network interfaces carrying some groups
  (``DescribeNetworkInterfaces``, ``group-id`` filter, 200 values a call);
* :class:`ListExecutor`: :class:`addresses.ListPlan` objects, one list each,
  lists concurrently (bounded), the calls of one list in order.

Executing one list
------------------
* create: ``CreateManagedPrefixList`` with the name, ``AddressFamily``,
  ``MaxEntries``, the first 100 entries, the addressesOf tag in
  ``TagSpecifications`` (no untagged list is ever left behind) and a
  ``ClientToken`` (a resent call does not make a second list); the id is recorded
  in ``Outcome.ids`` under the plan's placeholder;
* modify: the resize (``MaxEntries`` alone), then each entry batch with
  ``CurrentVersion = base + k`` (``base``: the version EC2 shows once the create or
  resize is done, else the described one), ``PrefixListName`` always passed;
* between two calls on a list, its ``State`` must have left ``*-in-progress``
  (describe by id, bounded; no describe when the answer already says complete);
* a failed call is judged by re-reading the list (describe and entries): the
  list is re-planned from what EC2 shows, against the plan's wanted entries, and
  the rest sent once more (a stale version, a list busy with another change, a
  resent call whose answer was lost, an overlapping run). A second failure stands;
* delete: ``DeleteManagedPrefixList``; a list already gone (or being deleted) is
  success; one still referenced by a rule is ``in_use``.

Failures are Problems per list in the Outcome, keyed by :attr:`ListPlan.key`
(the list id, or the placeholder of a list to create). A list created this run
may be unknown for a moment (EC2 is eventually consistent): calls naming it retry
``InvalidPrefixListID.NotFound`` for a bounded time, as scope.py does for groups.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_specifications

from ansible_collections.classiclink.mirror.plugins.module_utils.addresses import (
    CREATE,
    DELETE,
    MODIFY,
    AddressList,
    ListPlan,
    Members,
    group_of_arn,
    index_lists,
    list_tags,
    member_addresses,
    plan_list,
    plan_scope_lists,
    read_address_list,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.describe import member_interfaces
from ansible_collections.classiclink.mirror.plugins.module_utils.model import Outcome, Problem
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import PREFIX_LIST
from ansible_collections.classiclink.mirror.plugins.module_utils.scope import (
    DEFAULT_CONCURRENCY,
    FRESH_RETRIES,
    BotoCoreError,
    ClientError,
    ResponseParserError,
    Scope,
    aws_code,
    error_text,
    is_code,
    problem_of,
    run_concurrently,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.targets import TargetScope

PREFIX_LIST_NOT_FOUND = "InvalidPrefixListID.NotFound"
VERSION_MISMATCH = "PrefixListVersionMismatch"
INCORRECT_STATE = "IncorrectState"
# How long a list may stay "*-in-progress" before the executor gives up on it (attempts, seconds apart).
READY_LOOKS = 30
READY_DELAY = 1.0


class ScopeLists(dict):
    """``{group ARN: {family: AddressList}}``, the kept list per group and family (the lowest id);
    ``duplicates``: other lists of the same group and family (prune candidates)."""

    def __init__(self, kept: Iterable[AddressList] = (), duplicates: Sequence[AddressList] = ()):
        super().__init__()
        for item in kept:
            self.setdefault(item.group_arn, {})[item.family] = item
        self.duplicates: Tuple[AddressList, ...] = tuple(duplicates)

    def by_key(self) -> Dict[Tuple[str, str], AddressList]:
        """``{(group ARN, family): list}``, as :func:`addresses.plan_group_lists` takes it."""
        return {(arn, family): item for arn, families in self.items() for family, item in families.items()}

    def all(self) -> List[AddressList]:
        """Every list, duplicates included (as :func:`addresses.prune_candidates` takes them)."""
        return sorted(list(self.by_key().values()) + list(self.duplicates), key=lambda item: item.id)


def _is_ours(description: dict) -> bool:
    return read_address_list(description) is not None


def load_lists(scope: Scope, account: Optional[str] = None) -> ScopeLists:
    """The scope's address lists with their entries: one describe, then one paginated
    GetManagedPrefixListEntries per list of ours. ``account`` (default: the account of
    ``scope.target`` once known) narrows the describe to the account's own lists; without
    it every list the scope sees is described and ours are kept by their tag."""
    if account is None:
        account = getattr(getattr(scope, "target", None), "account", None)
    params = {"Filters": [{"Name": "owner-id", "Values": [account]}]} if account else {}
    found = []
    for description in scope.paginate("describe_managed_prefix_lists", "PrefixLists", **params):
        if not _is_ours(description):
            continue  # AWS-managed lists, other lists of the account, lists being deleted
        entries = scope.paginate("get_managed_prefix_list_entries", "Entries", PrefixListId=description["PrefixListId"])
        found.append(read_address_list(description, entries))
    kept, duplicates = index_lists(found)
    return ScopeLists(kept.values(), duplicates)


def is_quota_error(exc: BaseException) -> bool:
    """EC2 refused for a limit: too many lists or entries, or a referencing group's rules quota."""
    code = aws_code(exc) or ""
    return code != "RequestLimitExceeded" and (code.endswith("LimitExceeded") or code.endswith("MaxEntriesExceeded"))


class _Failed(Exception):
    """A list's change that cannot go on (a Problem is recorded)."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


class ListExecutor:
    """Carries out address-list plans of one scope; returns an Outcome (ids of created lists
    under their placeholders, a Problem per failed list)."""

    def __init__(self, scope: Scope, concurrency: int = DEFAULT_CONCURRENCY, sleep=time.sleep):
        self.scope = scope
        self.concurrency = max(1, int(concurrency))
        self.outcome = Outcome()
        self.fresh: Set[str] = set()  # lists this run created: EC2 may not know them yet
        self.sleep = sleep
        self.versions: Dict[str, int] = {}  # list id -> version after this run's last call

    # -- calls ------------------------------------------------------------------

    def retrying(self, list_id: Optional[str], work):
        """``work()``; on a list this run created, ``InvalidPrefixListID.NotFound`` is retried
        (bounded, the waits of scope.FRESH_RETRIES) while EC2 catches up."""
        delay, attempts = FRESH_RETRIES["delay"], FRESH_RETRIES["retries"] if list_id in self.fresh else 1
        for attempt in range(attempts):
            try:
                return work()
            except ClientError as exc:
                if attempt + 1 >= attempts or not is_code(exc, PREFIX_LIST_NOT_FOUND):
                    raise
            self.sleep(delay)
            delay = min(delay * 2, FRESH_RETRIES["max_delay"])
        raise AssertionError("unreachable")  # pragma: no cover

    def call(self, operation: str, list_id: Optional[str] = None, **params):
        return self.retrying(list_id, lambda: self.scope.call(operation, **params))

    def describe(self, list_id: str) -> Optional[dict]:
        """The list as EC2 describes it now (None: it does not exist)."""
        try:
            found = self.call("describe_managed_prefix_lists", list_id, PrefixListIds=[list_id]).get("PrefixLists", [])
        except ClientError as exc:
            if is_code(exc, PREFIX_LIST_NOT_FOUND):
                return None
            raise
        return found[0] if found else None

    def read(self, list_id: str, group_arn: Optional[str] = None) -> Optional[AddressList]:
        """The list and its entries now (None: gone or being deleted)."""
        description = self.ready(list_id)
        if description is None:
            return None
        entries = self.retrying(list_id, lambda: self.scope.paginate(
            "get_managed_prefix_list_entries", "Entries", PrefixListId=list_id))
        return read_address_list(description, entries, group_arn or "?")

    def ready(self, list_id: str, answer: Optional[dict] = None) -> Optional[dict]:
        """Wait until the list's State is not ``*-in-progress`` (``answer``: the last call's answer
        for it; complete already means no describe). Fails the list on ``*-failed`` or timeout."""
        description = answer
        for look in range(READY_LOOKS):
            if description is not None and not str(description.get("State", "")).endswith("-in-progress"):
                break
            if look:
                self.sleep(READY_DELAY)
            description = self.describe(list_id)
            if description is None:
                return None
        else:
            raise _Failed(Problem("aws_error", "prefix list %s stayed %s for %d s; run again" % (
                list_id, description.get("State"), int(READY_LOOKS * READY_DELAY))))
        state = str(description.get("State", ""))
        if state.endswith("-failed"):
            message = description.get("StateMessage") or ""
            code = "quota" if "limit" in message.lower() or "max" in message.lower() else "aws_error"
            raise _Failed(Problem(code, "prefix list %s is %s: %s" % (list_id, state, message or "no reason given"), state))
        if description.get("Version") is not None:
            self.versions[list_id] = int(description["Version"])
        return description

    # -- one list -----------------------------------------------------------------

    def create(self, plan: ListPlan) -> str:
        params = dict(
            PrefixListName=plan.name,
            AddressFamily=plan.family,
            MaxEntries=plan.max_entries,
            Entries=plan.entries(plan.create_entries),
            ClientToken=str(uuid.uuid4()),
        )
        if plan.group_arn:
            params["TagSpecifications"] = boto3_tag_specifications(list_tags(plan.group_arn), ["prefix-list"])
        try:
            created = self.scope.call("create_managed_prefix_list", **params)["PrefixList"]
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            found = self.find_own(plan)  # the create happened after all (a lost answer, an overlapping run)?
            if found is None:
                if is_quota_error(exc):
                    raise _Failed(Problem("quota", "creating address list %s failed: %s" % (plan.name, error_text(exc)), aws_code(exc)))
                raise
            self.fresh.add(found)
            self.outcome.created(plan.key, found)
            return self.converge(plan, found)
        list_id = created["PrefixListId"]
        self.fresh.add(list_id)
        self.outcome.created(plan.key, list_id)
        try:
            self.ready(list_id, created)  # no describe when the answer says create-complete
            if plan.batches:
                self.batches(plan, list_id, self.versions.get(list_id, int(created.get("Version") or 1)))
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            if is_quota_error(exc):
                raise _Failed(Problem("quota", "address list %s: %s" % (list_id, error_text(exc)), aws_code(exc)))
            self.converge(plan, list_id, exc)
        return list_id

    def find_own(self, plan: ListPlan) -> Optional[str]:
        """The scope's list for the plan's group and family, if there is one now."""
        if not plan.group_arn:
            return None
        try:
            lists = load_lists(self.scope)
        except (BotoCoreError, ClientError, ResponseParserError):
            return None
        found = lists.get(plan.group_arn, {}).get(plan.family)
        return found.id if found else None

    def modify(self, plan: ListPlan) -> None:
        list_id = plan.prefix_list_id
        try:
            base = plan.version
            if plan.resize_to is not None:
                answer = self.resize(plan, list_id, plan.resize_to, plan.version)
                described = self.ready(list_id, answer)
                base = self.versions.get(list_id, int((described or answer).get("Version") or base))
            self.batches(plan, list_id, base)
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            if self.describe(list_id) is None:
                raise _Failed(Problem("not_found", "address list %s was deleted during the run (%s); run again to recreate it" % (
                    list_id, error_text(exc)), aws_code(exc)))
            if is_quota_error(exc):
                raise _Failed(Problem("quota", "address list %s: %s" % (list_id, error_text(exc)), aws_code(exc)))
            self.converge(plan, list_id, exc)

    def resize(self, plan: ListPlan, list_id: str, size: int, version: Optional[int]) -> dict:
        params = dict(PrefixListId=list_id, PrefixListName=plan.name, MaxEntries=size)
        if version is not None:
            params["CurrentVersion"] = version
        return self.call("modify_managed_prefix_list", list_id, **params)["PrefixList"]

    def batches(self, plan: ListPlan, list_id: str, base: int) -> None:
        answer = None
        for batch in plan.batches:
            if answer is not None:
                self.ready(list_id, answer)
            params = dict(PrefixListId=list_id, PrefixListName=plan.name, CurrentVersion=batch.current_version(base))
            if batch.add:
                params["AddEntries"] = plan.entries(batch.add)
            if batch.remove:
                params["RemoveEntries"] = [{"Cidr": cidr} for cidr in batch.remove]
            answer = self.call("modify_managed_prefix_list", list_id, **params)["PrefixList"]
        if answer is not None:
            self.ready(list_id, answer)

    def converge(self, plan: ListPlan, list_id: str, cause: Optional[BaseException] = None) -> str:
        """Re-read the list and send what is still missing, once (a second failure stands)."""
        current = self.read(list_id, plan.group_arn)
        if current is None:
            raise _Failed(Problem("not_found", "address list %s was deleted during the run%s; run again to recreate it" % (
                list_id, " (%s)" % error_text(cause) if cause else ""), PREFIX_LIST_NOT_FOUND))
        again = plan_list(plan.wanted, current, plan.name, plan.family)
        if again.error:
            raise _Failed(Problem("quota", again.error))
        if not again.changed:
            return list_id  # as planned (a resent call, an overlapping run)
        again = replace(again, group_arn=plan.group_arn, descriptions=plan.descriptions)
        try:
            base = again.version
            if again.resize_to is not None:
                described = self.ready(list_id, self.resize(again, list_id, again.resize_to, again.version))
                base = self.versions.get(list_id, int((described or {}).get("Version") or base))
            self.batches(again, list_id, base)
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            if is_quota_error(exc):
                raise _Failed(Problem("quota", "address list %s: %s" % (list_id, error_text(exc)), aws_code(exc)))
            raise
        return list_id

    def delete(self, plan: ListPlan) -> None:
        list_id = plan.prefix_list_id
        try:
            self.scope.call("delete_managed_prefix_list", PrefixListId=list_id)
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            if is_code(exc, PREFIX_LIST_NOT_FOUND):
                return
            described = self.describe(list_id)
            if described is None or str(described.get("State", "")).startswith("delete"):
                return  # gone, as planned (a resent call, another run)
            if is_code(exc, "DependencyViolation", "InvalidPrefixListModification"):
                raise _Failed(Problem("in_use", (
                    "address list %s is still in use (%s); remove the rules that refer to it, then run again"
                    % (list_id, error_text(exc))), aws_code(exc)))
            raise

    # -- the plans ----------------------------------------------------------------

    def _one(self, plan: ListPlan) -> None:
        try:
            if plan.action == CREATE:
                self.create(plan)
            elif plan.action == MODIFY:
                self.modify(plan)
            elif plan.action == DELETE:
                self.delete(plan)
        except _Failed as failed:
            self.outcome.fail(plan.key, failed.problem)
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            what = {CREATE: "creating", MODIFY: "updating", DELETE: "deleting"}[plan.action]
            problem = problem_of(exc, "%s address list %s" % (what, plan.prefix_list_id or plan.name))
            if is_code(exc, PREFIX_LIST_NOT_FOUND):
                problem = Problem("not_found", problem.message, problem.aws_code)
            self.outcome.fail(plan.key, problem)

    def apply_converging(self, plans: Iterable[ListPlan]) -> Outcome:
        """Creates and modifications (before the rules that refer to the lists)."""
        work = [plan for plan in plans if plan.action in (CREATE, MODIFY) and not plan.error]
        run_concurrently(work, self._one, self.concurrency)
        return self.outcome

    def apply_deletions(self, plans: Iterable[ListPlan]) -> Outcome:
        """Deletions (after the rules that referred to the lists were revoked)."""
        run_concurrently([plan for plan in plans if plan.action == DELETE], self._one, self.concurrency)
        return self.outcome

    def apply(self, plans: Iterable[ListPlan]) -> Outcome:
        plans = list(plans)
        self.apply_converging(plans)
        return self.apply_deletions(plans)


# -- references=addresses: the lists a group plan needs -------------------------------------------


class RunLists:
    """The address lists of one run: the list plans per target scope, what they were planned from, and the
    scopes whose lists could not be read."""

    def __init__(self) -> None:
        self.plans: Dict[TargetScope, Tuple[ListPlan, ...]] = {}
        self.members: Dict[str, Members] = {}  # group ARN -> its members (as address_kind reads them)
        self.current: Dict[str, AddressList] = {}  # list id -> as read (the --diff's before)
        self.problems: Dict[TargetScope, Problem] = {}  # target scopes whose lists could not be read

    @property
    def changed(self) -> bool:
        return any(plan.changed for plans in self.plans.values() for plan in plans)

    def keyed(self, home: TargetScope) -> Dict[object, Tuple[ListPlan, ...]]:
        """The plans keyed as ScopedExecutor keys scopes (None: the home scope)."""
        return {(None if scope == home else scope): plans for scope, plans in self.plans.items()}


def _referenced_ids(snapshot, plan, scope: TargetScope) -> Set[str]:
    """Prefix lists the rules of ``scope`` refer to once the plan is applied: the planned rules of its mirrors, and
    the current rules of every other group of the scope the run read (a deleted mirror refers to nothing)."""
    home = snapshot.home
    planned: Dict[str, object] = {}
    deleted: Set[str] = set()
    found: Set[str] = set()
    for pair in plan.pairs:
        if (pair.scope or home) != scope:
            continue
        if pair.removal:
            if not pair.error:
                deleted.update(pair.delete_ids)
            continue
        rules = pair.after if not pair.error and pair.rules else (pair.mirror.rules if pair.mirror is not None else {})
        if pair.mirror is not None:
            planned[pair.mirror.id] = rules
        else:
            found.update(rule.target for rule in rules if rule.kind == PREFIX_LIST)
    for group in snapshot.groups.values():
        if snapshot.scope_of_group(group.id) != scope or group.id in deleted:
            continue
        rules = planned.get(group.id, group.rules)
        found.update(rule.target for rule in rules if rule.kind == PREFIX_LIST)
    return found


def plan_with_lists(snapshot, refs: Sequence[str], options, plan, home_scope: Scope, others: Mapping[TargetScope, Scope],
                    concurrency: int = DEFAULT_CONCURRENCY):
    """references=addresses: read the address lists and the members the plan's rules need, plan the lists, and plan
    the pairs again with the lists' ids (placeholders for lists to create) and sizes (their quota weight).

    -> (plan, RunLists). Reads only when a pair refers to an address list, or with ``prune`` (then every target scope
    of the run is read, so that unused lists are found): per target scope 1 DescribeManagedPrefixLists + 1
    GetManagedPrefixListEntries per list; per scope of the referenced groups 1 DescribeNetworkInterfaces per 200 groups.
    A target scope whose lists cannot be read fails its pairs (``unreachable_scope``)."""
    from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import KnownLists  # pylint: disable=import-outside-toplevel
    from ansible_collections.classiclink.mirror.plugins.module_utils.plan_groups import plan_pairs  # pylint: disable=import-outside-toplevel

    run = RunLists()
    home = snapshot.home
    if options.references != "addresses":
        return plan, run

    def reach(target: TargetScope) -> Optional[Scope]:
        return home_scope if target == home else others.get(target)

    targets = set(wanted.scope for wanted in plan.address_lists)
    if options.prune:
        targets.update(pair.scope or home for pair in plan.pairs)
    targets = sorted(target for target in targets if reach(target) is not None and target not in options.scope_problems)
    if not targets:
        return plan, run
    group_scopes: Dict[TargetScope, Set[str]] = {}
    for wanted in plan.address_lists:
        group_scopes.setdefault(wanted.group_scope, set()).add(wanted.group_id)
    lists: Dict[TargetScope, ScopeLists] = {}
    interfaces: Dict[TargetScope, List[dict]] = {}

    def read_lists(target: TargetScope) -> None:
        scope = reach(target)
        try:
            lists[target] = load_lists(scope, target.account or None)
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            problem = scope.unreachable(exc)
            run.problems[target] = Problem(problem.code, "%s (reading the address lists)" % problem.message, problem.aws_code)

    def read_members(group_scope: TargetScope) -> None:
        scope = reach(group_scope)
        interfaces[group_scope] = member_interfaces(scope, group_scopes[group_scope]) if scope is not None else []

    run_concurrently(targets, read_lists, concurrency)
    run_concurrently(sorted(group_scopes), read_members, concurrency)  # errors: the caller fails the module
    for wanted in plan.address_lists:
        if wanted.group_arn not in run.members:
            run.members[wanted.group_arn] = member_addresses(interfaces.get(wanted.group_scope, ()), wanted.group_id, options.address_kind)
    for scope_lists in lists.values():
        run.current.update((item.id, item) for item in scope_lists.all())

    known_lists: Dict[Tuple[TargetScope, str], Tuple[Tuple[str, str, int], ...]] = {}
    sizes = {item.id: item.max_entries for item in run.current.values()}
    for target in sorted(lists):
        arns = sorted(set(wanted.group_arn for wanted in plan.address_lists if wanted.scope == target))
        first = plan_scope_lists({arn: run.members[arn] for arn in arns}, lists[target].all())
        for list_plan in first:
            list_id = list_plan.prefix_list_id or list_plan.placeholder
            known_lists[(target, list_plan.group_arn)] = known_lists.get((target, list_plan.group_arn), ()) + (
                (list_plan.family, list_id, list_plan.max_entries),)
            sizes[list_id] = list_plan.max_entries
    problems = dict(options.scope_problems)
    problems.update(run.problems)
    known = KnownLists(known_lists, frozenset(run.current), sizes)
    plan = plan_pairs(snapshot, refs, replace(options, address_lists=known, scope_problems=problems))

    for target in sorted(lists):
        active = sorted(set(wanted.group_arn for wanted in plan.address_lists if wanted.scope == target and wanted.active))
        current = lists[target].all()
        keep = _referenced_ids(snapshot, plan, target)
        wanted_arns = set(wanted.group_arn for wanted in plan.address_lists if wanted.scope == target)
        for item in current:
            # Lists of groups only failed pairs refer to, and lists of other scopes' groups (their own runs decide): kept.
            if item.group_arn in wanted_arns or _group_scope(item.group_arn) != (home.account, home.region):
                keep.add(item.id)
        run.plans[target] = plan_scope_lists({arn: run.members[arn] for arn in active}, current, options.prune, keep)
    return plan, run


def _group_scope(arn: str) -> Tuple[str, str]:
    try:
        _group, account, region = group_of_arn(arn)
    except ValueError:
        return ("", "")
    return (account, region)
