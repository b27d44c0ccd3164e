"""Prefix-list corrections for the moto test server (test-only code).

moto 5.2.5 implements customer-managed prefix lists loosely (measured against
moto[server] 5.2.5 with boto3 1.43; what moto did is said with each correction).  This module is the one place where the harness
makes them behave as the EC2 API reference says, so that the address-list code
(plugins/module_utils/address_lists.py) is tested against EC2's rules, not
moto's.  Each correction, with the fact it follows:

1. **ModifyManagedPrefixList is answered here**, on moto's own prefix-list
   objects (moto's handler is never called):

   * a stale ``CurrentVersion`` fails with ``PrefixListVersionMismatch`` ("The
     prefix list has the incorrect version number.").  API reference: "If you
     specify a current version number that does not match the true current
     version number, the request fails"; the code is the one EC2 returns
     (terraform-provider-aws and the AWS SDKs handle ``PrefixListVersionMismatch``
     for this case).  moto applied a stale call on top of the latest entries;
   * ``MaxEntries`` resizes the list (moto did not parse it), and only in a call
     of its own: "You cannot modify the entries of a prefix list and modify the
     size of a prefix list at the same time" -> ``InvalidParameterCombination``.
     A resize below the current number of entries, or above 1000 (entries of one
     customer-managed list), is ``InvalidParameterValue``.  A resize makes no new
     version ("Adding or removing entries in a prefix list creates a new
     version");
   * "If any of the resources that reference the prefix list cannot support the
     new maximum size, the modify operation fails. Check the state message for
     the IDs of the first ten resources": a resize that would take a referencing
     group over its rules quota (correction 5) leaves the size as it was, the
     list in state ``modify-failed`` and the group ids in ``StateMessage``;
   * adding beyond ``MaxEntries`` fails with ``PrefixListMaxEntriesExceeded``
     (moto accepted it);
   * ``AddEntry`` and ``RemoveEntry`` take "Maximum number of 100 items" each:
     more is ``InvalidParameterValue`` (moto accepted any number);
   * a call without ``PrefixListName`` keeps the name (moto cleared it): the
     name is a property changed only when given ("Changing the name of the
     prefix list does not affect the version");
   * an unknown (or deleted) ``pl-`` id is ``InvalidPrefixListID.NotFound``
     (moto answered HTTP 500).

2. **CreateManagedPrefixList is checked** before moto runs it: ``Entry.N`` at
   most 100 items, no more entries than ``MaxEntries`` (``PrefixListMaxEntriesExceeded``),
   ``MaxEntries`` 1-1000, a name not starting with ``com.amazonaws`` ("The name
   cannot start with com.amazonaws"), entries of the list's ``AddressFamily``
   (all ``InvalidParameterValue``); and ``ClientToken`` makes it idempotent
   ("Unique, case-sensitive identifier you provide to ensure the idempotency of
   the request"): the same token again answers the list it created.

3. **Unknown ids elsewhere**: ``DeleteManagedPrefixList`` (moto: 500),
   ``GetManagedPrefixListEntries`` (moto: empty answer) and
   ``DescribeManagedPrefixLists`` with ``PrefixListId.N`` (moto: empty answer)
   answer ``InvalidPrefixListID.NotFound``, as EC2 does for an id it does not
   know.

4. **Descriptions of prefix-list rules** (``PrefixListIds[].Description``) are
   kept by security groups (moto dropped them on authorize and on
   ``UpdateSecurityGroupRuleDescriptions*``): the API's ``PrefixListId`` shape
   has ``Description`` like ``IpRange`` has.  Without this a mirror's rule that
   references a list would show a description diff on every run.  Done by
   wrapping four moto internals (:func:`install_moto_corrections`).

5. **Quota weight of a reference**: "When you reference a prefix list in a
   security group rule, the number of entries (MaxEntries) counts against the
   quota for the number of rules for the security group" (VPC user guide,
   prefix-list quotas).  An ``AuthorizeSecurityGroupIngress/Egress`` that would
   take a group past 60 rules in that direction (``MaxEntries`` per reference to
   a customer-managed list, 1 per other entry) fails with
   ``RulesPerSecurityGroupLimitExceeded``; checked only when a customer-managed
   list is involved (moto's own count stays in charge otherwise).

Not corrected: ``GetManagedPrefixListEntries`` returns every entry in one page
(EC2 pages by at most 100; the collection reads it with a paginator either
way); states are never ``*-in-progress`` (moto is synchronous); adding an entry
that exists or removing one that does not is accepted.

``/moto-api/reset`` forgets the client tokens (see ``moto_harness``).
"""

from __future__ import annotations

import inspect
import ipaddress
import re
import threading
from typing import Any

from xml.sax.saxutils import escape

from tests.support.classiclink_emulation import EC2_XMLNS, EmulationError, Params, _indexed, error_xml, new_request_id

# Answered here, moto never sees them.
EMULATED_ACTIONS = frozenset({"ModifyManagedPrefixList"})
# Checked here first, then forwarded to moto (``after`` sees moto's answer).
CHECKED_ACTIONS = frozenset({
    "CreateManagedPrefixList", "DeleteManagedPrefixList", "GetManagedPrefixListEntries", "DescribeManagedPrefixLists",
    "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
})
PREFIX_LIST_ACTIONS = EMULATED_ACTIONS | CHECKED_ACTIONS

MAX_ENTRIES_PER_CALL = 100
MAX_LIST_ENTRIES = 1000
RULES_PER_GROUP = 60  # per direction, VPC groups (moto's own limit too)
RESERVED_NAME_PREFIX = "com.amazonaws"
NOT_FOUND = "InvalidPrefixListID.NotFound"
_PERMISSION_ITEM = re.compile(r"^IpPermissions\.(\d+)\.(IpRanges|Ipv6Ranges|Groups|UserIdGroupPairs|PrefixListIds)\.(\d+)\.(\w+)$")
_PREFIX_LIST_ID_IN_ANSWER = re.compile(r"<prefixListId>(pl-[0-9a-f]+)</prefixListId>")


def _not_found(list_id: str) -> EmulationError:
    return EmulationError(NOT_FOUND, f"The prefix list ID '{list_id}' does not exist")


def _entries(params: Params, name: str) -> list[dict[str, str]]:
    """``Name.N.Cidr`` / ``Name.N.Description`` -> [{"Cidr": ..., "Description": ...}] in index order."""
    pattern = re.compile(rf"^{re.escape(name)}\.(\d+)\.(Cidr|Description)$")
    found: dict[int, dict[str, str]] = {}
    for key, value in params.items():
        if m := pattern.match(key):
            found.setdefault(int(m.group(1)), {})[m.group(2)] = value
    return [found[index] for index in sorted(found)]


def _family_of(cidr: str) -> str:
    return "IPv6" if ipaddress.ip_network(cidr, strict=False).version == 6 else "IPv4"


def _int(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise EmulationError("InvalidParameterValue", f"Invalid value '{value}' for {name}") from None


class PrefixListEmulator:
    """The corrections above, over moto's EC2 backends (thread-safe: one lock)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tokens: dict[tuple[str, str, str], str] = {}  # (account, region, ClientToken) -> list id
        self._pending_tokens: dict[int, tuple[str, str, str]] = {}  # thread -> token of its create in flight

    def reset(self) -> None:
        with self._lock:
            self._tokens.clear()
            self._pending_tokens.clear()

    @staticmethod
    def _backend(account_id: str, region: str) -> Any:
        from moto.ec2.models import ec2_backends

        return ec2_backends[account_id][region]

    def _list(self, backend: Any, list_id: str, deleted_too: bool = False) -> Any:
        pl = backend.managed_prefix_lists.get(list_id)
        if pl is None or (not deleted_too and str(pl.state).startswith("delete")):
            raise _not_found(list_id)
        return pl

    # -- entry points -------------------------------------------------------------

    def handle(self, action: str, params: Params, account_id: str, region: str) -> tuple[int, str] | None:
        """An answer (HTTP status, EC2 XML) for the request, or None: forward it to moto."""
        try:
            with self._lock:
                backend = self._backend(account_id, region)
                if action == "ModifyManagedPrefixList":
                    return 200, self._modify(backend, params)
                if action == "CreateManagedPrefixList":
                    return self._check_create(backend, params, account_id, region)
                if action in ("DeleteManagedPrefixList", "GetManagedPrefixListEntries"):
                    self._list(backend, params.get("PrefixListId", ""), deleted_too=action == "GetManagedPrefixListEntries")
                elif action == "DescribeManagedPrefixLists":
                    for list_id in _indexed(params, "PrefixListId"):
                        self._list(backend, list_id, deleted_too=True)
                elif action.startswith("AuthorizeSecurityGroup"):
                    self._check_quota(backend, params, egress=action.endswith("Egress"))
        except EmulationError as exc:
            return exc.status, error_xml(exc.code, exc.message)
        return None

    def after(self, action: str, params: Params, account_id: str, region: str, status: int, body: bytes) -> None:
        """Learn from moto's answer: the id a ClientToken created."""
        if action != "CreateManagedPrefixList":
            return
        token = params.get("ClientToken")
        if not token or status != 200:
            return
        if m := _PREFIX_LIST_ID_IN_ANSWER.search(body.decode("utf-8", "replace")):
            with self._lock:
                self._tokens.setdefault((account_id, region, token), m.group(1))

    # -- CreateManagedPrefixList ----------------------------------------------------

    def _check_create(self, backend: Any, params: Params, account_id: str, region: str) -> tuple[int, str] | None:
        token = params.get("ClientToken")
        if token and (known := self._tokens.get((account_id, region, token))):
            pl = backend.managed_prefix_lists.get(known)
            if pl is not None:
                return 200, _answer("CreateManagedPrefixList", pl, backend)
        entries = _entries(params, "Entry")
        max_entries = _int(params, "MaxEntries")
        name = params.get("PrefixListName", "")
        family = params.get("AddressFamily", "")
        if len(entries) > MAX_ENTRIES_PER_CALL:
            raise EmulationError("InvalidParameterValue", f"At most {MAX_ENTRIES_PER_CALL} entries per request, not {len(entries)}")
        if max_entries is None or not 1 <= max_entries <= MAX_LIST_ENTRIES:
            raise EmulationError("InvalidParameterValue", f"MaxEntries must be between 1 and {MAX_LIST_ENTRIES}")
        if len(entries) > max_entries:
            raise EmulationError("PrefixListMaxEntriesExceeded",
                                 f"The prefix list would have {len(entries)} entries; its maximum is {max_entries}")
        if name.startswith(RESERVED_NAME_PREFIX):
            raise EmulationError("InvalidParameterValue", f"The prefix list name cannot start with {RESERVED_NAME_PREFIX}")
        if family not in ("IPv4", "IPv6"):
            raise EmulationError("InvalidParameterValue", f"Invalid AddressFamily '{family}'")
        self._check_family(entries, family)
        return None

    @staticmethod
    def _check_family(entries: list[dict[str, str]], family: str) -> None:
        for entry in entries:
            try:
                found = _family_of(entry.get("Cidr", ""))
            except ValueError:
                raise EmulationError("InvalidParameterValue", f"Invalid CIDR '{entry.get('Cidr')}'") from None
            if found != family:
                raise EmulationError("InvalidParameterValue", f"The CIDR {entry['Cidr']} is not an {family} CIDR")

    # -- ModifyManagedPrefixList -----------------------------------------------------

    def _modify(self, backend: Any, params: Params) -> str:
        list_id = params.get("PrefixListId", "")
        if not list_id:
            raise EmulationError("MissingParameter", "The request must contain the parameter PrefixListId")
        pl = self._list(backend, list_id)
        add, remove = _entries(params, "AddEntry"), _entries(params, "RemoveEntry")
        max_entries = _int(params, "MaxEntries")
        version = _int(params, "CurrentVersion")
        if max_entries is not None and (add or remove):
            raise EmulationError("InvalidParameterCombination",
                                 "You cannot modify the entries of a prefix list and modify the size of a prefix list at the same time")
        if len(add) > MAX_ENTRIES_PER_CALL or len(remove) > MAX_ENTRIES_PER_CALL:
            raise EmulationError("InvalidParameterValue", f"At most {MAX_ENTRIES_PER_CALL} entries to add and {MAX_ENTRIES_PER_CALL} to remove per request")
        if version is not None and version != int(pl.version or 0):
            raise EmulationError("PrefixListVersionMismatch", "The prefix list has the incorrect version number.")
        current = [dict(entry) for entry in (pl.entries.get(pl.version) or [])]
        if max_entries is not None and (max_entries < len(current) or not 1 <= max_entries <= MAX_LIST_ENTRIES):
            raise EmulationError("InvalidParameterValue",
                                 f"MaxEntries {max_entries} must be at least the number of entries ({len(current)}) and at most {MAX_LIST_ENTRIES}")
        if add or remove:
            self._check_family(add, pl.address_family)
            gone = {entry.get("Cidr") for entry in remove}
            entries = [entry for entry in current if entry.get("Cidr") not in gone]
            for entry in add:
                entries = [kept for kept in entries if kept.get("Cidr") != entry.get("Cidr")] + [dict(entry)]
            if len(entries) > int(pl.max_entries):
                raise EmulationError("PrefixListMaxEntriesExceeded",
                                     f"The prefix list would have {len(entries)} entries; its maximum is {pl.max_entries}")
            pl.version = int(pl.version or 0) + 1
            pl.entries[pl.version] = entries
        if params.get("PrefixListName"):
            pl.prefix_list_name = params["PrefixListName"]
        pl.state, pl.state_message = "modify-complete", None
        if max_entries is not None:
            over = self._groups_over_quota(backend, list_id, max_entries)
            if over:
                pl.state = "modify-failed"
                pl.state_message = ("The following resources do not support the new maximum number of entries: %s"
                                    % ", ".join(over[:10]))
            else:
                pl.max_entries = str(max_entries)
        return _answer("ModifyManagedPrefixList", pl, backend)

    # -- the quota weight of references ----------------------------------------------

    def _weight(self, backend: Any, list_id: str | None, sizes: dict[str, int] | None = None) -> int:
        if not list_id:
            return 1
        if sizes and list_id in sizes:
            return sizes[list_id]
        pl = backend.managed_prefix_lists.get(list_id)
        if pl is None or pl.max_entries in (None, "") or pl.owner_id == "aws":
            return 1
        return max(1, int(pl.max_entries))

    def _count(self, backend: Any, rules: list[Any], sizes: dict[str, int] | None = None) -> int:
        return sum(self._weight(backend, rule.prefix_list_id, sizes) for rule in rules)

    def _groups_over_quota(self, backend: Any, list_id: str, size: int) -> list[str]:
        over = []
        for groups in backend.groups.values():
            for group in groups.values():
                for rules in (group.ingress_rules, group.egress_rules):
                    if any(rule.prefix_list_id == list_id for rule in rules) and \
                            self._count(backend, rules, {list_id: size}) > RULES_PER_GROUP:
                        over.append(group.id)
                        break
        return sorted(over)

    def _check_quota(self, backend: Any, params: Params, egress: bool) -> None:
        new: list[str | None] = []  # prefix-list id or None, per new rule
        for key, value in params.items():
            if m := _PERMISSION_ITEM.match(key):
                kind, field = m.group(2), m.group(4)
                if kind == "PrefixListIds" and field == "PrefixListId":
                    new.append(value)
                elif kind != "PrefixListIds" and field in ("CidrIp", "CidrIpv6", "GroupId", "GroupName"):
                    new.append(None)
        group_id = params.get("GroupId")
        group = backend.get_security_group_from_id(group_id) if group_id else None
        if group is None or not group.vpc_id:
            return
        rules = group.egress_rules if egress else group.ingress_rules
        customer = [list_id for list_id in new + [rule.prefix_list_id for rule in rules] if self._weight(backend, list_id) > 1]
        if not customer:
            return  # moto's own count applies
        total = self._count(backend, rules) + sum(self._weight(backend, list_id) for list_id in new)
        if total > RULES_PER_GROUP:
            raise EmulationError("RulesPerSecurityGroupLimitExceeded",
                                 "The maximum number of rules per security group has been reached.")


def _answer(action: str, pl: Any, backend: Any) -> str:
    tags = "".join(f"<item><key>{escape(str(k))}</key><value>{escape(str(v))}</value></item>"
                   for k, v in sorted(dict(backend.tags.get(pl.id, {})).items()))
    fields = [
        ("prefixListId", pl.id), ("addressFamily", pl.address_family), ("state", pl.state),
        ("stateMessage", pl.state_message), ("prefixListArn", pl.prefix_list_arn), ("prefixListName", pl.prefix_list_name),
        ("maxEntries", pl.max_entries), ("version", pl.version), ("ownerId", pl.owner_id),
    ]
    inner = "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in fields if value not in (None, ""))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{action}Response xmlns="{EC2_XMLNS}"><requestId>{new_request_id()}</requestId>'
        f"<prefixList>{inner}<tagSet>{tags}</tagSet></prefixList></{action}Response>"
    )


# -- correction 4: descriptions of prefix-list rules, kept by moto's security groups ---------------------

_INSTALLED = False
_INSTALL_LOCK = threading.Lock()


def install_moto_corrections() -> None:
    """Wrap moto's SecurityGroupRule / SecurityGroup / SecurityGroupBackend so that a prefix-list
    rule keeps its Description (authorize, describe, UpdateSecurityGroupRuleDescriptions*). Idempotent."""
    global _INSTALLED
    with _INSTALL_LOCK:
        if _INSTALLED:
            return
        from moto.ec2.models import security_groups as sg

        rule_cls, group_cls, backend_cls = sg.SecurityGroupRule, sg.SecurityGroup, sg.SecurityGroupBackend
        init, describe = rule_cls.__init__, rule_cls.description
        flattened, update = group_cls._flattened_rules, backend_cls._sg_update_description
        signature = inspect.signature(init)

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            given = signature.bind(self, *args, **kwargs).arguments.get("prefix_list_id")
            self.prefix_list_description = given.get("Description") if isinstance(given, dict) else None

        def description(self: Any) -> str | None:
            if self.prefix_list_id:
                return getattr(self, "prefix_list_description", None)
            return describe.fget(self)

        def _flattened_rules(self: Any, rules: list[Any]) -> list[Any]:
            views = flattened(self, rules)
            for view in views:
                for entry in view.prefix_list_ids:
                    for rule in rules:
                        if (rule.prefix_list_id, rule.from_port, rule.to_port, rule.ip_protocol) == (
                                entry.get("PrefixListId"), view.from_port, view.to_port, view.ip_protocol) \
                                and getattr(rule, "prefix_list_description", None):
                            entry["Description"] = rule.prefix_list_description
            return views

        def _sg_update_description(self: Any, security_rule: Any, rule: Any) -> None:
            update(self, security_rule, rule)
            if security_rule.prefix_list_id and security_rule.prefix_list_id == rule.prefix_list_id \
                    and getattr(security_rule, "prefix_list_description", None) is not None:
                rule.prefix_list_description = security_rule.prefix_list_description

        rule_cls.__init__ = __init__
        rule_cls.description = property(description)
        group_cls._flattened_rules = _flattened_rules
        backend_cls._sg_update_description = _sg_update_description
        _INSTALLED = True
