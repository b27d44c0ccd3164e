# -*- coding: utf-8 -*-
"""rules.py: canonical form, flatten/regroup, diff and quota counting."""

from __future__ import annotations

import pytest

from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    CIDR_IP,
    CIDR_IPV6,
    EGRESS,
    GROUP,
    INGRESS,
    PREFIX_LIST,
    Rule,
    RuleError,
    apply_diff,
    diff_rules,
    flatten,
    normalise_cidr,
    normalise_ports,
    normalise_protocol,
    quota_count,
    regroup,
)

from .builders import OTHER_ACCOUNT, OWNER, cidr, cidr6, prefix, ref, rules


def one(permission, direction=INGRESS, owner=OWNER):
    """Flatten a single permission that must yield exactly one rule."""
    flat = flatten([permission], direction, owner)
    assert len(flat) == 1, flat
    return next(iter(flat.items()))


# -- protocols and ports --------------------------------------------------------

@pytest.mark.parametrize("given, expected", [
    ("6", "tcp"), (6, "tcp"), ("TCP", "tcp"), (" Tcp ", "tcp"),
    ("17", "udp"), ("udp", "udp"),
    ("1", "icmp"), ("ICMP", "icmp"),
    ("58", "icmpv6"), ("icmpv6", "icmpv6"),
    ("all", "-1"), ("ALL", "-1"), ("-1", "-1"), (-1, "-1"),
    ("50", "50"), (50, "50"), ("0", "0"), ("255", "255"),
])
def test_protocol_names_and_numbers_are_canonical(given, expected):
    assert normalise_protocol(given) == expected


@pytest.mark.parametrize("bad", ["256", "tcpp", "", "-2", "1.5"])
def test_unknown_protocol_is_an_error(bad):
    with pytest.raises(RuleError):
        normalise_protocol(bad)


@pytest.mark.parametrize("protocol", ["-1", "all", -1, "50", "47"])
def test_protocols_without_ports_drop_the_ports(protocol):
    rule, _desc = one({"IpProtocol": protocol, "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]})
    assert (rule.from_port, rule.to_port) == (None, None)
    assert rule.protocol == normalise_protocol(protocol)


def test_numeric_and_named_tcp_are_the_same_rule():
    by_number = flatten([{"IpProtocol": "6", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}], INGRESS)
    by_name = flatten([{"IpProtocol": "TCP", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}], INGRESS)
    assert by_number == by_name == {cidr(22, "10.0.0.0/8"): None}


@pytest.mark.parametrize("protocol, ports, expected", [
    ("icmp", (8, 0), (8, 0)),
    ("icmp", (-1, -1), (-1, -1)),
    ("icmp", (None, None), (-1, -1)),
    ("icmpv6", (128, -1), (128, -1)),
    ("icmpv6", (-1, -1), (-1, -1)),
    ("tcp", (0, 65535), (0, 65535)),
    ("udp", ("53", "53"), (53, 53)),
])
def test_ports_and_icmp_type_code(protocol, ports, expected):
    assert normalise_ports(protocol, *ports) == expected


@pytest.mark.parametrize("protocol, ports", [
    ("tcp", (100, 99)),
    ("tcp", (-1, 22)),
    ("udp", (0, 65536)),
    ("tcp", (None, None)),
    ("icmp", (256, 0)),
    ("icmpv6", (0, -2)),
])
def test_invalid_port_ranges_are_errors(protocol, ports):
    with pytest.raises(RuleError):
        normalise_ports(protocol, *ports)


def test_flatten_reports_an_invalid_port_range():
    with pytest.raises(RuleError):
        flatten([{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}], INGRESS)


# -- targets ------------------------------------------------------------------

@pytest.mark.parametrize("given, version, expected", [
    ("10.0.0.5/8", 4, "10.0.0.0/8"),
    ("192.168.1.77", 4, "192.168.1.77/32"),
    (" 172.16.0.0/12 ", 4, "172.16.0.0/12"),
    ("2001:DB8::/32", 6, "2001:db8::/32"),
    ("2001:0db8:0000:0000:0000:0000:0000:0001/64", 6, "2001:db8::/64"),
    ("2001:db8::1", 6, "2001:db8::1/128"),
    ("::/0", 6, "::/0"),
])
def test_cidrs_are_canonical(given, version, expected):
    assert normalise_cidr(given, version) == expected


@pytest.mark.parametrize("given, version", [
    ("10.0.0.0/8", 6),  # IPv4 in Ipv6Ranges
    ("2001:db8::/32", 4),  # IPv6 in IpRanges
    ("10.0.0.0/33", 4),
    ("not-a-cidr", 4),
])
def test_wrong_family_or_garbage_cidr_is_an_error(given, version):
    with pytest.raises(RuleError):
        normalise_cidr(given, version)


def test_flatten_canonicalises_every_target_kind():
    flat = flatten([{
        "IpProtocol": "6", "FromPort": 443, "ToPort": 443,
        "IpRanges": [{"CidrIp": "10.1.2.3/16", "Description": "office"}],
        "Ipv6Ranges": [{"CidrIpv6": "2001:DB8:0:0::/48"}],
        "PrefixListIds": [{"PrefixListId": " PL-0ABC1234 ", "Description": ""}],
        "UserIdGroupPairs": [{"GroupId": "sg-12345678"}, {"GroupId": "sg-87654321", "UserId": OTHER_ACCOUNT}],
    }], INGRESS, OWNER)
    assert flat == {
        Rule(INGRESS, "tcp", 443, 443, CIDR_IP, "10.1.0.0/16"): "office",
        Rule(INGRESS, "tcp", 443, 443, CIDR_IPV6, "2001:db8::/48"): None,  # empty description -> None
        Rule(INGRESS, "tcp", 443, 443, PREFIX_LIST, "pl-0abc1234"): None,
        Rule(INGRESS, "tcp", 443, 443, GROUP, "sg-12345678", OWNER): None,  # UserId filled from owner
        Rule(INGRESS, "tcp", 443, 443, GROUP, "sg-87654321", OTHER_ACCOUNT): None,
    }


def test_flatten_rejects_ipv4_given_as_ipv6_and_vice_versa():
    with pytest.raises(RuleError):
        flatten([{"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "10.0.0.0/8"}]}], INGRESS)
    with pytest.raises(RuleError):
        flatten([{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "::/0"}]}], EGRESS)


def test_host_bits_make_no_new_rule():
    flat = flatten([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                     "IpRanges": [{"CidrIp": "10.0.0.5/8"}, {"CidrIp": "10.0.0.0/8"}]}], INGRESS)
    assert list(flat) == [cidr(22, "10.0.0.0/8")]


# -- flatten / regroup ----------------------------------------------------------

def test_regroup_yields_one_permission_per_protocol_and_port_range():
    ruleset = rules(
        (cidr(22, "10.0.0.0/8"), "ssh"),
        cidr6(22, "2001:db8::/32"),
        prefix(22, "pl-11111111"),
        ref(22, "sg-11111111"),
        ref(22, "sg-22222222", OTHER_ACCOUNT),
        cidr(80, "0.0.0.0/0"),
    )
    perms = regroup(ruleset, OWNER)
    assert len(perms) == 2
    ssh = next(p for p in perms if p["FromPort"] == 22)
    assert ssh == {
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh"}],
        "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}],
        "PrefixListIds": [{"PrefixListId": "pl-11111111"}],
        "UserIdGroupPairs": sorted([{"GroupId": "sg-11111111"},
                                    {"GroupId": "sg-22222222", "UserId": OTHER_ACCOUNT}], key=lambda e: e["GroupId"]),
    }


def test_regroup_sends_no_ports_for_all_traffic():
    assert regroup({Rule(EGRESS, "-1", None, None, CIDR_IP, "0.0.0.0/0"): None}) == [
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


def test_flatten_regroup_round_trip():
    ruleset = rules(
        (cidr(22, "10.0.0.0/8"), "ssh"),
        (ref(22, "sg-11111111"), "bastion"),
        ref(22, "sg-22222222", OTHER_ACCOUNT),
        Rule(INGRESS, "icmp", 8, -1, CIDR_IP, "0.0.0.0/0"),
        Rule(INGRESS, "50", None, None, CIDR_IPV6, "2001:db8::/32"),
        Rule(INGRESS, "-1", None, None, PREFIX_LIST, "pl-22222222"),
    )
    assert flatten(regroup(ruleset, OWNER), INGRESS, OWNER) == ruleset


# -- diff -----------------------------------------------------------------------

def test_description_only_change_is_an_update():
    desired = rules((cidr(22, "10.0.0.0/8"), "new"), cidr(80, "0.0.0.0/0"))
    current = rules((cidr(22, "10.0.0.0/8"), "old"), (cidr(80, "0.0.0.0/0"), "gone"))
    diff = diff_rules(desired, current)
    assert diff.authorize == {} and diff.revoke == {}
    assert diff.update == {cidr(22, "10.0.0.0/8"): "new", cidr(80, "0.0.0.0/0"): None}
    assert apply_diff(current, diff) == desired


def test_port_change_is_one_add_and_one_revoke():
    diff = diff_rules(rules(cidr(443, "10.0.0.0/8")), rules(cidr(80, "10.0.0.0/8")))
    assert diff.authorize == rules(cidr(443, "10.0.0.0/8"))
    assert diff.revoke == rules(cidr(80, "10.0.0.0/8"))
    assert diff.update == {}


def test_keep_predicate_protects_current_rules():
    current = rules(cidr(22, "10.0.0.0/8"), ref(80, "sg-0e1b0000"), prefix(443, "pl-12345678"))
    diff = diff_rules({}, current, keep=lambda rule: rule.kind == GROUP)
    assert diff.revoke == rules(cidr(22, "10.0.0.0/8"), prefix(443, "pl-12345678"))
    assert apply_diff(current, diff) == rules(ref(80, "sg-0e1b0000"))


def test_identical_sets_make_an_empty_diff():
    ruleset = rules((cidr(22, "10.0.0.0/8"), "x"), ref(22, "sg-11111111"))
    assert diff_rules(ruleset, dict(ruleset)).empty


# -- quota --------------------------------------------------------------------------

def test_quota_counts_address_families_apart():
    v4 = [cidr(p, "10.0.0.0/8") for p in range(10)]
    v6 = [cidr6(p, "2001:db8::/32") for p in range(7)]
    assert quota_count(v4 + v6) == 10
    assert quota_count(v6) == 7


def test_quota_counts_group_and_prefix_list_refs_in_both_families():
    v4 = [cidr(p, "10.0.0.0/8") for p in range(10)]
    v6 = [cidr6(p, "2001:db8::/32") for p in range(10)]
    both = [ref(1, "sg-11111111"), prefix(2, "pl-11111111")]
    assert quota_count(v4 + v6 + both) == 12
    assert quota_count(both) == 2
    assert quota_count([]) == 0
