# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Guardrails: rule patterns that a migration does not carry into the target VPC. Pure.

A pattern names a protocol, a port range and a network; an ingress rule of a
source matches when it lets all of that traffic in from part of that network:
its protocol is the pattern's or ``all``, its port range covers the pattern's
(tcp and udp), and its CIDR overlaps the pattern's network (so ``0.0.0.0/0``
catches every IPv4 range, and a ``/32`` inside ``203.0.113.0/24`` matches that
pattern). So "tcp 22 from 0.0.0.0/0" catches an all-traffic rule from
192.0.2.0/24, and "all from 0.0.0.0/0" catches all-traffic rules only, not a
web server's tcp 443. Group and prefix-list references are
never matched. Egress rules are not matched either: every VPC group allows all
egress by default.

``withhold`` keeps the rule out of the mirror (and revokes it there); ``fail``
fails the pair before any change.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    ALL_PROTOCOLS,
    CIDR_IP,
    CIDR_IPV6,
    INGRESS,
    PORTED_PROTOCOLS,
    Rule,
    RuleError,
    normalise_protocol,
)

WITHHOLD = "withhold"
FAIL = "fail"
ACTIONS = (WITHHOLD, FAIL)
GUARDRAIL = "guardrail"  # the reason code of a withheld rule


@dataclass(frozen=True)
class Guardrail:
    protocol: str  # canonical (rules.normalise_protocol)
    from_port: int
    to_port: int
    network: str  # canonical CIDR
    action: str = WITHHOLD

    def describe(self) -> dict:
        """The pattern as the user wrote it, in canonical form (results and messages)."""
        ports = "%d" % self.from_port if self.from_port == self.to_port else "%d-%d" % (self.from_port, self.to_port)
        return {"protocol": "all" if self.protocol == ALL_PROTOCOLS else self.protocol, "ports": ports,
                "cidr": self.network, "action": self.action}

    def text(self) -> str:
        pattern = self.describe()
        return "%s %s from %s" % (pattern["protocol"], pattern["ports"], pattern["cidr"])

    def matches(self, rule: Rule) -> bool:
        if rule.direction != INGRESS or rule.kind not in (CIDR_IP, CIDR_IPV6):
            return False
        if rule.protocol != ALL_PROTOCOLS:
            if rule.protocol != self.protocol:
                return False  # covers neither all protocols nor the pattern's
            if rule.protocol in PORTED_PROTOCOLS and not rule.from_port <= self.from_port <= self.to_port <= rule.to_port:
                return False
        network = ipaddress.ip_network(rule.target)
        pattern = ipaddress.ip_network(self.network)
        return network.version == pattern.version and network.overlaps(pattern)


def parse_guardrails(entries: Optional[Iterable[Mapping]]) -> Tuple[Tuple[Guardrail, ...], List[str]]:
    """Option entries -> (guardrails, errors); each error names its entry and says what is accepted."""
    guardrails: List[Guardrail] = []
    errors: List[str] = []
    for index, entry in enumerate(entries or ()):
        where = "guardrails[%d]" % index
        try:
            guardrails.append(_parse_one(entry))
        except RuleError as exc:
            errors.append("%s (%s): %s" % (where, dict(entry or {}), exc))
    return tuple(guardrails), errors


def _parse_one(entry: Mapping) -> Guardrail:
    if not isinstance(entry, Mapping):
        raise RuleError("an entry is a dict with protocol, ports, cidr and action")
    unknown = sorted(set(entry) - {"protocol", "ports", "cidr", "action"})
    if unknown:
        raise RuleError("unknown key(s) %s; the keys are protocol, ports, cidr and action" % ", ".join(unknown))
    protocol = normalise_protocol(entry.get("protocol") if entry.get("protocol") is not None else "all")
    low, high = _ports(entry.get("ports"))
    if entry.get("cidr") in (None, ""):
        raise RuleError("cidr is required: an IPv4 or IPv6 network such as 0.0.0.0/0 or ::/0")
    try:
        network = str(ipaddress.ip_network(str(entry["cidr"]).strip(), strict=False))
    except ValueError:
        raise RuleError("cidr %r is not an IPv4 or IPv6 network (such as 0.0.0.0/0 or ::/0)" % (entry["cidr"],))
    action = entry.get("action") or WITHHOLD
    if action not in ACTIONS:
        raise RuleError("action %r is not one of %s" % (action, ", ".join(ACTIONS)))
    return Guardrail(protocol, low, high, network, action)


def _ports(value) -> Tuple[int, int]:
    if value is None or str(value).strip() == "":
        return 0, 65535
    text = str(value).strip()
    low_text, _sep, high_text = text.partition("-")
    try:
        low, high = int(low_text), int(high_text or low_text)
    except ValueError:
        raise RuleError("ports %r is not a port or a range such as \"22\" or \"1024-65535\"" % (value,))
    if not 0 <= low <= high <= 65535:
        raise RuleError("ports %r is not within 0-65535 with the low port first" % (value,))
    return low, high


def first_match(guardrails: Sequence[Guardrail], rule: Rule) -> Optional[Guardrail]:
    return next((guardrail for guardrail in guardrails if guardrail.matches(rule)), None)
