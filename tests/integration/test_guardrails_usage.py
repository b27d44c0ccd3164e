"""Guardrails and the usage audit, end to end against the moto harness.

Real module runs (``classiclink_mirror_group``, ``classiclink_mirror_info``); results are
checked by describing the groups at the server, and API calls are counted at the server
(the harness's recorder), never by the module. moto's default VPC stands in for EC2-Classic.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.integration.ec2_world import (
    MIRRORED_TO,
    actions,
    allow,
    describe,
    group_named,
    groups_in,
    launch,
    links,
    make_group,
    make_vpc,
    mutating,
    revoke,
    rules,
    tags,
    tcp,
)
from tests.support.moto_harness import CLASSIC_AMI_ID

MODULE = "classiclink_mirror_group"
INFO = "classiclink_mirror_info"
LINK = "classiclink_instance_link"
CLASSIC = {"classic_vpc_id": "default"}  # moto's default VPC stands in for EC2-Classic

SSH_ANYWHERE = {"protocol": "tcp", "ports": "22", "cidr": "0.0.0.0/0"}
SSH_ANYWHERE_PATTERN = {"protocol": "tcp", "ports": "22", "cidr": "0.0.0.0/0", "action": "withhold"}


# -- helpers ------------------------------------------------------------------------------------

def run_ok(run_module, name, args, **kwargs):
    result = run_module(name, args, **kwargs)
    assert result.rc == 0, (result.get("msg"), result.stderr[-2000:])
    return result


def pair_of(result, name):
    """The (non referenced-only) pair entry of source ``name`` in a group module result."""
    found = [g for g in result["groups"] if g["source_group_name"] == name and not g["referenced_only"]]
    assert len(found) == 1, result["groups"]
    return found[0]


def info_pair(result, name):
    found = [p for p in result["pairs"] if p["source_group_name"] == name]
    assert len(found) == 1, result["pairs"]
    return found[0]


def ingress_rules(ec2, group_id):
    """(protocol, from, to, target) of the group's ingress rules, as the server describes them."""
    return {r[:4] for r in rules(describe(ec2, group_id))}


def withheld_keys(entries):
    """withheld rule -> the cidr of the pattern it matched."""
    return {(w["protocol"], w.get("from_port"), w.get("to_port"), w.get("cidr_ip") or w.get("cidr_ipv6")): w["pattern"]["cidr"]
            for w in entries}


def mutating_detail(moto):
    return [c for c in moto.calls(detail=True) if c["mutating"]]


# -- 1. withhold ---------------------------------------------------------------------------------

def test_withhold_keeps_rule_out_revokes_it_even_without_purge_and_is_not_drift(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "web", link=vpc)
    allow(ec2, src, tcp(22, cidr="0.0.0.0/0", description="ssh"), tcp(443, cidr="0.0.0.0/0"))
    args = {"source_group": "web", "guardrails": [SSH_ANYWHERE], **CLASSIC}

    first = run_ok(run_module, MODULE, args)

    assert first["changed"] is True
    mirror = group_named(ec2, vpc, "web")["GroupId"]
    assert ingress_rules(ec2, mirror) == {("tcp", 443, 443, "0.0.0.0/0")}
    entry = pair_of(first, "web")
    assert [(r["from_port"], r["cidr_ip"]) for r in entry["ingress"]["authorize"]] == [(443, "0.0.0.0/0")]
    (withheld,) = entry["withheld_rules"]
    assert {k: withheld[k] for k in ("direction", "protocol", "from_port", "to_port", "cidr_ip", "description", "code")} == {
        "direction": "ingress", "protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_ip": "0.0.0.0/0",
        "description": "ssh", "code": "guardrail"}
    assert withheld["pattern"] == SSH_ANYWHERE_PATTERN
    assert "tcp 22 from 0.0.0.0/0" in withheld["reason"]

    # converged, with the withheld rule still on the source: no change, no mutating call
    moto.reset_calls()
    again = run_ok(run_module, MODULE, args)
    assert again["changed"] is False and mutating(moto) == []
    assert pair_of(again, "web")["withheld_rules"] == entry["withheld_rules"]

    # the withheld rule added to the mirror by hand is revoked by the next run
    allow(ec2, mirror, tcp(22, cidr="0.0.0.0/0"))
    moto.reset_calls()
    revoked = run_ok(run_module, MODULE, args)
    assert revoked["changed"] is True
    assert [(r["from_port"], r["cidr_ip"]) for r in pair_of(revoked, "web")["ingress"]["revoke"]] == [(22, "0.0.0.0/0")]
    assert pair_of(revoked, "web")["ingress"]["authorize"] == []
    calls = mutating_detail(moto)
    assert [(c["action"], c["targets"]) for c in calls] == [("RevokeSecurityGroupIngress", [mirror])]
    assert ingress_rules(ec2, mirror) == {("tcp", 443, 443, "0.0.0.0/0")}

    # the info module: the pair is in sync, the withheld rule reported, not drift
    moto.reset_calls()
    audit = run_ok(run_module, INFO, {"guardrails": [SSH_ANYWHERE], **CLASSIC})
    assert mutating(moto) == []
    pair = info_pair(audit, "web")
    assert audit["drift"] is False and pair["in_sync"] is True
    assert pair["drift"]["ingress"]["authorize"] == [] and pair["drift"]["ingress"]["revoke"] == []
    assert pair["withheld_rules"] == entry["withheld_rules"]
    # without the guardrail the same source IS drift: the rule would be mirrored
    plain = run_ok(run_module, INFO, CLASSIC)
    assert plain["drift"] is True and info_pair(plain, "web")["in_sync"] is False
    assert [(r["from_port"], r["cidr_ip"]) for r in info_pair(plain, "web")["drift"]["ingress"]["authorize"]] == [(22, "0.0.0.0/0")]
    assert info_pair(plain, "web")["withheld_rules"] == []

    # purge_rules: false keeps hand-added rules, but not a withheld one
    allow(ec2, mirror, tcp(22, cidr="0.0.0.0/0"), tcp(8080, cidr="10.0.0.0/8"))
    moto.reset_calls()
    kept = run_ok(run_module, MODULE, {**args, "purge_rules": False})
    assert kept["changed"] is True
    assert [(r["from_port"], r["cidr_ip"]) for r in pair_of(kept, "web")["ingress"]["revoke"]] == [(22, "0.0.0.0/0")]
    assert [(c["action"], c["targets"]) for c in mutating_detail(moto)] == [("RevokeSecurityGroupIngress", [mirror])]
    assert ingress_rules(ec2, mirror) == {("tcp", 443, 443, "0.0.0.0/0"), ("tcp", 8080, 8080, "10.0.0.0/8")}
    # ... and that is converged too
    moto.reset_calls()
    assert run_ok(run_module, MODULE, {**args, "purge_rules": False})["changed"] is False
    assert mutating(moto) == []
    # the source itself is never touched by a guardrail
    assert ("tcp", 22, 22, "0.0.0.0/0") in ingress_rules(ec2, src)


# -- 2. fail -------------------------------------------------------------------------------------

def test_fail_guardrail_fails_its_pair_before_any_change_and_the_others_go_on(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    good = make_group(ec2, "good", link=vpc)
    allow(ec2, good, tcp(443, cidr="0.0.0.0/0"))
    bad = make_group(ec2, "rdp", link=vpc)
    allow(ec2, bad, tcp(3389, cidr="0.0.0.0/0"), tcp(80, cidr="10.0.0.0/8"))
    args = {"source_groups": ["rdp", "good"], "guardrails": [dict(SSH_ANYWHERE), {"protocol": "tcp", "ports": "3389",
                                                                                  "cidr": "0.0.0.0/0", "action": "fail"}],
            **CLASSIC}
    moto.reset_calls()

    result = run_module(MODULE, args)

    assert result.rc != 0 and result["failed"] is True
    failed = pair_of(result, "rdp")
    assert failed["code"] == "guardrail" and failed["changed"] is False and failed["created"] is False
    assert "tcp 3389-3389 0.0.0.0/0" in failed["error"] and "tcp 3389 from 0.0.0.0/0" in failed["error"]
    assert bad in failed["error"] or "rdp" in failed["error"]
    assert "tcp 3389 from 0.0.0.0/0" in result["msg"]
    ok = pair_of(result, "good")
    assert ok["error"] is None and ok["code"] is None and ok["created"] is True
    assert result["changed"] is True

    # nothing touched the failing pair: no mirror for it, no call on its source
    assert group_named(ec2, vpc, "rdp") is None
    assert sorted(g["GroupName"] for g in groups_in(ec2, vpc)) == ["default", "good"]
    assert MIRRORED_TO not in tags(describe(ec2, bad))
    good_mirror = group_named(ec2, vpc, "good")["GroupId"]
    calls = mutating_detail(moto)
    assert sorted(actions(calls)) == ["AuthorizeSecurityGroupIngress", "CreateSecurityGroup", "CreateTags"]
    assert all(bad not in c["targets"] for c in calls), calls
    assert {t for c in calls for t in c["targets"]} == {good_mirror, good}
    # the other pair converged
    assert ingress_rules(ec2, good_mirror) == {("tcp", 443, 443, "0.0.0.0/0")}
    assert tags(describe(ec2, good))[MIRRORED_TO] == good_mirror
    moto.reset_calls()
    again = run_module(MODULE, args)
    assert again.rc != 0 and pair_of(again, "rdp")["code"] == "guardrail"
    assert again["changed"] is False and pair_of(again, "good")["changed"] is False
    assert mutating(moto) == []
    assert group_named(ec2, vpc, "rdp") is None


# -- 3. matching: ports covered, CIDR overlapping -------------------------------------------------

def test_ipv4_patterns_match_overlapping_networks_and_covering_ports(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "db", link=vpc)
    allow(
        ec2, src,
        tcp(22, cidr="192.0.2.5/32"),          # a /32 inside 0.0.0.0/0: withheld
        tcp(22, cidr="10.0.0.0/8"),            # private, but still part of 0.0.0.0/0: withheld
        tcp(1, to_port=1024, cidr="192.0.2.0/24"),  # covers port 22: withheld
        tcp(23, to_port=25, cidr="192.0.2.0/24"),   # does not cover 22: kept
        tcp(5432, cidr="203.0.113.7/32"),      # inside 203.0.113.0/24: withheld
        tcp(5432, cidr="203.0.112.0/23"),      # contains 203.0.113.0/24: overlaps, withheld
        tcp(5432, cidr="198.51.100.0/24"),     # no overlap: kept
        tcp(5432, cidr="203.0.114.0/24"),      # adjacent, no overlap: kept
        tcp(6432, cidr="203.0.113.7/32"),      # other port: kept
    )
    allow(ec2, src, {"IpProtocol": "udp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},  # udp: kept
          {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "192.0.2.128/25"}]})  # all traffic lets ssh in: withheld
    partner = {"protocol": "tcp", "ports": "5432", "cidr": "203.0.113.0/24"}
    args = {"source_group": "db", "guardrails": [SSH_ANYWHERE, partner], **CLASSIC}

    result = run_ok(run_module, MODULE, args)

    mirror = group_named(ec2, vpc, "db")["GroupId"]
    assert ingress_rules(ec2, mirror) == {
        ("tcp", 23, 25, "192.0.2.0/24"),
        ("tcp", 5432, 5432, "198.51.100.0/24"),
        ("tcp", 5432, 5432, "203.0.114.0/24"),
        ("tcp", 6432, 6432, "203.0.113.7/32"),
        ("udp", 22, 22, "0.0.0.0/0"),
    }
    assert withheld_keys(pair_of(result, "db")["withheld_rules"]) == {
        ("tcp", 22, 22, "192.0.2.5/32"): "0.0.0.0/0",
        ("tcp", 22, 22, "10.0.0.0/8"): "0.0.0.0/0",
        ("tcp", 1, 1024, "192.0.2.0/24"): "0.0.0.0/0",
        ("-1", None, None, "192.0.2.128/25"): "0.0.0.0/0",
        ("tcp", 5432, 5432, "203.0.113.7/32"): "203.0.113.0/24",
        ("tcp", 5432, 5432, "203.0.112.0/23"): "203.0.113.0/24",
    }
    assert all(w["code"] == "guardrail" for w in pair_of(result, "db")["withheld_rules"])
    moto.reset_calls()
    assert run_ok(run_module, MODULE, args)["changed"] is False and mutating(moto) == []


def test_ipv6_pattern_withholds_ipv6_rules_only(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "bastion", link=vpc)
    allow(ec2, src, tcp(22, cidr6="2001:db8::/64", description="v6 ssh"), tcp(22, cidr="192.0.2.0/24"),
          tcp(443, cidr6="::/0"))
    args = {"source_group": "bastion", "guardrails": [{"protocol": "tcp", "ports": "22", "cidr": "::/0"}], **CLASSIC}

    result = run_ok(run_module, MODULE, args)

    mirror = group_named(ec2, vpc, "bastion")["GroupId"]
    assert ingress_rules(ec2, mirror) == {("tcp", 22, 22, "192.0.2.0/24"), ("tcp", 443, 443, "::/0")}
    (withheld,) = pair_of(result, "bastion")["withheld_rules"]
    assert withheld["cidr_ipv6"] == "2001:db8::/64" and "cidr_ip" not in withheld
    assert withheld["pattern"] == {"protocol": "tcp", "ports": "22", "cidr": "::/0", "action": "withhold"}
    assert withheld["description"] == "v6 ssh" and withheld["code"] == "guardrail"

    # the IPv6 rule added to the mirror by hand is revoked; the IPv4 one stays
    allow(ec2, mirror, tcp(22, cidr6="2001:db8::/64"))
    moto.reset_calls()
    again = run_ok(run_module, MODULE, args)
    assert [r.get("cidr_ipv6") for r in pair_of(again, "bastion")["ingress"]["revoke"]] == ["2001:db8::/64"]
    assert mutating(moto) == ["RevokeSecurityGroupIngress"]
    assert ingress_rules(ec2, mirror) == {("tcp", 22, 22, "192.0.2.0/24"), ("tcp", 443, 443, "::/0")}


# -- 4. a source rule that changes to and from violating -------------------------------------------

def test_source_rule_changing_to_and_from_violating(run_module, moto, ec2):
    # Matching is by overlap, so a pattern for 0.0.0.0/0 would also catch ssh from 10.0.0.0/8
    # (see the test above); this pattern names an outside network that 10.0.0.0/8 does not touch.
    vpc = make_vpc(ec2)
    src = make_group(ec2, "app", link=vpc)
    allow(ec2, src, tcp(443, cidr="0.0.0.0/0"))
    guard = {"protocol": "tcp", "ports": "22", "cidr": "198.51.100.0/24"}
    args = {"source_group": "app", "guardrails": [guard], **CLASSIC}
    run_ok(run_module, MODULE, args)
    mirror = group_named(ec2, vpc, "app")["GroupId"]
    assert ingress_rules(ec2, mirror) == {("tcp", 443, 443, "0.0.0.0/0")}

    # to violating: ssh from anywhere added to the source is withheld, the mirror stays as it is
    allow(ec2, src, tcp(22, cidr="0.0.0.0/0"))
    moto.reset_calls()
    to_bad = run_ok(run_module, MODULE, args)
    assert to_bad["changed"] is False and mutating(moto) == []
    assert withheld_keys(pair_of(to_bad, "app")["withheld_rules"]) == {("tcp", 22, 22, "0.0.0.0/0"): "198.51.100.0/24"}
    assert ingress_rules(ec2, mirror) == {("tcp", 443, 443, "0.0.0.0/0")}

    # from violating: replaced with ssh from 10.0.0.0/8, the next run authorizes it on the mirror
    revoke(ec2, src, tcp(22, cidr="0.0.0.0/0"))
    allow(ec2, src, tcp(22, cidr="10.0.0.0/8"))
    moto.reset_calls()
    to_good = run_ok(run_module, MODULE, args)
    assert to_good["changed"] is True and pair_of(to_good, "app")["withheld_rules"] == []
    assert [(r["from_port"], r["cidr_ip"]) for r in pair_of(to_good, "app")["ingress"]["authorize"]] == [(22, "10.0.0.0/8")]
    assert [(c["action"], c["targets"]) for c in mutating_detail(moto)] == [("AuthorizeSecurityGroupIngress", [mirror])]
    assert ingress_rules(ec2, mirror) == {("tcp", 443, 443, "0.0.0.0/0"), ("tcp", 22, 22, "10.0.0.0/8")}

    # and back: the mirrored rule turning violating is revoked, its replacement not authorized
    revoke(ec2, src, tcp(22, cidr="10.0.0.0/8"))
    allow(ec2, src, tcp(22, cidr="198.51.100.9/32"))
    moto.reset_calls()
    back = run_ok(run_module, MODULE, args)
    assert back["changed"] is True and pair_of(back, "app")["ingress"]["authorize"] == []
    assert [(r["from_port"], r["cidr_ip"]) for r in pair_of(back, "app")["ingress"]["revoke"]] == [(22, "10.0.0.0/8")]
    assert mutating(moto) == ["RevokeSecurityGroupIngress"]
    assert ingress_rules(ec2, mirror) == {("tcp", 443, 443, "0.0.0.0/0")}


# -- 5. the usage audit ----------------------------------------------------------------------------

def _two_mirrors(run_module, ec2):
    """Sources web and db (web's rule refers to db), mirrored; -> (vpc, web mirror, db mirror)."""
    vpc = make_vpc(ec2)
    web = make_group(ec2, "web", link=vpc)
    db = make_group(ec2, "db", link=vpc)
    allow(ec2, web, tcp(443, cidr="0.0.0.0/0"))
    allow(ec2, db, tcp(5432, group=web))
    run_ok(run_module, MODULE, {"source_groups": ["web", "db"], **CLASSIC})
    web_mirror, db_mirror = group_named(ec2, vpc, "web")["GroupId"], group_named(ec2, vpc, "db")["GroupId"]
    assert ingress_rules(ec2, db_mirror) == {("tcp", 5432, 5432, web_mirror)}  # a mirror referring to a mirror
    return vpc, web_mirror, db_mirror


def _launch_in(ec2, vpc, group_ids, cidr="10.1.1.0/24"):
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
    reservation = ec2.run_instances(ImageId=CLASSIC_AMI_ID, MinCount=1, MaxCount=1, SubnetId=subnet,
                                    SecurityGroupIds=group_ids)
    return reservation["Instances"][0]["InstanceId"]


def _usage(result):
    return {p["source_group_name"]: p["mirror_in_use"] for p in result["pairs"]}


def test_info_usage_audit_follows_interfaces_and_references(run_module, moto, ec2):
    vpc, web_mirror, db_mirror = _two_mirrors(run_module, ec2)

    moto.reset_calls()
    before = run_ok(run_module, INFO, CLASSIC)
    assert mutating(moto) == []
    # the db mirror is referred to by the web mirror only: mirrors' references say nothing about use
    assert _usage(before) == {"web": False, "db": False}
    assert sorted(u["group_id"] for u in before["unused_mirrors"]) == sorted([web_mirror, db_mirror])
    assert {u["group_id"]: (u["group_name"], u["vpc_id"]) for u in before["unused_mirrors"]} == {
        web_mirror: ("web", vpc), db_mirror: ("db", vpc)}
    assert (before["mirrors_in_use"], before["mirrors_total"]) == (0, 2)

    # an instance in the target VPC carries the web mirror
    _launch_in(ec2, vpc, [web_mirror])
    carried = run_ok(run_module, INFO, CLASSIC)
    assert _usage(carried) == {"web": True, "db": False}
    assert [u["group_id"] for u in carried["unused_mirrors"]] == [db_mirror]
    assert (carried["mirrors_in_use"], carried["mirrors_total"]) == (1, 2)

    # a plain group of the target VPC refers to the db mirror
    plain = make_group(ec2, "vpc-app", vpc_id=vpc)
    allow(ec2, plain, tcp(5432, group=db_mirror))
    referenced = run_ok(run_module, INFO, CLASSIC)
    assert _usage(referenced) == {"web": True, "db": True}
    assert referenced["unused_mirrors"] == []
    assert (referenced["mirrors_in_use"], referenced["mirrors_total"]) == (2, 2)

    # usage_audit: false reports nothing of it
    off = run_ok(run_module, INFO, {"usage_audit": False, **CLASSIC})
    assert off["unused_mirrors"] == [] and (off["mirrors_in_use"], off["mirrors_total"]) == (0, 0)


def test_info_counts_a_classiclink_as_use(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "legacy", link=vpc)
    run_ok(run_module, MODULE, {"source_group": "legacy", **CLASSIC})
    mirror = group_named(ec2, vpc, "legacy")["GroupId"]
    (instance,) = launch(ec2, [src])  # an EC2-Classic stand-in in the default VPC
    assert _usage(run_ok(run_module, INFO, CLASSIC)) == {"legacy": False}

    run_ok(run_module, LINK, {"instance_id": instance, **CLASSIC})
    assert links(ec2)[instance] == (vpc, {mirror})

    linked = run_ok(run_module, INFO, CLASSIC)
    assert _usage(linked) == {"legacy": True}
    assert linked["unused_mirrors"] == [] and (linked["mirrors_in_use"], linked["mirrors_total"]) == (1, 1)


def test_group_module_usage_audit_costs_one_describe_network_interfaces(run_module, moto, ec2):
    vpc, web_mirror, db_mirror = _two_mirrors(run_module, ec2)
    _launch_in(ec2, vpc, [web_mirror])
    args = {"source_groups": ["web", "db"], **CLASSIC}

    moto.reset_calls()
    plain = run_ok(run_module, MODULE, args)
    without = moto.calls()
    moto.reset_calls()
    audited = run_ok(run_module, MODULE, {**args, "usage_audit": True})
    with_audit = moto.calls()

    assert plain["changed"] is False and audited["changed"] is False
    assert not any(c["mutating"] for c in without + with_audit)
    extra = Counter(actions(with_audit))
    extra.subtract(Counter(actions(without)))
    # A converged run without the audit reads no group of the target VPC (only mirrors, by tag); the audit reads
    # them once, since a plain group's rule referring to a mirror puts that mirror in use (checked below).
    assert {action: n for action, n in extra.items() if n} == {"DescribeNetworkInterfaces": 1, "DescribeSecurityGroups": 1}
    assert all(c["status"] == 200 for c in with_audit)

    assert "mirrors_in_use" not in plain and "mirror_in_use" not in pair_of(plain, "web")
    assert (pair_of(audited, "web")["mirror_in_use"], pair_of(audited, "db")["mirror_in_use"]) == (True, False)
    assert [u["group_id"] for u in audited["unused_mirrors"]] == [db_mirror]
    assert (audited["mirrors_in_use"], audited["mirrors_total"]) == (1, 2)

    # a reference from a plain group of the target VPC puts the db mirror in use too
    plain_group = make_group(ec2, "vpc-app", vpc_id=vpc)
    allow(ec2, plain_group, tcp(5432, group=db_mirror))
    moto.reset_calls()
    both = run_ok(run_module, MODULE, {**args, "usage_audit": True})
    assert mutating(moto) == [] and both["unused_mirrors"] == []
    assert (both["mirrors_in_use"], both["mirrors_total"]) == (2, 2)
    assert pair_of(both, "db")["mirror_in_use"] is True


def test_group_module_usage_audit_counts_mirrors_it_creates_as_unused(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    make_group(ec2, "web", link=vpc)
    result = run_ok(run_module, MODULE, {"source_group": "web", "usage_audit": True, **CLASSIC})
    mirror = group_named(ec2, vpc, "web")["GroupId"]
    assert pair_of(result, "web")["created"] is True and pair_of(result, "web")["mirror_in_use"] is False
    assert [u["group_id"] for u in result["unused_mirrors"]] == [mirror]
    assert (result["mirrors_in_use"], result["mirrors_total"]) == (0, 1)


# -- 6. redundant sources ---------------------------------------------------------------------------

def test_info_lists_sources_with_identical_rules_as_redundant(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    a = make_group(ec2, "web-a", link=vpc, description="web, first team")
    b = make_group(ec2, "web-b", link=vpc, description="web, second team")
    c = make_group(ec2, "web-c", link=vpc)
    d = make_group(ec2, "web-d", link=vpc)
    allow(ec2, a, tcp(80, cidr="10.0.0.0/8", description="http a"), tcp(7000, group=a, description="cluster a"))
    allow(ec2, b, tcp(80, cidr="10.0.0.0/8", description="http b"), tcp(7000, group=b, description="cluster b"))
    allow(ec2, c, tcp(80, cidr="10.0.0.0/8"), tcp(7000, group=c), tcp(443, cidr="10.0.0.0/8"))  # one rule more
    allow(ec2, d, tcp(80, cidr="10.0.0.0/8"), tcp(7000, group=a))  # refers to a, not to itself
    # the same rules in another VPC are not a duplicate of these
    legacy = make_vpc(ec2, cidr="10.30.0.0/16", classiclink=False)
    e = make_group(ec2, "web-e", vpc_id=legacy, link=vpc)
    allow(ec2, e, tcp(80, cidr="10.0.0.0/8"), tcp(7000, group=e))
    moto.reset_calls()

    result = run_ok(run_module, INFO, {"instances": False, **CLASSIC})

    assert mutating(moto) == []
    assert result["redundant_sources"] == [sorted([a, b])]


# -- 7. check mode is exact -------------------------------------------------------------------------

def test_check_mode_reports_exactly_what_the_real_run_does(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    web = make_group(ec2, "web", link=vpc)
    allow(ec2, web, tcp(443, cidr="0.0.0.0/0"), tcp(22, cidr="0.0.0.0/0"), tcp(8080, cidr="10.0.0.0/8"))
    run_ok(run_module, MODULE, {"source_group": "web", **CLASSIC})  # mirrored before the guardrails existed
    web_mirror = group_named(ec2, vpc, "web")["GroupId"]
    assert ("tcp", 22, 22, "0.0.0.0/0") in ingress_rules(ec2, web_mirror)
    allow(ec2, web, tcp(9000, cidr="10.0.0.0/8"))
    api = make_group(ec2, "api", link=vpc)
    allow(ec2, api, tcp(22, cidr="192.0.2.0/24"), tcp(443, cidr="0.0.0.0/0"), tcp(22, cidr6="::/0"))
    rdp = make_group(ec2, "rdp", link=vpc)
    allow(ec2, rdp, tcp(3389, cidr="0.0.0.0/0"), tcp(80, cidr="0.0.0.0/0"))
    guardrails = [SSH_ANYWHERE, {"protocol": "tcp", "ports": "22", "cidr": "::/0"},
                  {"protocol": "tcp", "ports": "3389", "cidr": "0.0.0.0/0", "action": "fail"}]
    args = {"source_groups": ["web", "api", "rdp"], "guardrails": guardrails, **CLASSIC}
    moto.reset_calls()

    check = run_module(MODULE, args, check=True)
    assert mutating(moto) == []
    real = run_module(MODULE, args)

    assert check.rc != 0 and real.rc != 0
    assert check["changed"] is True and real["changed"] is True
    keys = ("source_group_name", "withheld_rules", "ingress", "egress", "code", "error", "created", "changed",
            "skipped_references")
    assert [{k: g[k] for k in keys} for g in check["groups"]] == [{k: g[k] for k in keys} for g in real["groups"]]
    assert pair_of(check, "web")["mirror_group_id"] == web_mirror
    assert [(r["from_port"], r["cidr_ip"]) for r in pair_of(real, "web")["ingress"]["revoke"]] == [(22, "0.0.0.0/0")]
    assert [(r["from_port"], r["cidr_ip"]) for r in pair_of(real, "web")["ingress"]["authorize"]] == [(9000, "10.0.0.0/8")]
    assert len(pair_of(real, "api")["withheld_rules"]) == 2 and pair_of(real, "rdp")["code"] == "guardrail"

    # the real run did what both said
    assert ingress_rules(ec2, web_mirror) == {("tcp", 443, 443, "0.0.0.0/0"), ("tcp", 8080, 8080, "10.0.0.0/8"),
                                              ("tcp", 9000, 9000, "10.0.0.0/8")}
    assert ingress_rules(ec2, group_named(ec2, vpc, "api")["GroupId"]) == {("tcp", 443, 443, "0.0.0.0/0")}
    assert group_named(ec2, vpc, "rdp") is None
    # and a check run now sees nothing left to do
    moto.reset_calls()
    after = run_module(MODULE, args, check=True)
    assert after["changed"] is False and mutating(moto) == []


# -- 8. bad patterns fail before any AWS call ----------------------------------------------------------

@pytest.mark.parametrize("module", [MODULE, INFO])
@pytest.mark.parametrize("guardrails,where,expected", [
    ([{"protocol": "tcp", "ports": "70000", "cidr": "0.0.0.0/0"}], "guardrails[0]", "0-65535"),
    ([SSH_ANYWHERE, {"protocol": "tcp", "ports": "22", "cidr": "0.0.0.0/33"}], "guardrails[1]", "0.0.0.0/33"),
    ([SSH_ANYWHERE, {"protocol": "tcpp", "ports": "22", "cidr": "::/0"}], "guardrails[1]", "tcpp"),
    ([{"protocol": "tcp", "ports": "22-x", "cidr": "0.0.0.0/0"}], "guardrails[0]", "1024-65535"),
])
def test_bad_pattern_fails_before_any_aws_call(run_module, moto, ec2, module, guardrails, where, expected):
    vpc = make_vpc(ec2)
    make_group(ec2, "web", link=vpc)
    args = {"guardrails": guardrails, **CLASSIC}
    if module == MODULE:
        args["source_group"] = "web"
    moto.reset_calls()

    result = run_module(module, args)

    assert result.rc != 0 and result["failed"] is True
    assert where in result["msg"] and expected in result["msg"], result["msg"]
    assert moto.calls() == []
    assert group_named(ec2, vpc, "web") is None
