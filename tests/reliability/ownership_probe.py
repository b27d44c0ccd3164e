"""Not collected by default (no ``test_`` prefix): run explicitly by test_ownership.py in a
separate pytest process, to show that a violation of the ownership invariant fails the test
that made it.  It makes one on purpose and does not clear it."""

from __future__ import annotations

from tests.reliability.test_ownership import collection_like_client


def test_makes_a_violation(moto, ec2):
    group = ec2.create_security_group(GroupName="not-a-mirror", Description="hand made")["GroupId"]
    collection_like_client(moto.url).authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
