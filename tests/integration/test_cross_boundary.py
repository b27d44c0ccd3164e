"""Cross-boundary mirroring (issue 11): targets in other regions and accounts, several targets per source,
retargeting and pruning across scopes, bad inputs, check mode and the no-op, against the moto server.

moto's STS AssumeRole returns credentials of the role's account (any role name), so another account is
reached with ``target_role_arn: arn:aws:iam::{account}:role/...``; calls are counted at the server, per region.
"""

from __future__ import annotations

from collections import Counter

import boto3
import pytest

from tests.integration.ec2_world import (
    MIRRORED_FROM,
    MIRRORED_TO,
    actions,
    allow,
    describe,
    group_named,
    make_group,
    make_vpc,
    rules,
    tags,
    tcp,
)

MODULE = "classiclink_mirror_group"
HOME_ACCOUNT = "123456789012"  # moto's account for the harness's credentials
OTHER_ACCOUNT = "210987654321"
THIRD_ACCOUNT = "333344445555"
ROLE = "arn:aws:iam::{account}:role/ClassicLinkMirror"
LINK_TAG = "classiclinkmirror:linkToVPC"
READS_PER_NOOP = 10  # the budget per scope for a converged run


def vpc_arn(region: str, account: str, vpc_id: str) -> str:
    return "arn:aws:ec2:%s:%s:vpc/%s" % (region, account, vpc_id)


def source_and_targets(ec2, *targets):
    """A source VPC and a home target VPC in ``ec2``'s scope, and one target VPC per (client, region, account) of
    ``targets``: (source VPC, [home target, other targets...], the link tag value naming them all)."""
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    vpcs = [make_vpc(ec2, "10.21.0.0/16", classiclink=False)]
    link = [vpcs[0]]
    for index, (client, region, account) in enumerate(targets):
        vpcs.append(make_vpc(client, "10.%d.0.0/16" % (30 + 10 * index), classiclink=False))
        link.append(vpc_arn(region, account, vpcs[-1]))
    return source_vpc, vpcs, ",".join(link)


def group_arn(region: str, account: str, group_id: str) -> str:
    return "arn:aws:ec2:%s:%s:security-group/%s" % (region, account, group_id)


@pytest.fixture
def account_ec2(moto):
    """Factory: ``account_ec2(account, region)`` -> EC2 client acting in ``account`` (moto AssumeRole)."""

    def make(account: str, region: str = "us-east-1"):
        sts = boto3.client("sts", region_name=region, endpoint_url=moto.url,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        creds = sts.assume_role(RoleArn=ROLE.format(account=account), RoleSessionName="test")["Credentials"]
        return boto3.client("ec2", region_name=region, endpoint_url=moto.url, aws_access_key_id=creds["AccessKeyId"],
                            aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])

    return make


def ok(result):
    assert result.rc == 0, result.get("msg")
    return result


def mutating(moto):
    """Mutating EC2 calls (STS AssumeRole is recorded as mutating, and changes nothing)."""
    return [call["action"] for call in moto.mutating_calls() if call["service"] == "ec2"]


def by_scope(moto):
    """EC2 calls at the server per (account, region): the issue's budgets are per scope."""
    counted = Counter()
    for call in moto.calls(detail=True):
        if call["service"] == "ec2":
            counted[(call["account"], call["region"])] += 1
    return dict(counted)


def entries(result, source_id):
    return [entry for entry in result["groups"] if entry["source_group_id"] == source_id]


def test_cross_region_mirror_then_no_op(run_module, moto, ec2, ec2_client):
    eu = ec2_client("eu-west-1")
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    target = make_vpc(eu, "10.30.0.0/16", classiclink=False)
    web = make_group(ec2, "web", vpc_id=source_vpc, link=vpc_arn("eu-west-1", HOME_ACCOUNT, target))
    allow(ec2, web, tcp(443, cidr="10.0.0.0/8", description="https"), tcp(8080, group=web))
    moto.reset_calls()

    check = ok(run_module(MODULE, {"all_sources": True}, check=True, diff=True))
    assert check["changed"] is True and mutating(moto) == []
    (entry,) = check["groups"]
    assert entry["target"] == {"account": HOME_ACCOUNT, "region": "eu-west-1", "vpc_id": target}
    assert "(account %s, region eu-west-1)" % HOME_ACCOUNT in check["diff"][0]["before_header"]

    moto.reset_calls()
    real = ok(run_module(MODULE, {"all_sources": True}))
    first, first_scopes = moto.calls(), by_scope(moto)
    mirror = group_named(eu, target, "web")
    assert mirror is not None and real["groups"][0]["mirror_group_id"] == mirror["GroupId"]
    assert tags(mirror)[MIRRORED_FROM] == group_arn("us-east-1", HOME_ACCOUNT, web)
    assert ("tcp", 443, 443, "10.0.0.0/8", "https") in rules(mirror)
    assert ("tcp", 8080, 8080, mirror["GroupId"], None) in rules(mirror)  # self reference -> the mirror itself
    assert tags(describe(ec2, web))[MIRRORED_TO] == group_arn("eu-west-1", HOME_ACCOUNT, mirror["GroupId"])
    assert first_scopes[(HOME_ACCOUNT, "eu-west-1")] <= 3 * 1 + 15 and first_scopes[(HOME_ACCOUNT, "us-east-1")] <= 15, first_scopes
    assert not any(call["mutating"] and call["region"] == "us-east-1" and call["action"] != "CreateTags" for call in first)

    moto.reset_calls()
    again = ok(run_module(MODULE, {"all_sources": True}))
    assert again["changed"] is False and mutating(moto) == []
    for scope, count in by_scope(moto).items():
        assert count <= READS_PER_NOOP, (scope, actions(moto.calls()))


def test_cross_account_needs_target_role_arn_then_mirrors_with_it(run_module, moto, ec2, account_ec2):
    other = account_ec2(OTHER_ACCOUNT)
    target = make_vpc(other, "10.40.0.0/16", classiclink=False)
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    web = make_group(ec2, "web", vpc_id=source_vpc, link=vpc_arn("us-east-1", OTHER_ACCOUNT, target))
    allow(ec2, web, tcp(22, cidr="192.0.2.0/24"))
    moto.reset_calls()

    refused = run_module(MODULE, {"source_group": web})
    assert refused.rc != 0 and mutating(moto) == []
    (entry,) = refused["groups"]
    assert entry["code"] == "no_target_role" and "target_role_arn" in entry["error"] and OTHER_ACCOUNT in entry["error"]

    moto.reset_calls()
    args = {"source_group": web, "target_role_arn": ROLE, "target_role_external_id": "mirror-ext"}
    ok(run_module(MODULE, args))
    first = moto.calls()
    mirror = group_named(other, target, "web")
    assert mirror is not None and mirror["OwnerId"] == OTHER_ACCOUNT
    assert tags(mirror)[MIRRORED_FROM] == group_arn("us-east-1", HOME_ACCOUNT, web)
    assert ("tcp", 22, 22, "192.0.2.0/24", None) in rules(mirror)
    assert tags(describe(ec2, web))[MIRRORED_TO] == group_arn("us-east-1", OTHER_ACCOUNT, mirror["GroupId"])
    assert [call["action"] for call in first if call["service"] == "sts"].count("AssumeRole") == 1
    assert len([call for call in first if call["service"] == "ec2"]) <= 2 * 15 + 3

    moto.reset_calls()
    again = ok(run_module(MODULE, args))
    assert again["changed"] is False and mutating(moto) == []
    assert len([call for call in moto.calls() if call["service"] == "ec2"]) <= 2 * READS_PER_NOOP


def test_one_source_into_three_vpcs_in_two_regions_and_two_accounts_then_retarget_and_prune(
        run_module, moto, ec2, ec2_client, account_ec2):
    eu = ec2_client("eu-west-1")
    other = account_ec2(OTHER_ACCOUNT, "eu-west-1")
    source_vpc, (home_target, eu_target, other_target), link = source_and_targets(
        ec2, (eu, "eu-west-1", HOME_ACCOUNT), (other, "eu-west-1", OTHER_ACCOUNT))
    web = make_group(ec2, "web", vpc_id=source_vpc, link=link)
    app = make_group(ec2, "app", vpc_id=source_vpc, link=link)
    allow(ec2, web, tcp(443, cidr="10.0.0.0/8"), tcp(8080, group=app))
    args = {"all_sources": True, "target_role_arn": ROLE, "prune": True}
    moto.reset_calls()

    check = ok(run_module(MODULE, args, check=True, diff=True))
    assert mutating(moto) == [] and len(check["groups"]) == 6
    assert {(e["target"]["account"], e["target"]["region"]) for e in check["groups"]} == {
        (HOME_ACCOUNT, "us-east-1"), (HOME_ACCOUNT, "eu-west-1"), (OTHER_ACCOUNT, "eu-west-1")}

    moto.reset_calls()
    ok(run_module(MODULE, args))
    first, first_scopes = moto.calls(), by_scope(moto)
    mirrors = {}
    for client, vpc in ((ec2, home_target), (eu, eu_target), (other, other_target)):
        web_mirror, app_mirror = group_named(client, vpc, "web"), group_named(client, vpc, "app")
        assert web_mirror and app_mirror, vpc
        # the reference to another managed source becomes that source's mirror in the same VPC
        assert ("tcp", 8080, 8080, app_mirror["GroupId"], None) in rules(web_mirror)
        mirrors[vpc] = web_mirror["GroupId"]
    assert tags(group_named(ec2, home_target, "web"))[MIRRORED_FROM] == web  # own scope: the bare id, as before
    record = tags(describe(ec2, web))[MIRRORED_TO].split(",")
    assert record == [mirrors[home_target], group_arn("eu-west-1", HOME_ACCOUNT, mirrors[eu_target]),
                      group_arn("eu-west-1", OTHER_ACCOUNT, mirrors[other_target])]
    # 2 sources, 1 reference: at most 3N + M + 15 calls in each of the three scopes
    assert set(first_scopes) == {(HOME_ACCOUNT, "us-east-1"), (HOME_ACCOUNT, "eu-west-1"), (OTHER_ACCOUNT, "eu-west-1")}, first_scopes
    assert all(count <= 3 * 2 + 1 + 15 for count in first_scopes.values()), first_scopes

    moto.reset_calls()
    again = ok(run_module(MODULE, args))
    assert again["changed"] is False and mutating(moto) == []
    noop_scopes = by_scope(moto)
    assert len(noop_scopes) == 3 and all(count <= READS_PER_NOOP for count in noop_scopes.values()), noop_scopes

    # Retarget: the other account leaves the tag. Its mirror is an orphan found from the record alone:
    # without prune it is reported and kept (and stays in the record), with prune deleted.
    ec2.create_tags(Resources=[web], Tags=[{"Key": LINK_TAG, "Value": ",".join(link.split(",")[:2])}])
    kept = ok(run_module(MODULE, {"source_group": web, "target_role_arn": ROLE}))
    assert [o["group_id"] for o in kept["orphans"]] == [mirrors[other_target]]
    assert kept["orphans"][0]["reason"] == "retargeted"
    assert kept["orphans"][0]["target"] == {"account": OTHER_ACCOUNT, "region": "eu-west-1", "vpc_id": other_target}
    assert group_named(other, other_target, "web") is not None
    assert group_arn("eu-west-1", OTHER_ACCOUNT, mirrors[other_target]) in tags(describe(ec2, web))[MIRRORED_TO]

    moto.reset_calls()
    pruned = ok(run_module(MODULE, {"source_group": web, "target_role_arn": ROLE, "prune": True}))
    removed = [e for e in pruned["groups"] if e["orphan"]]
    assert [e["mirror_group_id"] for e in removed] == [mirrors[other_target]]
    assert removed[0]["target"]["account"] == OTHER_ACCOUNT
    assert group_named(other, other_target, "web") is None
    assert tags(describe(ec2, web))[MIRRORED_TO].split(",") == [mirrors[home_target], group_arn("eu-west-1", HOME_ACCOUNT, mirrors[eu_target])]

    moto.reset_calls()
    after = ok(run_module(MODULE, {"source_group": web, "target_role_arn": ROLE, "prune": True}))
    assert after["changed"] is False and mutating(moto) == []


def test_bad_inputs_fail_their_source_only_and_delete_nothing(run_module, moto, ec2, ec2_client):
    eu = ec2_client("eu-west-1")
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    home_target = make_vpc(ec2, "10.21.0.0/16", classiclink=False)
    eu_target = make_vpc(eu, "10.30.0.0/16", classiclink=False)
    web = make_group(ec2, "web", vpc_id=source_vpc, link=",".join([home_target, vpc_arn("eu-west-1", HOME_ACCOUNT, eu_target)]))
    ok(run_module(MODULE, {"all_sources": True, "prune": True}))
    mirrors = [group_named(ec2, home_target, "web")["GroupId"], group_named(eu, eu_target, "web")["GroupId"]]
    good = make_group(ec2, "good", vpc_id=source_vpc, link=home_target)

    # a malformed ARN: that source fails (tag, entry, accepted forms named), the other one goes on, nothing is deleted
    ec2.create_tags(Resources=[web], Tags=[{"Key": LINK_TAG, "Value": home_target + ",arn:aws:ec2:eu-west-1:12345:vpc/" + eu_target}])
    moto.reset_calls()
    bad = run_module(MODULE, {"all_sources": True, "prune": True})
    assert bad.rc != 0
    (failed,) = [entry for entry in bad["groups"] if entry["error"]]
    assert failed["source_group_id"] == web and failed["code"] == "bad_link_tag"
    assert LINK_TAG in failed["error"] and "arn:aws:ec2:eu-west-1:12345" in failed["error"] and "VPC ARN" in failed["error"]
    assert group_named(ec2, home_target, "good") is not None
    assert "DeleteSecurityGroup" not in mutating(moto) and bad["orphans"] == []
    assert group_named(ec2, home_target, "web")["GroupId"] == mirrors[0] and group_named(eu, eu_target, "web")["GroupId"] == mirrors[1]

    # a VPC ARN naming a VPC that does not exist: not_found naming account and region; no orphan either
    ec2.create_tags(Resources=[web], Tags=[{"Key": LINK_TAG, "Value": vpc_arn("eu-west-1", HOME_ACCOUNT, "vpc-0123456789abcdef0")}])
    missing = run_module(MODULE, {"source_group": web, "prune": True})
    (entry,) = missing["groups"]
    assert entry["code"] == "not_found" and "region eu-west-1" in entry["error"] and missing["orphans"] == []

    # option errors fail the module before any AWS call
    moto.reset_calls()
    both = run_module(MODULE, {"source_group": web, "vpc_id": home_target, "targets": [home_target]})
    assert both.rc != 0 and "mutually exclusive" in both["msg"]
    role = run_module(MODULE, {"source_group": web, "target_role_arn": "arn:aws:iam::{account}:user/x"})
    assert role.rc != 0 and "target_role_arn" in role["msg"]
    entry_error = run_module(MODULE, {"source_group": web, "targets": ["vpc-nothex"]})
    assert entry_error.rc != 0 and "option targets" in entry_error["msg"] and "vpc-nothex" in entry_error["msg"]
    assert [call for call in moto.calls() if call["service"] == "ec2"] == []


def test_targets_that_do_not_fit_in_a_link_tag_fail_the_source_before_any_call(run_module, moto, ec2, ec2_client):
    eu = ec2_client("eu-west-1")
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    web = make_group(ec2, "web", vpc_id=source_vpc)
    targets = [vpc_arn("eu-west-1", HOME_ACCOUNT, make_vpc(eu, "10.%d.0.0/16" % (30 + n), classiclink=False)) for n in range(5)]
    assert len(",".join(targets)) > 256  # EC2 would refuse the rewritten link tag after the mirrors were made
    moto.reset_calls()

    result = run_module(MODULE, {"source_group": web, "targets": targets})

    assert result.rc != 0 and mutating(moto) == []
    assert [entry["code"] for entry in entries(result, web)] == ["bad_link_tag"] * 5
    assert "EC2 tag values hold at most 256" in result["msg"]


def test_targets_option_overrides_and_rewrites_the_tag(run_module, moto, ec2, ec2_client):
    eu = ec2_client("eu-west-1")
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    eu_target = make_vpc(eu, "10.30.0.0/16", classiclink=False)
    web = make_group(ec2, "web", vpc_id=source_vpc)
    allow(ec2, web, tcp(80, cidr="10.0.0.0/8"))
    args = {"source_group": web, "targets": [vpc_arn("eu-west-1", HOME_ACCOUNT, eu_target)]}
    ok(run_module(MODULE, args))
    assert group_named(eu, eu_target, "web") is not None
    assert tags(describe(ec2, web))[LINK_TAG] == vpc_arn("eu-west-1", HOME_ACCOUNT, eu_target)
    moto.reset_calls()
    again = ok(run_module(MODULE, args))
    assert again["changed"] is False and mutating(moto) == []
    # the tag alone now says the same
    moto.reset_calls()
    tagged = ok(run_module(MODULE, {"source_group": web}))
    assert tagged["changed"] is False and mutating(moto) == []


def test_usage_audit_asks_each_mirrors_own_region(run_module, moto, ec2, ec2_client):
    """A mirror in another region is in use when a network interface THERE carries it (asked in its scope, not the
    module's own region, where no interface can carry it)."""
    eu = ec2_client("eu-west-1")
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    eu_target = make_vpc(eu, "10.30.0.0/16", classiclink=False)
    make_group(ec2, "web", vpc_id=source_vpc, link=vpc_arn("eu-west-1", HOME_ACCOUNT, eu_target))
    make_group(ec2, "idle", vpc_id=source_vpc, link=vpc_arn("eu-west-1", HOME_ACCOUNT, eu_target))
    ok(run_module(MODULE, {"all_sources": True}))
    web_mirror = group_named(eu, eu_target, "web")["GroupId"]
    subnet = eu.create_subnet(VpcId=eu_target, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    eu.create_network_interface(SubnetId=subnet, Groups=[web_mirror])

    moto.reset_calls()
    result = ok(run_module(MODULE, {"all_sources": True, "usage_audit": True}))

    in_use = {entry["source_group_name"]: entry["mirror_in_use"] for entry in result["groups"]}
    assert in_use == {"web": True, "idle": False}, in_use
    assert result["mirrors_in_use"] == 1 and result["mirrors_total"] == 2
    asked = [(call["region"], call["action"]) for call in moto.calls() if call["action"] == "DescribeNetworkInterfaces"]
    assert asked == [("eu-west-1", "DescribeNetworkInterfaces")], asked
