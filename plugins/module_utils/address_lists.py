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
* :func:`member_interfaces`: the network interfaces carrying some groups
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
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_specifications

from ansible_collections.classiclink.mirror.plugins.module_utils.addresses import (
    CREATE,
    DELETE,
    MODIFY,
    AddressList,
    ListPlan,
    index_lists,
    list_tags,
    plan_list,
    read_address_list,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.model import Outcome, Problem
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

PREFIX_LIST_NOT_FOUND = "InvalidPrefixListID.NotFound"
VERSION_MISMATCH = "PrefixListVersionMismatch"
INCORRECT_STATE = "IncorrectState"
FILTER_VALUES = 200  # values of one describe filter
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


def member_interfaces(scope: Scope, group_ids: Iterable[str]) -> List[dict]:
    """The network interfaces carrying any of ``group_ids`` (each once), as DescribeNetworkInterfaces
    returns them: ``group-id`` filter, 200 values a call, paginated."""
    ids = sorted(set(group_ids))
    seen: Set[str] = set()
    found = []
    for start in range(0, len(ids), FILTER_VALUES):
        batch = ids[start:start + FILTER_VALUES]
        for interface in scope.paginate("describe_network_interfaces", "NetworkInterfaces",
                                        Filters=[{"Name": "group-id", "Values": batch}]):
            if interface.get("NetworkInterfaceId") not in seen:
                seen.add(interface.get("NetworkInterfaceId"))
                found.append(interface)
    return found


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


def apply_list_plans(scope: Scope, plans: Iterable[ListPlan], concurrency: int = DEFAULT_CONCURRENCY) -> Outcome:
    return ListExecutor(scope, concurrency).apply(plans)
