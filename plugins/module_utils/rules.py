# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The canonical security group rule, used on both sides of every comparison.

EC2 describes permissions as nested ``IpPermissions`` (one protocol/port range
with several targets, each with its own description). Comparing that shape
directly is what made the rule-diffing bugs of older modules: descriptions
compared as identity, ``6`` vs ``tcp``, ``10.0.0.5/8`` vs ``10.0.0.0/8``. Here
every permission is flattened into one :class:`Rule` per target, normalised
once, and descriptions live beside the rule (a ``RuleSet`` maps rule ->
description), never inside its identity. Nothing here calls AWS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

INGRESS = "ingress"
EGRESS = "egress"
DIRECTIONS = (INGRESS, EGRESS)

ALL_PROTOCOLS = "-1"
# Protocol numbers EC2 also accepts by name; the name is the canonical form.
PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
PORTED_PROTOCOLS = ("tcp", "udp")
TYPED_PROTOCOLS = ("icmp", "icmpv6")

CIDR_IP = "cidr_ip"
CIDR_IPV6 = "cidr_ipv6"
PREFIX_LIST = "prefix_list_id"
GROUP = "group_id"
TARGET_KINDS = (CIDR_IP, CIDR_IPV6, PREFIX_LIST, GROUP)

# Rules per group and direction, AWS's default quota. It is counted per
# address family: a group or prefix-list reference counts for both.
DEFAULT_RULES_QUOTA = 60


class RuleError(ValueError):
    """A rule that cannot be put into canonical form."""


@dataclass(frozen=True)
class Rule:
    """One permission for one target: the unit of comparison."""

    direction: str
    protocol: str
    from_port: Optional[int]
    to_port: Optional[int]
    kind: str
    target: str
    user_id: Optional[str] = None  # owner of a referenced group

    def sort_key(self) -> Tuple:
        return (
            self.direction,
            self.protocol,
            -2 if self.from_port is None else self.from_port,
            -2 if self.to_port is None else self.to_port,
            self.kind,
            self.target,
            self.user_id or "",
        )

    def with_target(self, target: str, user_id: Optional[str]) -> "Rule":
        return Rule(self.direction, self.protocol, self.from_port, self.to_port, GROUP, target, user_id)


# rule -> description (None when the rule has none)
RuleSet = Dict[Rule, Optional[str]]


def normalise_protocol(protocol) -> str:
    """``6``/``TCP``/``tcp`` -> ``tcp``; ``all``/``-1``/``-1`` -> ``-1``; other numbers stay numbers."""
    text = str(protocol).strip().lower()
    if text in ("-1", "all"):
        return ALL_PROTOCOLS
    if text in PROTOCOL_NAMES:
        return PROTOCOL_NAMES[text]
    if text in PROTOCOL_NAMES.values():
        return text
    if text.isdigit() and 0 <= int(text) <= 255:
        return str(int(text))
    raise RuleError("unknown IP protocol %r: use tcp, udp, icmp, icmpv6, all/-1 or a protocol number 0-255" % (protocol,))


def normalise_ports(protocol: str, from_port, to_port) -> Tuple[Optional[int], Optional[int]]:
    """Ports only mean something for tcp/udp (port range) and icmp/icmpv6 (type/code)."""
    if protocol not in PORTED_PROTOCOLS + TYPED_PROTOCOLS:
        return None, None
    if from_port is None and to_port is None:
        if protocol in TYPED_PROTOCOLS:
            return -1, -1
        raise RuleError("protocol %s needs from_port and to_port" % protocol)
    low = int(from_port if from_port is not None else to_port)
    high = int(to_port if to_port is not None else from_port)
    if protocol in PORTED_PROTOCOLS:
        if not (0 <= low <= high <= 65535):
            raise RuleError("invalid %s port range %s-%s" % (protocol, low, high))
    elif not (-1 <= low <= 255 and -1 <= high <= 255):
        raise RuleError("invalid %s type/code %s/%s" % (protocol, low, high))
    return low, high


def normalise_cidr(value: str, version: int) -> str:
    """Canonical network form: host bits cleared, IPv6 compressed and lower case."""
    try:
        network = ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise RuleError("%r is not a valid CIDR block" % (value,))
    if network.version != version:
        raise RuleError("%r is not an IPv%d CIDR block" % (value, version))
    return str(network)


def _description(entry: Mapping) -> Optional[str]:
    return entry.get("Description") or None


def flatten(permissions: Iterable[Mapping], direction: str, owner_id: Optional[str] = None) -> RuleSet:
    """Boto3 ``IpPermissions`` -> RuleSet. ``owner_id`` fills in a group pair's missing UserId."""
    rules: RuleSet = {}
    for perm in permissions or ():
        protocol = normalise_protocol(perm.get("IpProtocol", ALL_PROTOCOLS))
        low, high = normalise_ports(protocol, perm.get("FromPort"), perm.get("ToPort"))

        def add(kind, target, entry, user_id=None):
            rules[Rule(direction, protocol, low, high, kind, target, user_id)] = _description(entry)

        for entry in perm.get("IpRanges") or ():
            add(CIDR_IP, normalise_cidr(entry["CidrIp"], 4), entry)
        for entry in perm.get("Ipv6Ranges") or ():
            add(CIDR_IPV6, normalise_cidr(entry["CidrIpv6"], 6), entry)
        for entry in perm.get("PrefixListIds") or ():
            add(PREFIX_LIST, entry["PrefixListId"].strip().lower(), entry)
        for entry in perm.get("UserIdGroupPairs") or ():
            add(GROUP, entry["GroupId"], entry, entry.get("UserId") or owner_id)
    return rules


def regroup(rules: Mapping[Rule, Optional[str]], owner_id: Optional[str] = None) -> List[dict]:
    """RuleSet -> the fewest boto3 ``IpPermissions``: one per protocol and port range.

    A group pair's UserId is sent only when it differs from ``owner_id`` (a
    reference to another account's group).
    """
    permissions: Dict[Tuple, dict] = {}
    for rule in sorted(rules, key=Rule.sort_key):
        key = (rule.protocol, rule.from_port, rule.to_port)
        perm = permissions.get(key)
        if perm is None:
            perm = {"IpProtocol": rule.protocol}
            if rule.from_port is not None:
                perm["FromPort"] = rule.from_port
                perm["ToPort"] = rule.to_port
            permissions[key] = perm
        entry: dict
        if rule.kind == CIDR_IP:
            entry, field = {"CidrIp": rule.target}, "IpRanges"
        elif rule.kind == CIDR_IPV6:
            entry, field = {"CidrIpv6": rule.target}, "Ipv6Ranges"
        elif rule.kind == PREFIX_LIST:
            entry, field = {"PrefixListId": rule.target}, "PrefixListIds"
        else:
            entry, field = {"GroupId": rule.target}, "UserIdGroupPairs"
            if rule.user_id and rule.user_id != owner_id:
                entry["UserId"] = rule.user_id
        if rules[rule]:
            entry["Description"] = rules[rule]
        perm.setdefault(field, []).append(entry)
    return list(permissions.values())


def in_direction(rules: Mapping[Rule, Optional[str]], direction: str) -> RuleSet:
    return {rule: desc for rule, desc in rules.items() if rule.direction == direction}


@dataclass(frozen=True)
class RuleDiff:
    """What one direction of one group needs: the executor's and the report's input."""

    authorize: RuleSet
    revoke: RuleSet
    update: RuleSet  # rule -> new description
    revoke_first: bool = False

    @property
    def empty(self) -> bool:
        return not (self.authorize or self.revoke or self.update)


def diff_rules(
    desired: Mapping[Rule, Optional[str]],
    current: Mapping[Rule, Optional[str]],
    keep: Callable[[Rule], bool] = lambda rule: False,
) -> RuleDiff:
    """Desired over current. ``keep(rule)`` marks current rules never to revoke."""
    authorize = {rule: desc for rule, desc in desired.items() if rule not in current}
    revoke = {rule: desc for rule, desc in current.items() if rule not in desired and not keep(rule)}
    update = {rule: desc for rule, desc in desired.items() if rule in current and current[rule] != desc}
    return RuleDiff(authorize, revoke, update)


def apply_diff(current: Mapping[Rule, Optional[str]], diff: RuleDiff) -> RuleSet:
    """What a group holds after the diff is applied (the planner's 'after')."""
    after = {rule: desc for rule, desc in current.items() if rule not in diff.revoke}
    after.update(diff.authorize)
    after.update(diff.update)
    return after


def quota_count(rules: Iterable[Rule]) -> int:
    """Rules counted the way EC2 counts them against the per-group quota."""
    ipv4 = ipv6 = 0
    for rule in rules:
        if rule.kind != CIDR_IPV6:
            ipv4 += 1
        if rule.kind != CIDR_IP:
            ipv6 += 1
    return max(ipv4, ipv6)


def describe_rule(rule: Rule, description: Optional[str] = None) -> dict:
    """A rule as the modules return it."""
    result = {"direction": rule.direction, "protocol": rule.protocol}
    if rule.from_port is not None:
        result["from_port"] = rule.from_port
        result["to_port"] = rule.to_port
    result[rule.kind] = rule.target
    if rule.kind == GROUP and rule.user_id:
        result["user_id"] = rule.user_id
    if description:
        result["description"] = description
    return result


def rule_text(rule: Rule, description: Optional[str] = None, names: Optional[Mapping[str, str]] = None) -> str:
    """One line a person reads in ``--diff``: ``tcp 22-22 10.0.0.0/8 "ssh"``; a group named by ``names``
    reads ``tcp 80-80 web (sg-...)``."""
    if rule.protocol == ALL_PROTOCOLS:
        ports = "all"
    elif rule.from_port is None:
        ports = "proto %s" % rule.protocol
    else:
        ports = "%s %s-%s" % (rule.protocol, rule.from_port, rule.to_port)
    target = rule.target
    if rule.kind == GROUP and names and names.get(rule.target):
        target = "%s (%s)" % (names[rule.target], rule.target)
    text = "%s %s" % (ports, target)
    if description:
        text += ' "%s"' % description
    return text


def rule_lines(rules: Mapping[Rule, Optional[str]], direction: str, names: Optional[Mapping[str, str]] = None) -> List[str]:
    chosen = sorted(in_direction(rules, direction), key=Rule.sort_key)
    return [rule_text(rule, rules[rule], names) for rule in chosen]
