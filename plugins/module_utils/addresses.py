# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Address lists: a group's members as a customer-managed prefix list in a target scope. Pure.

With ``references: addresses`` a reference to a group that has no mirror in the
target VPC becomes a reference to that group's *address list*: a
customer-managed prefix list in the target scope whose entries are exactly the
/32 (IPv4) and /128 (IPv6) addresses of the group's members, kept exact by
every run (the "true-up" of the 2016 cross-region sync post).

The lists
---------
* A prefix list holds one address family (``AddressFamily`` is fixed at
  create), so a group has up to two lists per target scope: the IPv4 list
  (created whenever the group is referenced, even empty, so the rule exists and
  starts matching as soon as a member appears) and the IPv6 list (created only
  once a member has an IPv6 address; kept, possibly empty, afterwards).
* Both are tagged ``classiclinkmirror:addressesOf=<group ARN>`` (the group's
  ARN in the *group's* scope); the family is the list's own ``AddressFamily``.
  Tags, not names, say what a list is. The name
  (:func:`list_name`, for people: ``classiclinkmirror-addresses-sg-...-ACCOUNT-REGION-ipv4``,
  at most 255 characters, never starting with ``com.amazonaws``) is passed on
  every ModifyManagedPrefixList too (moto clears a name the call omits).
  Prefix lists have no description of their own; each entry's description
  names its member (:func:`entry_description`), set when the entry is added
  and never compared (an entry is its CIDR).
* Finding them: ``DescribeManagedPrefixLists`` documents only the filters
  ``owner-id``, ``prefix-list-id`` and ``prefix-list-name``; the AWS edge lists
  the scope's own lists (``owner-id``; at most 100 per region by default) and
  :func:`read_address_list` keeps those carrying the tag.

Members and their addresses (:func:`member_addresses`)
------------------------------------------------------
A member is any network interface carrying the group (instances, load
balancers, Lambda, endpoints...), as DescribeNetworkInterfaces returns it.

* ``private``: every private IPv4 address of the interface (primary and
  secondary) and every IPv6 address.
* ``public``: the public IPv4 addresses (the interface's ``Association.PublicIp``
  and each private address's ``Association.PublicIp``: auto-assigned or
  Elastic IPs) and every IPv6 address.
* IPv6 addresses belong to both kinds: AWS does not translate IPv6, a member's
  IPv6 address is the same seen from its own VPC, a peered VPC or the internet.
* With ``public``, members without a public IPv4 address are reported
  (:attr:`Members.without_public`), even when their IPv6 addresses are listed.

Keeping a list exact (:func:`plan_list`)
-----------------------------------------
EC2's rules (API reference, ModifyManagedPrefixList / CreateManagedPrefixList;
the botocore model agrees): at most 100 entries per ``Entries`` (create),
``AddEntries`` and ``RemoveEntries``; ``MaxEntries`` cannot be changed in the
same call as entries; a stale ``CurrentVersion`` fails the call; adding or
removing entries makes a new version, renaming does not; a list holds at most
1000 entries.

* Size: ``max_entries_for(n) = min(1000, max(10, ceil(1.5 * n) rounded up to a
  multiple of 10))``: half again as many as needed (members come and go
  without a resize), at least 10, in steps of 10. A list is grown (to
  ``max_entries_for(n)``) when ``n`` exceeds its size, never shrunk (a shrink
  saves quota but would churn on every scale-in). More than 1000 addresses is
  an error.
* Calls: ``create`` (first 100 entries) or ``resize`` first (a call of its own,
  ``MaxEntries`` only), then entry batches of at most 100 additions and 100
  removals each. Batch ``k`` expects ``CurrentVersion = base + k`` where
  ``base`` is the version in the answer of the call before the batches (create
  or resize) or, without one, the described version: each batch makes exactly
  one version, and the plan does not guess whether a resize makes one. Pairing
  additions with removals keeps every intermediate list within
  max(current, wanted) entries. A converged list: no call at all.
* Quota: a rule referencing a prefix list counts as the list's ``MaxEntries``
  rules against the group's quota (VPC user guide, prefix-list quotas):
  :func:`weighted_quota_count`.
* Pruning: lists tagged for groups no mirror references any more, and
  duplicates (two lists for one group and family, from overlapping runs: the
  lowest id is kept), are prune candidates (:func:`prune_candidates`), deleted
  only with ``prune`` and after the rules referencing them are revoked.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from ansible_collections.classiclink.mirror.plugins.module_utils.rules import CIDR_IP, CIDR_IPV6, PREFIX_LIST, Rule

ADDRESSES_OF_TAG = "classiclinkmirror:addressesOf"
NAME_PREFIX = "classiclinkmirror-addresses"
PRIVATE, PUBLIC = "private", "public"
ADDRESS_KINDS = (PRIVATE, PUBLIC)
IPV4, IPV6 = "IPv4", "IPv6"  # EC2's AddressFamily values
FAMILIES = (IPV4, IPV6)

MAX_LIST_ENTRIES = 1000  # entries of one customer-managed prefix list
MAX_ENTRIES_PER_CALL = 100  # Entries (create), AddEntries, RemoveEntries: each at most 100
MIN_MAX_ENTRIES = 10
MAX_ENTRIES_STEP = 10
NAME_MAX = 255
DESCRIPTION_MAX = 255
RESERVED_NAME_PREFIX = "com.amazonaws"

CREATE, MODIFY, DELETE, NONE = "create", "modify", "delete", "none"
# A list this run creates is referred to by a placeholder until the executor records its id
# (Outcome.ids[placeholder] = "pl-..."): rules of the plan name the placeholder.
LIST_PLACEHOLDER_PREFIX = "new-address-list-"


# -- names and tags ----------------------------------------------------------------


def list_name(group_id: str, account: str, region: str, family: str) -> str:
    """The list's name (for people; the tag is what identifies it)."""
    name = "%s-%s-%s-%s-%s" % (NAME_PREFIX, group_id, account, region, family.lower())
    return name[:NAME_MAX]


def list_tags(group_arn: str) -> Dict[str, str]:
    return {ADDRESSES_OF_TAG: group_arn}


def list_placeholder(group_arn: str, family: str) -> str:
    """The id rules use for a list this run creates (the executor records the real one)."""
    return "%s%s-of-%s" % (LIST_PLACEHOLDER_PREFIX, family.lower(), group_arn)


def is_list_placeholder(value: Optional[str]) -> bool:
    return bool(value) and str(value).startswith(LIST_PLACEHOLDER_PREFIX)


def group_of_arn(group_arn: str) -> Tuple[str, str, str]:
    """``arn:PARTITION:ec2:REGION:ACCOUNT:security-group/sg-...`` -> (group id, account, region)."""
    parts = group_arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("security-group/"):
        raise ValueError("not a security group ARN: %r" % group_arn)
    return parts[5][len("security-group/"):], parts[4], parts[3]


def entry_description(member: "Member") -> str:
    """An entry's description: the member it belongs to."""
    if member.instance_id:
        text = "%s (%s)" % (member.instance_id, member.interface_id)
    else:
        text = "%s %s" % (member.interface_type or "interface", member.interface_id)
    return text[:DESCRIPTION_MAX]


# -- members' addresses ---------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Member:
    """One network interface carrying the group."""

    interface_id: str
    instance_id: Optional[str] = None
    interface_type: Optional[str] = None

    @property
    def label(self) -> str:
        return self.instance_id or self.interface_id


@dataclass(frozen=True)
class Members:
    """A group's member addresses, per family, as /32 and /128 CIDRs."""

    ipv4: FrozenSet[str] = frozenset()
    ipv6: FrozenSet[str] = frozenset()
    members: Tuple[Member, ...] = ()  # sorted
    without_public: Tuple[Member, ...] = ()  # kind public: members with no public IPv4 address
    unreadable: Tuple[str, ...] = ()  # addresses EC2 returned that are not IP addresses
    owners: Mapping[str, Member] = field(default_factory=dict)  # cidr -> its member (entry descriptions)

    def cidrs(self, family: str) -> FrozenSet[str]:
        return self.ipv4 if family == IPV4 else self.ipv6


def host_cidr(address: str) -> str:
    """An address -> its /32 or /128 CIDR, canonical (IPv6 compressed, lower case)."""
    parsed = ipaddress.ip_address(address.strip())
    return "%s/%d" % (parsed.compressed, parsed.max_prefixlen)


def _member(interface: Mapping) -> Member:
    attachment = interface.get("Attachment") or {}
    return Member(interface.get("NetworkInterfaceId") or "", attachment.get("InstanceId"), interface.get("InterfaceType"))


def _public_ipv4(interface: Mapping) -> List[str]:
    found = []
    if (interface.get("Association") or {}).get("PublicIp"):
        found.append(interface["Association"]["PublicIp"])
    for private in interface.get("PrivateIpAddresses") or ():
        public = (private.get("Association") or {}).get("PublicIp")
        if public:
            found.append(public)
    return found


def _private_ipv4(interface: Mapping) -> List[str]:
    found = [private.get("PrivateIpAddress") for private in interface.get("PrivateIpAddresses") or ()]
    found.append(interface.get("PrivateIpAddress"))
    return [address for address in found if address]


def member_addresses(interfaces: Iterable[Mapping], group_id: str, kind: str = PRIVATE) -> Members:
    """The addresses of ``group_id``'s members among ``interfaces`` (DescribeNetworkInterfaces
    items; interfaces not carrying the group are ignored) for ``address_kind`` ``kind``."""
    if kind not in ADDRESS_KINDS:
        raise ValueError("address_kind must be one of %s, not %r" % (", ".join(ADDRESS_KINDS), kind))
    ipv4: Set[str] = set()
    ipv6: Set[str] = set()
    owners: Dict[str, Member] = {}
    members = []
    without_public = []
    unreadable = []
    for interface in interfaces:
        if group_id not in [group.get("GroupId") for group in interface.get("Groups") or ()]:
            continue
        member = _member(interface)
        members.append(member)
        v4 = _private_ipv4(interface) if kind == PRIVATE else _public_ipv4(interface)
        v6 = [entry.get("Ipv6Address") for entry in interface.get("Ipv6Addresses") or () if entry.get("Ipv6Address")]
        if kind == PUBLIC and not v4:
            without_public.append(member)
        for address in v4 + v6:
            try:
                cidr = host_cidr(address)
            except ValueError:
                unreadable.append(address)
                continue
            (ipv4 if ":" not in cidr else ipv6).add(cidr)
            owners.setdefault(cidr, member)
    return Members(frozenset(ipv4), frozenset(ipv6), tuple(sorted(set(members))), tuple(sorted(set(without_public))),
                   tuple(unreadable), owners)


def entries_to_add(cidrs: Iterable[str], members: Members) -> List[Dict[str, str]]:
    """EC2's AddPrefixListEntry shape for ``cidrs``, each described by its member."""
    found = []
    for cidr in cidrs:
        member = members.owners.get(cidr)
        found.append({"Cidr": cidr, "Description": entry_description(member)} if member else {"Cidr": cidr})
    return found


# -- the lists as described --------------------------------------------------------------


@dataclass(frozen=True)
class AddressList:
    """A prefix list carrying the addressesOf tag, as described (entries: its CIDRs)."""

    id: str
    group_arn: str
    family: str
    version: int
    max_entries: int
    entries: FrozenSet[str] = frozenset()
    name: Optional[str] = None


def read_address_list(description: Mapping, entries: Optional[Iterable[Mapping]] = None,
                      group_arn: Optional[str] = None) -> Optional[AddressList]:
    """A DescribeManagedPrefixLists item (+ its GetManagedPrefixListEntries entries) -> AddressList,
    or None when the list is not one of ours (no addressesOf tag) or is being deleted.
    ``group_arn``: read a list known by id whose tag may not show yet (consistency lag)."""
    tags = dict((tag.get("Key"), tag.get("Value")) for tag in description.get("Tags") or ())
    group = tags.get(ADDRESSES_OF_TAG) or group_arn
    if not group or str(description.get("State", "")).startswith("delete"):
        return None
    cidrs = set()
    for entry in entries or ():
        try:
            network = ipaddress.ip_network(entry["Cidr"], strict=False)
        except (KeyError, ValueError):
            continue
        cidrs.add("%s/%d" % (network.network_address.compressed, network.prefixlen))
    return AddressList(
        id=description["PrefixListId"],
        group_arn=group,
        family=description.get("AddressFamily") or IPV4,
        version=int(description.get("Version") or 0),
        max_entries=int(description.get("MaxEntries") or 0),
        entries=frozenset(cidrs),
        name=description.get("PrefixListName"),
    )


def index_lists(lists: Iterable[AddressList]) -> Tuple[Dict[Tuple[str, str], AddressList], Tuple[AddressList, ...]]:
    """({(group ARN, family): the list kept}, duplicates). The lowest id is kept."""
    kept: Dict[Tuple[str, str], AddressList] = {}
    duplicates = []
    for address_list in sorted(lists, key=lambda item: item.id):
        key = (address_list.group_arn, address_list.family)
        if key in kept:
            duplicates.append(address_list)
        else:
            kept[key] = address_list
    return kept, tuple(duplicates)


# -- planning one list -------------------------------------------------------------------


def max_entries_for(count: int) -> int:
    """The size for ``count`` entries: ceil(1.5 * count) rounded up to a multiple of 10, at least 10,
    at most 1000 (the caller refuses more than 1000 entries)."""
    headroom = -(-3 * count // 2)  # ceil(1.5 * count) in integers
    stepped = -(-headroom // MAX_ENTRIES_STEP) * MAX_ENTRIES_STEP
    return min(MAX_LIST_ENTRIES, max(MIN_MAX_ENTRIES, stepped))


@dataclass(frozen=True)
class EntryBatch:
    """One ModifyManagedPrefixList call changing entries (at most 100 additions and 100 removals)."""

    add: Tuple[str, ...] = ()
    remove: Tuple[str, ...] = ()
    offset: int = 0  # CurrentVersion = base + offset (see ListPlan)

    def current_version(self, base: int) -> int:
        return base + self.offset


@dataclass(frozen=True)
class ListPlan:
    """What to do to one address list (one group, one family, one target scope).

    Calls, in order: CreateManagedPrefixList with ``create_entries`` (action
    ``create``) or ModifyManagedPrefixList with ``MaxEntries=resize_to`` alone
    (when set); then each of ``batches``. ``base`` for the batches is the
    ``Version`` in the answer of the call before them (create or resize), else
    ``version`` (as described)."""

    action: str  # create | modify | none
    family: str
    name: str
    max_entries: int  # the size after the plan: what a reference weighs in the quota
    prefix_list_id: Optional[str] = None  # None for a create
    version: Optional[int] = None  # described version (None for a create)
    create_entries: Tuple[str, ...] = ()
    resize_to: Optional[int] = None
    batches: Tuple[EntryBatch, ...] = ()
    add: Tuple[str, ...] = ()  # all additions, sorted (for --diff and results)
    remove: Tuple[str, ...] = ()  # all removals, sorted
    error: Optional[str] = None
    wanted: Tuple[str, ...] = ()  # the entries the list must end with (re-planned from after a conflict)
    group_arn: Optional[str] = None  # whose members the list holds (its addressesOf tag)
    descriptions: Tuple[Tuple[str, str], ...] = ()  # (cidr, entry description) of the additions
    reason: Optional[str] = None  # action delete: unused | duplicate

    @property
    def changed(self) -> bool:
        return self.action != NONE

    @property
    def calls(self) -> int:
        """API calls the plan makes (create or resize, and the batches; or the delete)."""
        return int(self.action in (CREATE, DELETE)) + int(self.resize_to is not None) + len(self.batches)

    @property
    def placeholder(self) -> Optional[str]:
        """The id rules use for the list before it exists (a create of a known group), else None."""
        return list_placeholder(self.group_arn, self.family) if self.action == CREATE and self.group_arn else None

    @property
    def key(self) -> str:
        """The item of the executor's Outcome: the list id, or the placeholder of a list to create."""
        return self.prefix_list_id or self.placeholder or self.name

    def entries(self, cidrs: Iterable[str]) -> List[Dict[str, str]]:
        """EC2's AddPrefixListEntry shape for ``cidrs``, with the descriptions the plan knows."""
        known = dict(self.descriptions)
        return [{"Cidr": cidr, "Description": known[cidr]} if known.get(cidr) else {"Cidr": cidr} for cidr in cidrs]


def _chunks(items: Sequence[str], size: int = MAX_ENTRIES_PER_CALL) -> List[Tuple[str, ...]]:
    return [tuple(items[index:index + size]) for index in range(0, len(items), size)]


def _sort_key(cidr: str):
    network = ipaddress.ip_network(cidr, strict=False)
    return (network.version, int(network.network_address), network.prefixlen)


def _batches(add: Sequence[str], remove: Sequence[str]) -> Tuple[EntryBatch, ...]:
    adds, removes = _chunks(add), _chunks(remove)
    count = max(len(adds), len(removes))
    return tuple(
        EntryBatch(adds[index] if index < len(adds) else (), removes[index] if index < len(removes) else (), index)
        for index in range(count)
    )


def plan_list(wanted: Iterable[str], current: Optional[AddressList], name: str, family: str = IPV4) -> ListPlan:
    """The calls that make a list's entries exactly ``wanted`` (CIDRs of one family)."""
    wanted_sorted = sorted(set(wanted), key=_sort_key)
    count = len(wanted_sorted)
    if count > MAX_LIST_ENTRIES:
        return ListPlan(NONE, family, name, current.max_entries if current else 0, current.id if current else None,
                        current.version if current else None,
                        error="%d %s addresses: a prefix list holds at most %d entries" % (count, family, MAX_LIST_ENTRIES))
    if current is None:
        size = max_entries_for(count)
        first, rest = wanted_sorted[:MAX_ENTRIES_PER_CALL], wanted_sorted[MAX_ENTRIES_PER_CALL:]
        return ListPlan(CREATE, family, name, size, create_entries=tuple(first), batches=_batches(rest, ()),
                        add=tuple(wanted_sorted), wanted=tuple(wanted_sorted))
    add = [cidr for cidr in wanted_sorted if cidr not in current.entries]
    remove = sorted(current.entries - set(wanted_sorted), key=_sort_key)
    resize_to = max_entries_for(count) if count > current.max_entries else None
    size = resize_to or current.max_entries
    if not add and not remove and resize_to is None:
        return ListPlan(NONE, family, name, size, current.id, current.version, wanted=tuple(wanted_sorted))
    return ListPlan(MODIFY, family, name, size, current.id, current.version, resize_to=resize_to,
                    batches=_batches(add, remove), add=tuple(add), remove=tuple(remove), wanted=tuple(wanted_sorted))


def plan_group_lists(members: Members, group_arn: str, group_id: str, account: str, region: str,
                     current: Mapping[Tuple[str, str], AddressList]) -> Tuple[ListPlan, ...]:
    """Both families of one group's lists in one target scope: IPv4 always, IPv6 when a member
    has an IPv6 address or the list exists. ``current`` as :func:`index_lists` keys it."""
    plans = []
    for family in FAMILIES:
        existing = current.get((group_arn, family))
        cidrs = members.cidrs(family)
        if family == IPV6 and existing is None and not cidrs:
            continue
        plan = plan_list(cidrs, existing, list_name(group_id, account, region, family), family)
        descriptions = tuple((cidr, entry_description(members.owners[cidr])) for cidr in plan.add if cidr in members.owners)
        plans.append(replace(plan, group_arn=group_arn, descriptions=descriptions))
    return tuple(plans)


def plan_scope_lists(wanted: Mapping[str, Members], current: Iterable[AddressList], prune: bool = False,
                     referenced_ids: Iterable[str] = ()) -> Tuple[ListPlan, ...]:
    """Every list of one target scope: ``wanted`` maps each group ARN whose address list some
    rule of the scope refers to -> its members (:func:`member_addresses`); ``current`` is every
    list of the scope (:func:`index_lists` picks the kept one per group and family). Lists no
    group wants any more, and duplicates, become ``delete`` plans with ``prune`` (the caller
    runs them after revoking the rules that refer to them: ``referenced_ids``, see
    :func:`prune_candidates`, are left out). Names use the group's own id, account and region."""
    current = list(current)
    kept, _duplicates = index_lists(current)
    plans: List[ListPlan] = []
    for group_arn in sorted(wanted):
        group_id, account, region = group_of_arn(group_arn)
        plans.extend(plan_group_lists(wanted[group_arn], group_arn, group_id, account, region, kept))
    if prune:
        referenced = set(referenced_ids)
        plans.extend(delete_plan(candidate.address_list, candidate.reason)
                     for candidate in prune_candidates(current, wanted, referenced) if not candidate.referenced)
    return tuple(plans)


def delete_plan(address_list: AddressList, reason: str = "unused") -> ListPlan:
    """Delete an address list (prune)."""
    return ListPlan(DELETE, address_list.family, address_list.name or address_list.id, address_list.max_entries,
                    address_list.id, address_list.version, group_arn=address_list.group_arn, reason=reason)


# -- the quota -------------------------------------------------------------------------------


def reference_weight(max_entries: int) -> int:
    """Rules a reference to a prefix list counts as: its MaxEntries (VPC user guide, prefix-list quotas)."""
    return max(1, int(max_entries))


def weighted_quota_count(rules: Iterable[Rule], list_sizes: Mapping[str, int]) -> int:
    """``rules.quota_count`` with a reference to a prefix list in ``list_sizes`` (id -> MaxEntries,
    planned ids included) counting as that many rules; other prefix lists count 1 as before."""
    ipv4 = ipv6 = 0
    for rule in rules:
        weight = reference_weight(list_sizes[rule.target]) if rule.kind == PREFIX_LIST and rule.target in list_sizes else 1
        if rule.kind != CIDR_IPV6:
            ipv4 += weight
        if rule.kind != CIDR_IP:
            ipv6 += weight
    return max(ipv4, ipv6)


# -- pruning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneCandidate:
    address_list: AddressList
    reason: str  # unused | duplicate
    referenced: bool = False  # a rule still refers to it: delete only after that rule is revoked


UNUSED, DUPLICATE = "unused", "duplicate"


def prune_candidates(lists: Iterable[AddressList], wanted_groups: Iterable[str],
                     referenced_ids: Iterable[str] = ()) -> Tuple[PruneCandidate, ...]:
    """Lists of one scope that no mirror needs: their group (ARN) is not in ``wanted_groups``
    (the groups some planned rule of the scope refers to by address list; a wanted group keeps
    both families), or they duplicate the kept list of their group and family.
    ``referenced_ids``: list ids current rules refer to (see :attr:`PruneCandidate.referenced`)."""
    kept, duplicates = index_lists(lists)
    wanted = set(wanted_groups)
    referenced = set(referenced_ids)
    candidates = [PruneCandidate(item, UNUSED, item.id in referenced)
                  for item in sorted(kept.values(), key=lambda kept_list: kept_list.id) if item.group_arn not in wanted]
    candidates.extend(PruneCandidate(item, DUPLICATE, item.id in referenced) for item in duplicates)
    return tuple(candidates)
