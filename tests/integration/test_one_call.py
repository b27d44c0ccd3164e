"""A scope's whole run in one classiclink_mirror_group call (link_instances, prune, role_arn, account_id).

What the role does per scope: mirror, link, prune from one set of describes, in one module process.
Checked against the moto server (calls counted at the server) and by describing afterwards.
"""

from __future__ import annotations

import boto3

from tests.integration.ec2_world import (
    MIRRORED_TO,
    actions,
    describe,
    group_named,
    launch,
    links,
    make_group,
    make_vpc,
    mutating,
    tags,
)

MODULE = "classiclink_mirror_group"
SCOPE = {"all_sources": True, "link_instances": True, "classic_vpc_id": "default"}
LINK_TAG = "classiclinkmirror:linkToVPC"
READS_PER_NOOP = 10  # the budget for a converged scope


def by_instance(result):
    return {item["instance_id"]: item for item in result["instances"]}


def test_one_call_mirrors_links_and_then_does_nothing(run_module, moto, ec2):
    vpc = make_vpc(ec2)
    web, ssh = make_group(ec2, "web", link=vpc), make_group(ec2, "ssh", link=vpc)
    both, only_web = launch(ec2, [web, ssh]), launch(ec2, [web])
    moto.reset_calls()

    check = run_module(MODULE, SCOPE, check=True, diff=True)
    assert check.rc == 0 and check["changed"] is True, check.get("msg")
    assert mutating(moto) == []
    assert {i: item["action"] for i, item in by_instance(check).items()} == {both[0]: "linked", only_web[0]: "linked"}
    assert any(entry["before_header"] == both[0] for entry in check["diff"])  # the links are in the diff too

    moto.reset_calls()
    real = run_module(MODULE, SCOPE)
    assert real.rc == 0 and real["changed"] is True, real.get("msg")
    mirrors = {name: group_named(ec2, vpc, name)["GroupId"] for name in ("web", "ssh")}
    assert links(ec2) == {both[0]: (vpc, set(mirrors.values())), only_web[0]: (vpc, {mirrors["web"]})}
    assert sorted(mutating(moto)) == sorted(["CreateSecurityGroup"] * 2 + ["CreateTags"] * 2 + ["AttachClassicLinkVpc"] * 2)
    # what check mode said is what the real run did (placeholders aside)
    assert {i: item["action"] for i, item in by_instance(real).items()} == {i: item["action"] for i, item in by_instance(check).items()}
    assert by_instance(real)[only_web[0]]["groups"] == [mirrors["web"]]

    moto.reset_calls()
    again = run_module(MODULE, SCOPE)
    assert again.rc == 0 and again["changed"] is False
    assert mutating(moto) == []
    assert len(moto.calls()) <= READS_PER_NOOP, actions(moto.calls())
    assert {item["action"] for item in again["instances"]} == {"unchanged"}


def test_retarget_relinks_then_prunes_the_old_mirror_in_the_same_call(run_module, moto, ec2):
    old_vpc, new_vpc = make_vpc(ec2), make_vpc(ec2, cidr="192.168.0.0/16")
    web = make_group(ec2, "web", link=old_vpc)
    (instance,) = launch(ec2, [web])
    assert run_module(MODULE, SCOPE).rc == 0
    old_mirror = group_named(ec2, old_vpc, "web")["GroupId"]
    assert links(ec2)[instance] == (old_vpc, {old_mirror})

    ec2.create_tags(Resources=[web], Tags=[{"Key": LINK_TAG, "Value": new_vpc}])
    moto.reset_calls()
    result = run_module(MODULE, dict(SCOPE, prune=True))
    assert result.rc == 0, result.get("msg")

    new_mirror = group_named(ec2, new_vpc, "web")["GroupId"]
    assert links(ec2)[instance] == (new_vpc, {new_mirror})
    assert group_named(ec2, old_vpc, "web") is None  # deleted: nothing was linked to it any more
    assert tags(describe(ec2, web))[MIRRORED_TO] == new_mirror
    order = mutating(moto)
    assert order.index("AttachClassicLinkVpc") < order.index("DeleteSecurityGroup")  # relinked before the delete
    assert [g["orphan"] for g in result["groups"] if g["orphan"]] == ["retargeted"]
    assert by_instance(result)[instance]["action"] == "relinked"


def test_the_module_assumes_the_scopes_role_and_checks_the_account(run_module, moto, ec2):
    account = "111111111111"
    role = "arn:aws:iam::%s:role/classiclink-mirror" % account
    creds = boto3.client("sts", endpoint_url=moto.url, region_name="us-east-1", aws_access_key_id="testing",
                         aws_secret_access_key="testing").assume_role(RoleArn=role, RoleSessionName="test")["Credentials"]
    member = boto3.client("ec2", endpoint_url=moto.url, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
                          aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    vpc = make_vpc(member)
    make_group(member, "web", link=vpc)
    caller_vpc = make_vpc(ec2)
    make_group(ec2, "web", link=caller_vpc)  # the caller's own account: must stay untouched

    moto.reset_calls()
    wrong = run_module(MODULE, dict(SCOPE, account_id="222222222222", role_arn=role))
    assert wrong.rc != 0 and mutating(moto) == []
    assert "scope account 222222222222" in wrong["msg"] and "the credentials are account %s's" % account in wrong["msg"]
    assert moto.calls() == []  # the role's ARN names its account: refused before any call

    result = run_module(MODULE, dict(SCOPE, account_id=account, role_arn=role, role_session_name="scope prod/eu"))
    assert result.rc == 0, result.get("msg")
    assert group_named(member, vpc, "web") is not None
    assert group_named(ec2, caller_vpc, "web") is None

    # without a role, account_id is checked against the caller's own account (sts:GetCallerIdentity)
    moto.reset_calls()
    own = run_module(MODULE, dict(SCOPE, account_id=account))
    assert own.rc != 0 and "the credentials are account 123456789012's" in own["msg"]
    assert actions(moto.calls()) == ["GetCallerIdentity"]


def test_bad_role_arn_and_account_id_fail_before_any_call(run_module, moto):
    moto.reset_calls()
    bad_role = run_module(MODULE, dict(SCOPE, role_arn="arn:aws:iam::1234:user/me"))
    assert bad_role.rc != 0 and "role_arn" in bad_role["msg"] and "arn:aws:iam::123456789012:role/NAME" in bad_role["msg"]
    bad_account = run_module(MODULE, dict(SCOPE, account_id="12345"))
    assert bad_account.rc != 0 and "account_id: '12345' is not an AWS account id" in bad_account["msg"]
    with_vpc_id = run_module(MODULE, {"source_group": "web", "vpc_id": "vpc-12345678", "link_instances": True})
    assert with_vpc_id.rc != 0 and "link_instances" in with_vpc_id["msg"]
    assert moto.calls() == []
