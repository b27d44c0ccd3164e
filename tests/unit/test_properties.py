# -*- coding: utf-8 -*-
"""Property-based tests: random canonical rule sets through diff, regroup and the planner."""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    CIDR_IP,
    CIDR_IPV6,
    DIRECTIONS,
    EGRESS,
    GROUP,
    INGRESS,
    PREFIX_LIST,
    Rule,
    apply_diff,
    diff_rules,
    flatten,
    in_direction,
    regroup,
)

from .builders import (
    FROM,
    LEGACY_VPC,
    OTHER_ACCOUNT,
    OWNER,
    TO,
    converge,
    mirror,
    only_pair,
    plan,
    snapshot,
    source,
)

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Each planner example builds a snapshot, plans, converges and plans again.
PLANNER_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=120)

# Small pools make A and B overlap often (same rule, other description); the
# random parts make sure odd values show up too.
_ports = st.one_of(st.sampled_from([0, 22, 80, 443, 8080, 65535]), st.integers(0, 65535))
_port_range = st.tuples(_ports, _ports).map(lambda pair: tuple(sorted(pair)))
_icmp = st.tuples(st.sampled_from([-1, 0, 3, 8, 128]), st.sampled_from([-1, 0, 4]))
_protocol_ports = st.one_of(
    st.tuples(st.sampled_from(["tcp", "udp"]), _port_range),
    st.tuples(st.sampled_from(["icmp", "icmpv6"]), _icmp),
    st.tuples(st.sampled_from(["-1", "50", "47", "132"]), st.just((None, None))),
)
_v4 = st.one_of(
    st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "192.168.1.10/32"]),
    st.builds(lambda addr, plen: str(ipaddress.IPv4Network((addr, plen), strict=False)),
              st.integers(0, 2 ** 32 - 1), st.integers(0, 32)),
)
_v6 = st.one_of(
    st.sampled_from(["::/0", "2001:db8::/32", "fd00::1/128"]),
    st.builds(lambda addr, plen: str(ipaddress.IPv6Network((addr, plen), strict=False)),
              st.integers(0, 2 ** 128 - 1), st.integers(0, 128)),
)
_prefix_list = st.sampled_from(["pl-0000000a", "pl-6da54004", "pl-0123456789abcdef0"])
_group_target = st.tuples(st.sampled_from(["sg-0000000a", "sg-0000000b", "sg-0123456789abcdef0"]),
                          st.sampled_from([OWNER, OTHER_ACCOUNT]))
_description = st.one_of(st.none(), st.text(alphabet="abc XY-_.", min_size=1, max_size=6))

_address_target = st.one_of(
    _v4.map(lambda t: (CIDR_IP, t, None)),
    _v6.map(lambda t: (CIDR_IPV6, t, None)),
    _prefix_list.map(lambda t: (PREFIX_LIST, t, None)),
)
_any_target = st.one_of(_address_target, _group_target.map(lambda t: (GROUP, t[0], t[1])))


def _rule(directions, targets):
    return st.builds(
        lambda direction, proto_ports, target: Rule(direction, proto_ports[0], proto_ports[1][0], proto_ports[1][1], *target),
        st.sampled_from(directions), _protocol_ports, targets)


def rule_sets(directions=DIRECTIONS, targets=_any_target, max_size=10):
    return st.dictionaries(_rule(directions, targets), _description, max_size=max_size)


def overlapping(data, base, extra):
    """``extra`` plus some of ``base``'s rules, each with a freshly drawn description:
    makes the shared-rule and description-only cases common."""
    shared = {}
    if base:
        shared = data.draw(st.dictionaries(st.sampled_from(sorted(base, key=Rule.sort_key)), _description, max_size=len(base)))
    return {**extra, **shared}


# -- diff ---------------------------------------------------------------------------------

@PROPERTY_SETTINGS
@given(rule_sets(), rule_sets(), st.data())
def test_diff_properties(desired, extra, data):
    current = overlapping(data, desired, extra)
    diff = diff_rules(desired, current)
    # applying the diff turns current into desired
    assert apply_diff(current, diff) == desired
    # nothing authorized that is there, nothing revoked that is wanted, no no-op updates
    assert set(diff.authorize).isdisjoint(current)
    assert set(diff.revoke).isdisjoint(desired)
    assert all(current[rule] != desc for rule, desc in diff.update.items())
    # a set against itself is an empty diff
    assert diff_rules(desired, dict(desired)).empty
    assert diff_rules(current, dict(current)).empty


# -- regroup / flatten ------------------------------------------------------------------------

@PROPERTY_SETTINGS
@given(rule_sets(max_size=16))
def test_regroup_then_flatten_is_the_identity(ruleset):
    for direction in DIRECTIONS:
        one_way = in_direction(ruleset, direction)
        permissions = regroup(one_way, OWNER)
        assert flatten(permissions, direction, OWNER) == one_way
        # the fewest permissions: one per protocol and port range
        assert len(permissions) == len({(r.protocol, r.from_port, r.to_port) for r in one_way})
        for perm in permissions:
            for pair in perm.get("UserIdGroupPairs", ()):
                assert pair.get("UserId") != OWNER  # UserId only for other accounts


# -- the planner ---------------------------------------------------------------------------------

_address_rules = rule_sets(targets=_address_target, max_size=8)


@PLANNER_SETTINGS
@given(_address_rules, _address_rules, st.data())
def test_plan_turns_mirror_rules_into_the_vpc_source_rules(source_rules, extra, data):
    mirror_rules = overlapping(data, source_rules, extra)
    src = source("sg-a0000001", "web", vpc_id=LEGACY_VPC, rules=source_rules, tags={TO: "sg-b0000001"})
    mir = mirror("sg-b0000001", src, rules=mirror_rules)
    snap = snapshot(src, mir)
    first = plan(snap, "sg-a0000001", rules_quota=10 ** 6)
    pair = only_pair(first)
    assert pair.error is None and pair.skipped_references == ()
    assert pair.after == source_rules  # the planner's own prediction
    after, _ids = converge(snap, first)
    for direction in DIRECTIONS:
        assert in_direction(after.groups["sg-b0000001"].rules, direction) == in_direction(source_rules, direction)
    assert after.groups["sg-b0000001"].tags == {FROM: "sg-a0000001"}
    second = plan(after, "sg-a0000001", rules_quota=10 ** 6)
    assert not second.changed


@PLANNER_SETTINGS
@given(rule_sets(directions=(INGRESS,), targets=_address_target, max_size=8), _address_rules, st.data())
def test_plan_for_classic_source_keeps_egress_and_prefix_lists(source_rules, extra, data):
    mirror_rules = overlapping(data, source_rules, extra)
    src = source("sg-a0000001", "web", rules=source_rules, tags={TO: "sg-b0000001"})
    mir = mirror("sg-b0000001", src, rules=mirror_rules)
    snap = snapshot(src, mir)
    first = plan(snap, "sg-a0000001", rules_quota=10 ** 6)
    after, _ids = converge(snap, first)
    held = after.groups["sg-b0000001"].rules
    kept_prefix_lists = {r: d for r, d in in_direction(mirror_rules, INGRESS).items()
                         if r.kind == PREFIX_LIST and r not in source_rules}
    assert in_direction(held, INGRESS) == {**source_rules, **kept_prefix_lists}
    assert in_direction(held, EGRESS) == in_direction(mirror_rules, EGRESS)
    assert not plan(after, "sg-a0000001", rules_quota=10 ** 6).changed
