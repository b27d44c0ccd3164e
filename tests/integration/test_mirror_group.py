"""classiclink_mirror_group against the moto server, checked by describing the groups afterwards.

API calls are counted at the server (the harness's recorder), never by the module.
"""

from __future__ import annotations

import pytest

from tests.integration.ec2_world import (
    GUIDE_LINK_TAG,
    MIRRORED_FROM,
    MIRRORED_TO,
    allow,
    describe,
    group_named,
    make_group,
    make_vpc,
    mutating,
    revoke,
    rules,
    tags,
    tcp,
)

MODULE = "classiclink_mirror_group"
DEFAULT_VPC = {"classic_vpc_id": "default"}  # moto's default VPC stands in for EC2-Classic


def converge(run_module, moto, args, expect_changed=True):
    """One real run, then assert the second run is a no-op with zero mutating calls."""
    first = run_module(MODULE, args)
    assert first.rc == 0, first.get("msg")
    assert first["changed"] is expect_changed
    moto.reset_calls()
    second = run_module(MODULE, args)
    assert second.rc == 0 and second["changed"] is False, second
    assert mutating(moto) == []
    return first


def test_create_copies_name_description_and_sets_both_tags_at_create(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "web", link=vpc, description="web backends")
    allow(ec2, src, tcp(8080, cidr="10.1.0.0/16", description="lb"))
    moto.reset_calls()

    result = run_module(MODULE, {"source_group": "web"})

    assert result.rc == 0 and result["changed"] is True
    mirror = group_named(ec2, vpc, "web")
    assert mirror["GroupId"] == result["group_id"]
    assert mirror["Description"] == "web backends"
    assert tags(mirror)[MIRRORED_FROM] == src
    assert tags(describe(ec2, src))[MIRRORED_TO] == mirror["GroupId"]
    assert rules(mirror) == {("tcp", 8080, 8080, "10.1.0.0/16", "lb")}
    # the mirror's tag came with CreateSecurityGroup (TagSpecifications): one CreateTags, for the source
    assert sorted(mutating(moto)) == sorted(["CreateSecurityGroup", "CreateTags", "AuthorizeSecurityGroupIngress"])


def test_second_run_and_check_mode_make_no_mutating_calls(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "web", link=vpc)
    allow(ec2, src, tcp(22, cidr="192.0.2.0/24"), tcp(443, cidr6="2001:db8::/64"))
    moto.reset_calls()

    check = run_module(MODULE, {"source_group": src}, check=True, diff=True)
    assert check["changed"] is True and mutating(moto) == []
    assert check["diff"] and check["diff"][0]["after"]["ingress"]

    real = converge(run_module, moto, {"source_group": src})
    for key in ("created", "ingress", "egress", "skipped_references"):
        assert check["groups"][0][key] == real["groups"][0][key]


def test_add_revoke_and_port_change(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "app", link=vpc)
    allow(ec2, src, tcp(22, cidr="10.0.0.0/8"), tcp(80, cidr="0.0.0.0/0"))
    converge(run_module, moto, {"source_group": "app"})

    revoke(ec2, src, tcp(22, cidr="10.0.0.0/8"), tcp(80, cidr="0.0.0.0/0"))
    allow(ec2, src, tcp(2222, cidr="10.0.0.0/8"), tcp(8443, cidr="0.0.0.0/0"))
    moto.reset_calls()
    result = run_module(MODULE, {"source_group": "app"})

    assert result["changed"] is True
    assert rules(group_named(ec2, vpc, "app")) == {("tcp", 2222, 2222, "10.0.0.0/8", None), ("tcp", 8443, 8443, "0.0.0.0/0", None)}
    assert sorted(mutating(moto)) == ["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"]
    assert len(result["groups"][0]["ingress"]["authorize"]) == 2 and len(result["groups"][0]["ingress"]["revoke"]) == 2


def test_self_reference_points_at_the_mirror(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "cluster", link=vpc)
    allow(ec2, src, tcp(7000, group=src))
    converge(run_module, moto, {"source_group": "cluster"})
    mirror = group_named(ec2, vpc, "cluster")
    assert rules(mirror) == {("tcp", 7000, 7000, mirror["GroupId"], None)}


def test_reference_to_other_managed_group_creates_its_mirror(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    web = make_group(ec2, "web", link=vpc)
    lb = make_group(ec2, "lb", link=vpc)
    allow(ec2, web, tcp(8080, group=lb))

    result = converge(run_module, moto, {"source_group": "web"})

    lb_mirror = group_named(ec2, vpc, "lb")
    assert lb_mirror is not None and tags(lb_mirror)[MIRRORED_FROM] == lb
    assert tags(describe(ec2, lb))[MIRRORED_TO] == lb_mirror["GroupId"]
    assert rules(group_named(ec2, vpc, "web")) == {("tcp", 8080, 8080, lb_mirror["GroupId"], None)}
    assert [g["referenced_only"] for g in result["groups"]] == [False, True]


def test_reference_cycle_converges_in_one_invocation(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    a = make_group(ec2, "a", link=vpc)
    b = make_group(ec2, "b", link=vpc)
    allow(ec2, a, tcp(1000, group=b))
    allow(ec2, b, tcp(2000, group=a))

    converge(run_module, moto, {"source_groups": ["a", "b"]})

    ma, mb = group_named(ec2, vpc, "a"), group_named(ec2, vpc, "b")
    assert rules(ma) == {("tcp", 1000, 1000, mb["GroupId"], None)}
    assert rules(mb) == {("tcp", 2000, 2000, ma["GroupId"], None)}


def test_reference_to_unmanaged_group_is_dropped_and_reported(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "web", link=vpc)
    other = make_group(ec2, "untagged")
    allow(ec2, src, tcp(80, group=other), tcp(81, cidr="10.0.0.0/8"))

    result = converge(run_module, moto, {"source_group": "web"})

    skipped = result["groups"][0]["skipped_references"]
    assert [s["group_id"] for s in skipped] == [other] and "not managed" in skipped[0]["reason"]
    assert any("rule dropped" in str(w) for w in result.get("warnings", []))
    assert rules(group_named(ec2, vpc, "web")) == {("tcp", 81, 81, "10.0.0.0/8", None)}


def test_hand_added_vpc_group_and_prefix_list_on_mirror_are_preserved(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "web", link=vpc)  # default VPC group = EC2-Classic stand-in
    allow(ec2, src, tcp(80, cidr="10.0.0.0/8"))
    converge(run_module, moto, {"source_group": "web", **DEFAULT_VPC})
    mirror = group_named(ec2, vpc, "web")["GroupId"]
    elb = make_group(ec2, "vpc-elb", vpc_id=vpc)
    plist = ec2.create_managed_prefix_list(PrefixListName="office", MaxEntries=2, AddressFamily="IPv4")["PrefixList"]["PrefixListId"]
    allow(ec2, mirror, tcp(80, group=elb), tcp(443, prefix_list=plist), tcp(9999, cidr="203.0.113.0/24"))
    moto.reset_calls()

    result = run_module(MODULE, {"source_group": "web", **DEFAULT_VPC})

    assert rules(describe(ec2, mirror)) == {
        ("tcp", 80, 80, "10.0.0.0/8", None), ("tcp", 80, 80, elb, None), ("tcp", 443, 443, plist, None)}
    assert [r["cidr_ip"] for r in result["groups"][0]["ingress"]["revoke"]] == ["203.0.113.0/24"]
    assert mutating(moto) == ["RevokeSecurityGroupIngress"]


def test_description_only_change_uses_the_update_call(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "web", link=vpc)
    allow(ec2, src, tcp(22, cidr="10.0.0.0/8", description="old"))
    converge(run_module, moto, {"source_group": "web"})
    ec2.update_security_group_rule_descriptions_ingress(GroupId=src, IpPermissions=[tcp(22, cidr="10.0.0.0/8", description="new")])
    moto.reset_calls()

    result = run_module(MODULE, {"source_group": "web"})

    assert result["changed"] is True
    assert mutating(moto) == ["UpdateSecurityGroupRuleDescriptionsIngress"]
    assert rules(group_named(ec2, vpc, "web")) == {("tcp", 22, 22, "10.0.0.0/8", "new")}


def test_default_group_maps_onto_the_vpc_default_group(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    legacy = make_vpc(ec2, cidr="10.30.0.0/16", classiclink=False)
    src = group_named(ec2, legacy, "default")["GroupId"]
    ec2.create_tags(Resources=[src], Tags=[{"Key": GUIDE_LINK_TAG, "Value": vpc}])
    allow(ec2, src, tcp(5432, cidr="10.30.0.0/16"))

    result = converge(run_module, moto, {"source_group": src})

    target_default = group_named(ec2, vpc, "default")
    assert result["groups"][0]["adopted"] is True and result["groups"][0]["created"] is False
    assert tags(target_default)[MIRRORED_FROM] == src
    assert ("tcp", 5432, 5432, "10.30.0.0/16", None) in rules(target_default)
    assert len([g for g in ec2.describe_security_groups()["SecurityGroups"] if g.get("VpcId") == vpc]) == 1


def test_vpc_source_mirrors_egress(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    legacy = make_vpc(ec2, cidr="10.30.0.0/16", classiclink=False)
    src = make_group(ec2, "db", vpc_id=legacy, link=vpc)
    ec2.revoke_security_group_egress(GroupId=src, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    allow(ec2, src, tcp(443, cidr="198.51.100.0/24"), egress=True)

    converge(run_module, moto, {"source_group": src})

    assert rules(group_named(ec2, vpc, "db"), egress=True) == {("tcp", 443, 443, "198.51.100.0/24", None)}


def test_classic_source_leaves_default_egress_alone(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    make_group(ec2, "web", link=vpc)
    converge(run_module, moto, {"source_group": "web", **DEFAULT_VPC})
    assert rules(group_named(ec2, vpc, "web"), egress=True) == {("-1", None, None, "0.0.0.0/0", None)}


def test_state_absent_deletes_mirror_and_untags_source(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "web", link=vpc)
    converge(run_module, moto, {"source_group": "web"})

    result = converge(run_module, moto, {"source_group": "web", "state": "absent"})

    assert group_named(ec2, vpc, "web") is None
    assert MIRRORED_TO not in tags(describe(ec2, src))
    assert result["groups"][0]["deleted"]


def test_desired_rules_over_quota_fail_before_any_change(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "big", link=vpc)
    # 60 CIDR rules + 1 prefix-list rule = 61 rules as EC2 counts them (moto's own check skips prefix lists)
    allow(ec2, src, *[tcp(1000 + i, cidr="10.0.0.0/8") for i in range(60)])
    plist = ec2.create_managed_prefix_list(PrefixListName="p", MaxEntries=1, AddressFamily="IPv4")["PrefixList"]["PrefixListId"]
    allow(ec2, src, tcp(9000, prefix_list=plist))
    moto.reset_calls()

    result = run_module(MODULE, {"source_group": "big", "rules_quota": 60})

    assert result.rc != 0 and "61" in result["msg"] and "60" in result["msg"]
    assert mutating(moto) == []
    assert group_named(ec2, vpc, "big") is None


@pytest.mark.parametrize("quota,expected", [(60, ["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"]),
                                            (4, ["RevokeSecurityGroupIngress", "AuthorizeSecurityGroupIngress"])])
def test_authorize_first_unless_the_union_exceeds_the_quota(run_module, moto, ec2, quota, expected):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "web", link=vpc)
    allow(ec2, src, *[tcp(p, cidr="10.0.0.0/8") for p in (1, 2, 3)])
    converge(run_module, moto, {"source_group": "web", "rules_quota": quota})
    revoke(ec2, src, tcp(1, cidr="10.0.0.0/8"), tcp(2, cidr="10.0.0.0/8"))
    allow(ec2, src, tcp(4, cidr="10.0.0.0/8"), tcp(5, cidr="10.0.0.0/8"))
    moto.reset_calls()

    result = run_module(MODULE, {"source_group": "web", "rules_quota": quota})

    assert result.rc == 0
    assert mutating(moto) == expected
    assert result["groups"][0]["ingress"]["revoke_first"] is (quota == 4)
    assert {r[1] for r in rules(group_named(ec2, vpc, "web"))} == {3, 4, 5}


def test_vpc_id_option_writes_the_link_tag(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "web")
    converge(run_module, moto, {"source_group": src, "vpc_id": vpc})
    assert tags(describe(ec2, src))["classiclinkmirror:linkToVPC"] == vpc
    # the tag is now the declaration: a run without vpc_id needs nothing
    assert run_module(MODULE, {"source_group": src})["changed"] is False


def test_extra_tags_and_purge(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    make_group(ec2, "web", link=vpc)
    converge(run_module, moto, {"source_group": "web", "tags": {"wave": "1", "team": "net"}})
    converge(run_module, moto, {"source_group": "web", "tags": {"wave": "2"}})
    mirror_tags = tags(group_named(ec2, vpc, "web"))
    assert mirror_tags.get("wave") == "2" and "team" not in mirror_tags and MIRRORED_FROM in mirror_tags


def test_one_bad_pair_does_not_stop_the_others(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    make_group(ec2, "good", link=vpc)
    make_group(ec2, "bad", link="vpc-0000000000000dead")
    result = run_module(MODULE, {"source_groups": ["bad", "good"]})
    assert result.rc != 0 and "vpc-0000000000000dead" in result["msg"]
    assert group_named(ec2, vpc, "good") is not None
    assert result["changed"] is True


# -- bad input: a clear error naming the resource, nothing modified ----------------------------

def _setup_bad(ec2, case):
    vpc = make_vpc(ec2)
    if case == "unknown":
        return {"source_group": "sg-0123456789abcdef0"}, "sg-0123456789abcdef0"
    if case == "ambiguous":
        legacy = make_vpc(ec2, cidr="10.30.0.0/16", classiclink=False)
        make_group(ec2, "twin", link=vpc)
        make_group(ec2, "twin", vpc_id=legacy, link=vpc)
        return {"source_group": "twin"}, "ambiguous"
    if case == "malformed":
        make_group(ec2, "web", link="vpc-XYZ")
        return {"source_group": "web"}, "vpc-XYZ"
    if case == "missing_vpc":
        make_group(ec2, "web", link="vpc-0123456789abcdef0")
        return {"source_group": "web"}, "vpc-0123456789abcdef0"
    if case == "own_vpc":
        src = make_group(ec2, "web", vpc_id=vpc, link=vpc)
        return {"source_group": src}, "own VPC"
    if case == "unmanaged_clash":
        src = make_group(ec2, "web", link=vpc)
        make_group(ec2, "web", vpc_id=vpc)
        return {"source_group": src}, "set adopt"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["unknown", "ambiguous", "malformed", "missing_vpc", "own_vpc", "unmanaged_clash"])
def test_bad_input_fails_clearly_and_changes_nothing(run_module, moto, ec2, case):
    args, expected = _setup_bad(ec2, case)
    moto.reset_calls()
    result = run_module(MODULE, args)
    assert result.rc != 0
    assert expected in result["msg"], result["msg"]
    assert mutating(moto) == []


def test_adopt_takes_over_a_same_name_group(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "web", link=vpc)
    existing = make_group(ec2, "web", vpc_id=vpc)
    result = converge(run_module, moto, {"source_group": src, "adopt": True})
    assert result["groups"][0]["adopted"] is True
    assert tags(describe(ec2, existing))[MIRRORED_FROM] == src


def test_prune_deletes_orphans_and_retargets(run_module, moto, ec2):
    vpc, new_vpc = make_vpc(ec2), make_vpc(ec2, cidr="192.168.0.0/16")
    gone = make_group(ec2, "gone", link=vpc)
    untagged = make_group(ec2, "untagged", link=vpc)
    moved = make_group(ec2, "moved", link=vpc)
    typo = make_group(ec2, "typo", link=vpc)
    converge(run_module, moto, {"source_groups": ["gone", "untagged", "moved", "typo"]})
    ec2.delete_security_group(GroupId=gone)
    ec2.delete_tags(Resources=[untagged], Tags=[{"Key": "classiclinkmirror:linkToVPC"}])
    ec2.create_tags(Resources=[moved], Tags=[{"Key": "classiclinkmirror:linkToVPC", "Value": new_vpc}])
    ec2.create_tags(Resources=[typo], Tags=[{"Key": "classiclinkmirror:linkToVPC", "Value": "vpc-oops"}])

    check = run_module(MODULE, {"source_groups": ["moved"], "prune": True}, check=True)
    result = converge(run_module, moto, {"source_groups": ["moved"], "prune": True})

    orphans = {g["source_ref"]: g["orphan"] for g in result["groups"] if g["orphan"]}
    assert orphans == {gone: "source_gone", untagged: "untagged", moved: "retargeted"}
    assert {g["source_ref"]: g["orphan"] for g in check["groups"] if g["orphan"]} == orphans
    names_left = {g["GroupName"] for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]}
    assert names_left == {"default", "typo"}  # a tag that cannot be read never deletes a mirror
    new_mirror = group_named(ec2, new_vpc, "moved")
    assert tags(describe(ec2, moved))[MIRRORED_TO] == new_mirror["GroupId"]
    assert MIRRORED_TO not in tags(describe(ec2, untagged))


def test_prune_alone_needs_no_sources(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "web", link=vpc)
    converge(run_module, moto, {"source_group": "web"})
    ec2.delete_security_group(GroupId=src)
    result = converge(run_module, moto, {"prune": True, "prune_vpc_ids": [vpc]})
    assert [g["orphan"] for g in result["groups"]] == ["source_gone"]
    assert group_named(ec2, vpc, "web") is None


def test_all_sources_mirrors_every_tagged_group_of_the_chosen_vpcs(run_module, moto, ec2):
    vpc, other_vpc = make_vpc(ec2), make_vpc(ec2, cidr="192.168.0.0/16")
    make_group(ec2, "web", link=vpc)
    make_group(ec2, "ssh", link=vpc, tag_key=GUIDE_LINK_TAG)
    make_group(ec2, "elsewhere", link=other_vpc)
    make_group(ec2, "untagged")

    result = converge(run_module, moto, {"all_sources": True, "vpc_ids": [vpc]})

    assert sorted(g["source_group_name"] for g in result["groups"]) == ["ssh", "web"]
    assert group_named(ec2, other_vpc, "elsewhere") is None
    assert run_module(MODULE, {"all_sources": True, "source_group": "web"}).rc != 0  # mutually exclusive


def test_orphans_are_reported_without_prune_and_left_alone(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    src = make_group(ec2, "web", link=vpc)
    converge(run_module, moto, {"source_group": "web"})
    ec2.delete_tags(Resources=[src], Tags=[{"Key": "classiclinkmirror:linkToVPC"}])
    moto.reset_calls()
    result = run_module(MODULE, {"all_sources": True})
    assert result["changed"] is False and mutating(moto) == []
    assert [(o["group_name"], o["reason"]) for o in result["orphans"]] == [("web", "untagged")]
    assert group_named(ec2, vpc, "web") is not None


def test_many_dropped_rules_make_one_warning_naming_the_first_five(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    unmanaged = make_group(ec2, "legacy")
    sources = [make_group(ec2, "web%d" % n, link=vpc) for n in range(3)]
    for source in sources:
        allow(ec2, source, tcp(80, group=unmanaged), tcp(443, group=unmanaged))  # 6 references nobody mirrors

    result = run_module(MODULE, {"all_sources": True})

    assert result.rc == 0, result.get("msg")
    assert sum(len(entry["skipped_references"]) for entry in result["groups"]) == 6
    warnings = [w["event"]["msg"] if isinstance(w, dict) else str(w) for w in result.get("warnings", [])]  # 2.19: WarningSummary
    dropped = [w for w in warnings if "dropped from the mirror" in w]
    assert len(dropped) == 1 and dropped[0].startswith("6 rules dropped from the mirrors"), dropped
    assert dropped[0].count("rule dropped from the mirror:") == 5
