"""classiclink_instance_link against the moto server with the harness's ClassicLink emulation.

EC2-Classic instances and groups are moto's default-VPC ones (``classic_vpc_id: default``).
"""

from __future__ import annotations

from tests.integration.ec2_world import group_named, launch, links, make_group, make_vpc, mutating

MIRROR = "classiclink_mirror_group"
LINK = "classiclink_instance_link"
CLASSIC = {"classic_vpc_id": "default"}


def mirrored(run_module, ec2, names, vpc):
    """Source groups (tagged to ``vpc``) and their mirrors, made by the real module."""
    sources = {name: make_group(ec2, name, link=vpc) for name in names}
    result = run_module(MIRROR, {"source_groups": list(sources), **CLASSIC})
    assert result.rc == 0, result.get("msg")
    mirrors = {name: group_named(ec2, vpc, name)["GroupId"] for name in names}
    return sources, mirrors


def by_instance(result):
    return {item["instance_id"]: item for item in result["instances"]}


def test_link_relink_and_in_sync(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    sources, mirrors = mirrored(run_module, ec2, ["web", "ssh"], vpc)
    (instance,) = launch(ec2, [sources["web"]])

    first = run_module(LINK, {"instance_id": instance, **CLASSIC})
    assert first.rc == 0, (first.get("msg"), first["instances"])
    assert by_instance(first)[instance]["action"] == "linked"
    assert links(ec2)[instance] == (vpc, {mirrors["web"]})

    ec2.modify_instance_attribute(InstanceId=instance, Groups=[sources["web"], sources["ssh"]])
    moto.reset_calls()
    second = run_module(LINK, {"instance_id": instance, **CLASSIC})
    assert by_instance(second)[instance]["action"] == "relinked"
    assert mutating(moto) == ["DetachClassicLinkVpc", "AttachClassicLinkVpc"]
    assert links(ec2)[instance] == (vpc, {mirrors["web"], mirrors["ssh"]})

    moto.reset_calls()
    third = run_module(LINK, {"instance_id": instance, **CLASSIC})
    assert third["changed"] is False and by_instance(third)[instance]["action"] == "unchanged"
    assert mutating(moto) == []


def test_check_mode_reports_the_real_actions_without_mutating(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    sources, _mirrors = mirrored(run_module, ec2, ["web"], vpc)
    instances = launch(ec2, [sources["web"]], count=3)
    ec2.stop_instances(InstanceIds=instances[2:])
    moto.reset_calls()

    check = run_module(LINK, {"instance_ids": instances, **CLASSIC}, check=True, diff=True)
    assert mutating(moto) == [] and check["changed"] is True and len(check["diff"]) == 2
    real = run_module(LINK, {"instance_ids": instances, **CLASSIC})
    assert [(i["instance_id"], i["action"]) for i in check["instances"]] == [(i["instance_id"], i["action"]) for i in real["instances"]]
    assert sorted(mutating(moto)) == ["AttachClassicLinkVpc", "AttachClassicLinkVpc"]


def test_conflicting_vpcs_are_skipped_with_a_reason(run_module, moto, ec2):
    vpc_a, vpc_b = make_vpc(ec2), make_vpc(ec2, cidr="192.168.0.0/16")
    src_a, _mirrors_a = mirrored(run_module, ec2, ["a"], vpc_a)
    src_b, _mirrors_b = mirrored(run_module, ec2, ["b"], vpc_b)
    (instance,) = launch(ec2, [src_a["a"], src_b["b"]])
    moto.reset_calls()
    result = run_module(LINK, {"instance_id": instance, **CLASSIC})
    item = by_instance(result)[instance]
    assert result.rc == 0 and item["action"] == "skipped"
    assert vpc_a in item["reason"] and vpc_b in item["reason"]
    assert mutating(moto) == [] and instance not in links(ec2)


def test_six_groups_is_an_error_for_that_instance_only(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    names = ["g%d" % i for i in range(6)]
    sources, _mirrors = mirrored(run_module, ec2, names, vpc)
    (crowded,) = launch(ec2, list(sources.values()))
    (fine,) = launch(ec2, [sources["g0"]])
    result = run_module(LINK, {"instance_ids": [crowded, fine], **CLASSIC})
    assert result.rc != 0 and crowded in result["msg"] and "5" in result["msg"]
    assert by_instance(result)[crowded]["action"] == "error"
    assert by_instance(result)[fine]["action"] == "linked" and fine in links(ec2)


def test_stopped_instance_is_skipped(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    sources, _mirrors = mirrored(run_module, ec2, ["web"], vpc)
    (instance,) = launch(ec2, [sources["web"]])
    ec2.stop_instances(InstanceIds=[instance])
    result = run_module(LINK, {"instance_id": instance, **CLASSIC})
    item = by_instance(result)[instance]
    assert item["action"] == "skipped" and "stopped" in item["reason"]
    assert links(ec2) == {}


def test_state_absent_detaches(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    sources, _mirrors = mirrored(run_module, ec2, ["web"], vpc)
    (instance,) = launch(ec2, [sources["web"]])
    run_module(LINK, {"instance_id": instance, **CLASSIC})
    result = run_module(LINK, {"instance_id": instance, "state": "absent", **CLASSIC})
    assert by_instance(result)[instance]["action"] == "unlinked" and links(ec2) == {}


def test_prune_removes_a_stale_link_and_leaves_others(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    sources, mirrors = mirrored(run_module, ec2, ["web"], vpc)
    plain = make_group(ec2, "plain")
    stale, kept = launch(ec2, [sources["web"]], count=2)
    assert run_module(LINK, {**CLASSIC})["changed"] is True
    ec2.modify_instance_attribute(InstanceId=stale, Groups=[plain])

    without_prune = run_module(LINK, {**CLASSIC})
    assert without_prune["changed"] is False and "prune" in by_instance(without_prune)[stale]["reason"]
    pruned = run_module(LINK, {"prune": True, **CLASSIC})
    assert by_instance(pruned)[stale]["action"] == "unlinked"
    assert links(ec2) == {kept: (vpc, {mirrors["web"]})}


def test_vpc_without_classiclink_is_a_clear_error_unless_enabled(run_module, moto, ec2):
    vpc = make_vpc(ec2, classiclink=False)
    sources, mirrors = mirrored(run_module, ec2, ["web"], vpc)
    (instance,) = launch(ec2, [sources["web"]])
    moto.reset_calls()
    refused = run_module(LINK, {"instance_id": instance, **CLASSIC})
    assert refused.rc != 0 and vpc in refused["msg"] and "enable_classiclink" in refused["msg"]
    assert mutating(moto) == []

    enabled = run_module(LINK, {"instance_id": instance, "enable_classiclink": True, **CLASSIC})
    assert enabled.rc == 0 and enabled["enabled_classiclink"] == [vpc]
    assert ec2.describe_vpc_classic_link(VpcIds=[vpc])["Vpcs"][0]["ClassicLinkEnabled"] is True
    assert links(ec2)[instance] == (vpc, {mirrors["web"]})


def test_missing_instance_is_an_error_naming_it(run_module, moto, ec2):
    result = run_module(LINK, {"instance_id": "i-0123456789abcdef0", **CLASSIC})
    assert result.rc != 0 and "i-0123456789abcdef0" in result["msg"]
