# -*- coding: utf-8 -*-
"""Guardrails (guardrails.py and the planner): what a migration leaves behind."""

from __future__ import annotations

import pytest

from ansible_collections.classiclink.mirror.plugins.module_utils.guardrails import parse_guardrails
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import CIDR_IP, CIDR_IPV6, INGRESS, Rule

from .builders import ALLOW_ALL_EGRESS, TO, cidr, cidr6, mirror, only_pair, plan, ref, rules, snapshot, source

ANYWHERE_SSH = {"protocol": "tcp", "ports": "22", "cidr": "0.0.0.0/0"}


def guardrails(*entries):
    parsed, errors = parse_guardrails(entries)
    assert errors == []
    return parsed


def matches(entry, rule):
    [guardrail] = guardrails(entry)
    return guardrail.matches(rule)


@pytest.mark.parametrize("rule, expected", [
    (cidr(22, "0.0.0.0/0"), True),
    (cidr(22, "10.0.0.0/8"), True),  # overlaps 0.0.0.0/0
    (Rule(INGRESS, "tcp", 23, 30, CIDR_IP, "0.0.0.0/0"), False),  # does not let ssh in
    (cidr(80, "0.0.0.0/0"), False),  # other port
    (Rule(INGRESS, "tcp", 20, 30, CIDR_IP, "0.0.0.0/0"), True),  # range covering 22
    (Rule(INGRESS, "-1", None, None, CIDR_IP, "192.0.2.0/24"), True),  # all traffic includes ssh
    (Rule(INGRESS, "udp", 22, 22, CIDR_IP, "0.0.0.0/0"), False),  # other protocol
    (cidr6(22, "::/0"), False),  # other address family
    (ref(22, "sg-a0000009"), False),  # group references are never matched
    (ALLOW_ALL_EGRESS, False),  # egress is never matched
])
def test_what_an_ssh_from_anywhere_pattern_catches(rule, expected):
    assert matches(ANYWHERE_SSH, rule) is expected


def test_cidr_overlap_works_both_ways_and_for_ipv6():
    narrow = {"protocol": "tcp", "ports": "22", "cidr": "203.0.113.0/24"}
    assert matches(narrow, cidr(22, "203.0.113.7/32")) and matches(narrow, cidr(22, "0.0.0.0/0"))
    assert not matches(narrow, cidr(22, "198.51.100.0/24"))
    assert matches({"protocol": "all", "cidr": "::/0"}, Rule(INGRESS, "-1", None, None, CIDR_IPV6, "2001:db8::/32"))


def test_an_all_traffic_pattern_catches_all_traffic_rules_only():
    anything = {"protocol": "all", "cidr": "0.0.0.0/0"}
    assert matches(anything, Rule(INGRESS, "-1", None, None, CIDR_IP, "0.0.0.0/0"))
    assert not matches(anything, cidr(443, "0.0.0.0/0"))
    every_tcp_port = {"protocol": "tcp", "ports": "0-65535", "cidr": "0.0.0.0/0"}
    assert matches(every_tcp_port, Rule(INGRESS, "tcp", 0, 65535, CIDR_IP, "0.0.0.0/0")) and not matches(every_tcp_port, cidr(443, "0.0.0.0/0"))


@pytest.mark.parametrize("entry, words", [
    ({"protocol": "tcpp", "cidr": "0.0.0.0/0"}, "unknown IP protocol"),
    ({"protocol": "tcp", "ports": "22-21", "cidr": "0.0.0.0/0"}, "within 0-65535"),
    ({"protocol": "tcp", "ports": "ssh", "cidr": "0.0.0.0/0"}, "not a port"),
    ({"protocol": "tcp", "ports": "22", "cidr": "0.0.0.0/33"}, "not an IPv4 or IPv6 network"),
    ({"protocol": "tcp", "ports": "22"}, "cidr is required"),
    ({"cidr": "0.0.0.0/0", "action": "drop"}, "not one of withhold, fail"),
    ({"cidr": "0.0.0.0/0", "port": "22"}, "unknown key(s) port"),
])
def test_bad_patterns_are_named_with_what_is_accepted(entry, words):
    parsed, errors = parse_guardrails([ANYWHERE_SSH, entry])
    assert len(parsed) == 1 and len(errors) == 1
    assert errors[0].startswith("guardrails[1]") and words in errors[0]


def test_a_withheld_rule_is_not_mirrored_and_reported():
    src = source("sg-a0000001", "web", rules=rules(cidr(22, "0.0.0.0/0"), cidr(443, "0.0.0.0/0")))
    pair = only_pair(plan(snapshot(src), src.id, guardrails=guardrails(ANYWHERE_SSH)))
    added = pair.rules[INGRESS].authorize
    assert cidr(443, "0.0.0.0/0") in added and cidr(22, "0.0.0.0/0") not in added
    [withheld] = pair.withheld_rules
    assert withheld["from_port"] == 22 and withheld["code"] == "guardrail" and withheld["pattern"]["action"] == "withhold"


def test_a_withheld_rule_added_to_the_mirror_by_hand_is_revoked_even_without_purge():
    src = source("sg-a0000001", "web", rules=rules(cidr(443, "0.0.0.0/0")), tags={TO: "sg-b0000001"})
    found = mirror("sg-b0000001", src, rules=rules(cidr(443, "0.0.0.0/0"), cidr(22, "0.0.0.0/0"), cidr(80, "10.0.0.0/8"), ALLOW_ALL_EGRESS))
    pair = only_pair(plan(snapshot(src, found), src.id, guardrails=guardrails(ANYWHERE_SSH), purge_rules=False))
    assert set(pair.rules[INGRESS].revoke) == {cidr(22, "0.0.0.0/0")}


def test_a_source_that_keeps_a_withheld_rule_is_in_sync():
    src = source("sg-a0000001", "web", rules=rules(cidr(22, "0.0.0.0/0"), cidr(443, "0.0.0.0/0")), tags={TO: "sg-b0000001"})
    found = mirror("sg-b0000001", src, rules=rules(cidr(443, "0.0.0.0/0"), ALLOW_ALL_EGRESS))
    result = plan(snapshot(src, found), src.id, guardrails=guardrails(ANYWHERE_SSH))
    assert not result.changed and len(only_pair(result).withheld_rules) == 1


def test_a_fail_guardrail_fails_the_pair_before_any_change_and_names_the_rule():
    src = source("sg-a0000001", "web", rules=rules(cidr(3389, "0.0.0.0/0"), cidr(443, "0.0.0.0/0")))
    ok = source("sg-a0000002", "ok", rules=rules(cidr(443, "0.0.0.0/0")))
    rdp = {"protocol": "tcp", "ports": "3389", "cidr": "0.0.0.0/0", "action": "fail"}
    result = plan(snapshot(src, ok), src.id, ok.id, guardrails=guardrails(rdp))
    bad = [p for p in result.pairs if p.source_id == src.id][0]
    good = [p for p in result.pairs if p.source_id == ok.id][0]
    assert bad.code == "guardrail" and "3389" in bad.error and "0.0.0.0/0" in bad.error and not bad.changed
    assert good.error is None and good.changed


def test_a_rule_that_stops_violating_is_mirrored_again():
    src = source("sg-a0000001", "web", rules=rules(cidr(22, "203.0.113.0/24")), tags={TO: "sg-b0000001"})
    found = mirror("sg-b0000001", src, rules=rules(ALLOW_ALL_EGRESS))
    pair = only_pair(plan(snapshot(src, found), src.id, guardrails=guardrails(ANYWHERE_SSH)))
    assert pair.withheld_rules  # 203.0.113.0/24 overlaps 0.0.0.0/0: still withheld
    narrow = guardrails({"protocol": "tcp", "ports": "22", "cidr": "198.51.100.0/24"})
    pair = only_pair(plan(snapshot(src, found), src.id, guardrails=narrow))
    assert pair.withheld_rules == () and cidr(22, "203.0.113.0/24") in pair.rules[INGRESS].authorize
