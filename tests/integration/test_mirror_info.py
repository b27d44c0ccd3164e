"""classiclink_mirror_info: discovery and audit, never a mutating call."""

from __future__ import annotations

from tests.integration.ec2_world import allow, group_named, launch, make_group, make_vpc, mutating, revoke, tcp
from tests.integration.test_cross_boundary import (  # noqa: F401 - account_ec2 is a fixture  # pylint: disable=unused-import
    HOME_ACCOUNT,
    LINK_TAG,
    OTHER_ACCOUNT,
    ROLE,
    account_ec2,
    ok,
    source_and_targets,
    vpc_arn,
)
from tests.integration.test_cross_boundary import mutating as mutating_ec2

INFO = "classiclink_mirror_info"
CLASSIC = {"classic_vpc_id": "default"}


def test_audit_before_and_after_a_run(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    web = make_group(ec2, "web", link=vpc)
    allow(ec2, web, tcp(8080, cidr="10.0.0.0/8"))
    make_group(ec2, "broken", link="vpc-nope")
    (instance,) = launch(ec2, [web])
    moto.reset_calls()

    before = run_module(INFO, CLASSIC)

    assert before.rc == 0 and before["changed"] is False and mutating(moto) == []
    assert before["drift"] is True
    problems = {s["group_name"]: s["problem"] for s in before["sources"]}
    assert problems["web"] is None and "vpc-nope" in problems["broken"]
    (pair,) = [p for p in before["pairs"] if p["source_group_name"] == "web"]
    assert pair["in_sync"] is False and pair["drift"]["create"] is True
    assert [r["from_port"] for r in pair["drift"]["ingress"]["authorize"]] == [8080]
    assert [(i["instance_id"], i["action"]) for i in before["instances"]] == [(instance, "linked")]

    assert run_module("classiclink_mirror_group", {"source_groups": ["web"], **CLASSIC}).rc == 0
    assert run_module("classiclink_instance_link", CLASSIC).rc == 0
    after = run_module(INFO, {"vpc_ids": [vpc], **CLASSIC})
    assert after["drift"] is False
    assert [p["in_sync"] for p in after["pairs"]] == [True]
    assert [i["action"] for i in after["instances"]] == ["unchanged"]

    mirror = group_named(ec2, vpc, "web")["GroupId"]
    allow(ec2, mirror, tcp(22, cidr="0.0.0.0/0"))
    drifted = run_module(INFO, CLASSIC)
    (pair,) = [p for p in drifted["pairs"] if p["source_group_name"] == "web"]
    assert drifted["drift"] is True and [r["cidr_ip"] for r in pair["drift"]["ingress"]["revoke"]] == ["0.0.0.0/0"]


def test_orphans_are_listed_and_count_as_drift_only_with_prune(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    web = make_group(ec2, "web", link=vpc)
    assert run_module("classiclink_mirror_group", {"source_group": "web", **CLASSIC}).rc == 0
    ec2.delete_tags(Resources=[web], Tags=[{"Key": "classiclinkmirror:linkToVPC"}])

    plain = run_module(INFO, {"instances": False, **CLASSIC})
    pruning = run_module(INFO, {"instances": False, "prune": True, **CLASSIC})

    assert [(o["group_name"], o["reason"], o["mirrored_from"]) for o in plain["orphans"]] == [("web", "untagged", web)]
    assert plain["drift"] is False and pruning["drift"] is True


# -- several accounts and regions (issue 11) -------------------------------------------------------------------------

def _where(entry):
    return (entry["target"]["account"], entry["target"]["region"], entry["target"]["vpc_id"])


def test_audit_across_regions_and_accounts_reports_every_pair_drift_and_orphans(run_module, moto, ec2, ec2_client, account_ec2):
    eu = ec2_client("eu-west-1")
    other = account_ec2(OTHER_ACCOUNT, "eu-west-1")
    source_vpc, (home_target, eu_target, other_target), link = source_and_targets(
        ec2, (eu, "eu-west-1", HOME_ACCOUNT), (other, "eu-west-1", OTHER_ACCOUNT))
    web = make_group(ec2, "web", vpc_id=source_vpc, link=link)
    allow(ec2, web, tcp(443, cidr="10.0.0.0/8"))
    wanted = {(HOME_ACCOUNT, "us-east-1", home_target), (HOME_ACCOUNT, "eu-west-1", eu_target), (OTHER_ACCOUNT, "eu-west-1", other_target)}
    moto.reset_calls()

    # Without target_role_arn the other account's pair fails (named), the others are audited; the module still answers.
    no_role = run_module(INFO, {"instances": False})
    assert no_role.rc == 0 and mutating_ec2(moto) == []
    (source,) = no_role["sources"]
    assert source["target_vpc_id"] == home_target and {_where(t) for t in [{"target": t} for t in source["targets"]]} == wanted
    by_where = {_where(p): p for p in no_role["pairs"]}
    assert set(by_where) == wanted
    refused = by_where[(OTHER_ACCOUNT, "eu-west-1", other_target)]
    assert refused["code"] == "no_target_role" and "target_role_arn" in refused["error"] and OTHER_ACCOUNT in refused["error"]
    assert by_where[(HOME_ACCOUNT, "eu-west-1", eu_target)]["drift"]["create"] is True
    assert no_role["drift"] is True and source["code"] == "no_target_role"
    scopes = {(s["account"], s["region"]): s for s in no_role["scopes"]}
    assert scopes[(OTHER_ACCOUNT, "eu-west-1")]["read"] is False and scopes[(HOME_ACCOUNT, "eu-west-1")]["read"] is True

    args = {"instances": False, "target_role_arn": ROLE}
    moto.reset_calls()
    before = ok(run_module(INFO, args))
    assert mutating_ec2(moto) == [] and all(p["error"] is None and p["drift"]["create"] for p in before["pairs"])
    assert {_where(p) for p in before["pairs"]} == wanted

    ok(run_module("classiclink_mirror_group", {"all_sources": True, "target_role_arn": ROLE}))
    moto.reset_calls()
    after = ok(run_module(INFO, args))
    assert mutating_ec2(moto) == [] and after["drift"] is False
    assert all(p["in_sync"] for p in after["pairs"]) and after["orphans"] == []
    mirrors = {_where(p): p["mirror_group_id"] for p in after["pairs"]}
    assert mirrors[(OTHER_ACCOUNT, "eu-west-1", other_target)] == group_named(other, other_target, "web")["GroupId"]
    assert (after["mirrors_in_use"], after["mirrors_total"]) == (0, 3)  # nothing carries them yet, in any scope

    # a manual rule on the mirror in the other region is drift on that pair only
    eu_mirror = mirrors[(HOME_ACCOUNT, "eu-west-1", eu_target)]
    allow(eu, eu_mirror, tcp(22, cidr="0.0.0.0/0"))
    drifted = ok(run_module(INFO, args))
    changed = [p for p in drifted["pairs"] if not p["in_sync"]]
    assert [_where(p) for p in changed] == [(HOME_ACCOUNT, "eu-west-1", eu_target)]
    assert [r["cidr_ip"] for r in changed[0]["drift"]["ingress"]["revoke"]] == ["0.0.0.0/0"]

    # The other account leaves the tag: its mirror is an orphan found from the source's record alone (no tag names
    # that account any more), drift only with prune.
    ec2.create_tags(Resources=[web], Tags=[{"Key": LINK_TAG, "Value": ",".join(link.split(",")[:2])}])
    revoke(eu, eu_mirror, tcp(22, cidr="0.0.0.0/0"))
    moto.reset_calls()
    plain = ok(run_module(INFO, args))
    pruning = ok(run_module(INFO, {**args, "prune": True}))
    assert mutating_ec2(moto) == []
    assert [(o["group_id"], o["reason"], o["target"]["account"], o["target"]["region"]) for o in plain["orphans"]] == [
        (mirrors[(OTHER_ACCOUNT, "eu-west-1", other_target)], "retargeted", OTHER_ACCOUNT, "eu-west-1")]
    assert len(plain["pairs"]) == 2 and plain["drift"] is False and pruning["drift"] is True


def test_audit_of_a_cross_region_source_without_mirrors_reads_that_region_only_once(run_module, moto, ec2, ec2_client):
    eu = ec2_client("eu-west-1")
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    target = make_vpc(eu, "10.30.0.0/16", classiclink=False)
    make_group(ec2, "web", vpc_id=source_vpc, link=vpc_arn("eu-west-1", HOME_ACCOUNT, target))
    make_group(ec2, "app", vpc_id=source_vpc, link=vpc_arn("eu-west-1", HOME_ACCOUNT, target))
    moto.reset_calls()
    report = ok(run_module(INFO, {"instances": False}))
    assert mutating_ec2(moto) == []
    assert sorted((p["source_group_name"], p["target"]["region"], p["drift"]["create"]) for p in report["pairs"]) == [
        ("app", "eu-west-1", True), ("web", "eu-west-1", True)]
    eu_calls = [call for call in moto.calls() if call["service"] == "ec2" and call["region"] == "eu-west-1"]
    assert len(eu_calls) <= 10 and [c["action"] for c in eu_calls].count("DescribeVpcs") == 1, eu_calls


def test_audit_with_address_lists_reports_list_drift_as_a_run_would(run_module, moto, ec2, ec2_client):
    from tests.integration.test_address_references import Cluster, launch_member

    eu = ec2_client("eu-west-1")
    world = Cluster(ec2, eu)
    args = {"instances": False, "references": "addresses"}
    moto.reset_calls()
    before = ok(run_module(INFO, args))
    assert mutating_ec2(moto) == [] and before["drift"] is True
    (planned,) = [entry for entry in before["address_lists"] if entry["group_id"] == world.g]
    assert planned["action"] == "created" and planned["region"] == "eu-west-1" and len(planned["entries"]) == 2
    (pair,) = [p for p in before["pairs"] if p["source_group_id"] == world.s]
    assert pair["skipped_references"] == [] and pair["target"]["region"] == "eu-west-1"
    assert {rule.get("prefix_list_id") for rule in pair["drift"]["ingress"]["authorize"]} >= {planned["prefix_list_id"]}
    assert ok(run_module(INFO, {"instances": False}))["address_lists"] == []  # references=drop reads no list

    ok(run_module("classiclink_mirror_group", {"all_sources": True, "references": "addresses"}))
    converged = ok(run_module(INFO, args))
    assert converged["drift"] is False and [e["action"] for e in converged["address_lists"]] == ["unchanged"]

    launch_member(ec2, world.subnet, [world.g])  # a new member: only its list drifts
    moto.reset_calls()
    grown = ok(run_module(INFO, args))
    assert mutating_ec2(moto) == [] and grown["drift"] is True and all(p["in_sync"] for p in grown["pairs"])
    assert [(e["action"], e["entries_added"]) for e in grown["address_lists"]] == [("modified", 1)]
