"""classiclink_mirror_info: discovery and audit, never a mutating call."""

from __future__ import annotations

from tests.integration.ec2_world import allow, group_named, launch, make_group, make_vpc, mutating, tcp

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
