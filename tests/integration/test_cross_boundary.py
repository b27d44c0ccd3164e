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
    mutating,
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


def by_region(calls):
    counted = Counter()
    for call in calls:
        if call["service"] == "ec2":
            counted[call["region"]] += 1
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
    first = moto.calls()
    mirror = group_named(eu, target, "web")
    assert mirror is not None and real["groups"][0]["mirror_group_id"] == mirror["GroupId"]
    assert tags(mirror)[MIRRORED_FROM] == group_arn("us-east-1", HOME_ACCOUNT, web)
    assert ("tcp", 443, 443, "10.0.0.0/8", "https") in rules(mirror)
    assert ("tcp", 8080, 8080, mirror["GroupId"], None) in rules(mirror)  # self reference -> the mirror itself
    assert tags(describe(ec2, web))[MIRRORED_TO] == group_arn("eu-west-1", HOME_ACCOUNT, mirror["GroupId"])
    per_region = by_region(first)
    assert per_region["eu-west-1"] <= 3 * 1 + 15 and per_region["us-east-1"] <= 15, actions(first)
    assert not any(call["mutating"] and call["region"] == "us-east-1" and call["action"] != "CreateTags" for call in first)

    moto.reset_calls()
    again = ok(run_module(MODULE, {"all_sources": True}))
    assert again["changed"] is False and mutating(moto) == []
    for region, count in by_region(moto.calls()).items():
        assert count <= READS_PER_NOOP, (region, actions(moto.calls()))
