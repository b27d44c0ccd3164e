"""The ownership invariant and its checker.

The harness records, for every EC2 mutating call, its targets and whether it
came from the collection (amazon.aws's AnsibleAWSModule sends the User-Agent
``APN/1.0 Ansible/<core> amazon.aws/<version> Botocore/<version>``; the tests' own
boto3 calls send ``Boto3/...``), and whether each target group carried the
mirroredFrom tag before the call ran.  tests/conftest.py fails any
harness-using test in which the collection touched a group it does not own.
These tests make sure that checker sees what it must, ignores what it may,
and really fails a test.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.integration.ec2_world import MIRRORED_FROM, MIRRORED_TO, make_vpc
from tests.support.devpaths import REPO_ROOT

# What amazon.aws 10's boto3_conn sends (botocore appends its own token).
COLLECTION_USER_AGENT = "APN/1.0 Ansible/2.19.14 amazon.aws/10.1.2"
PERM = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}

pytestmark = pytest.mark.integration


def collection_like_client(url: str) -> Any:
    """A boto3 EC2 client that identifies itself as the collection does."""
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing").client(
        "ec2", region_name="us-east-1", endpoint_url=url,
        config=Config(user_agent=COLLECTION_USER_AGENT, retries={"mode": "standard", "total_max_attempts": 1}))


def test_checker_flags_collection_calls_on_unowned_groups_only(moto, ec2):
    start = moto.ownership()["next_seq"]
    vpc = make_vpc(ec2)
    unowned = ec2.create_security_group(GroupName="hand-made", Description="x", VpcId=vpc)["GroupId"]
    mirror = ec2.create_security_group(GroupName="mirror", Description="x", VpcId=vpc, TagSpecifications=[
        {"ResourceType": "security-group", "Tags": [{"Key": MIRRORED_FROM, "Value": "sg-0123456789abcdef0"}]}])["GroupId"]
    source = ec2.create_security_group(GroupName="source", Description="x")["GroupId"]
    collection = collection_like_client(moto.url)

    # the tests' own calls never count, whatever they touch
    ec2.authorize_security_group_ingress(GroupId=unowned, IpPermissions=[PERM])
    assert moto.ownership_violations(since=start) == []

    # allowed: anything on a mirror; adoption (writes mirroredFrom); relationship and link tags on a source
    collection.authorize_security_group_ingress(GroupId=mirror, IpPermissions=[PERM])
    collection.create_tags(Resources=[source], Tags=[{"Key": MIRRORED_TO, "Value": mirror}])
    collection.delete_tags(Resources=[source], Tags=[{"Key": MIRRORED_TO}])
    collection.create_tags(Resources=[source], Tags=[{"Key": "classicmirror:linkToVPC", "Value": vpc}])
    assert moto.ownership_violations(since=start) == []
    default = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                    {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    collection.create_tags(Resources=[default["GroupId"]], Tags=[{"Key": MIRRORED_FROM, "Value": source}, {"Key": "team", "Value": "a"}])
    collection.revoke_security_group_egress(GroupId=default["GroupId"], IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])  # adopted: now owned
    assert moto.ownership_violations(since=start) == []

    # violations: rules, other tags, deletion on groups without mirroredFrom (the call is recorded even if refused)
    collection.revoke_security_group_ingress(GroupId=unowned, IpPermissions=[PERM])
    collection.create_tags(Resources=[source], Tags=[{"Key": MIRRORED_TO, "Value": mirror}, {"Key": "Name", "Value": "x"}])
    collection.delete_security_group(GroupId=unowned)
    found = moto.ownership_violations(since=start)
    assert [(v["action"], v["targets"], v["unowned_groups"]) for v in found] == [
        ("RevokeSecurityGroupIngress", [unowned], [unowned]),
        ("CreateTags", [source], [source]),
        ("DeleteSecurityGroup", [unowned], [unowned]),
    ]
    assert all(v["from_collection"] and v["user_agent"].startswith(COLLECTION_USER_AGENT) for v in found)
    assert found[1]["tag_keys"] == [MIRRORED_TO, "Name"]
    # the recorder keeps its five fields, and has the new ones on EC2 mutating calls with detail
    assert set(moto.calls()[-1]) == {"service", "region", "action", "mutating", "status"}
    revoke = [c for c in moto.calls(detail=True) if c["action"] == "RevokeSecurityGroupIngress"][-1]
    assert set(revoke) == {"service", "region", "action", "mutating", "status", "account", "targets", "tag_keys", "user_agent",
                           "from_collection", "unowned_groups"}

    moto.reset_ownership(since=start)  # provoked on purpose: do not fail this test
    assert moto.ownership_violations(since=start) == []
    assert moto.ownership()["next_seq"] == start + 3  # the numbering goes on


def test_violations_survive_moto_and_call_log_resets(moto, ec2):
    start = moto.ownership()["next_seq"]
    group = ec2.create_security_group(GroupName="hand-made", Description="x")["GroupId"]
    collection_like_client(moto.url).create_tags(Resources=[group], Tags=[{"Key": "Name", "Value": "mine now"}])
    moto.reset()
    assert [v["action"] for v in moto.ownership_violations(since=start)] == ["CreateTags"]
    moto.reset_ownership(since=start)


def test_a_violation_fails_the_test_that_made_it():
    """A separate pytest process runs ownership_probe.py, which makes a violation and keeps it."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reliability/ownership_probe.py"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "1 passed, 1 error" in out, out  # the test body passes; its teardown check fails it
    assert "ownership invariant violated" in out and "AuthorizeSecurityGroupIngress" in out, out
    assert "ownership invariant violations" in out, out  # the terminal summary section
