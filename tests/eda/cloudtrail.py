# -*- coding: utf-8 -*-
"""EventBridge events as they reach the SQS queue, built the way AWS records them.

Shapes follow CloudTrail's EC2 records delivered by EventBridge: the envelope
(``version``, ``id``, ``detail-type``, ``source``, ``account``, ``time``,
``region``, ``resources``, ``detail``), CloudTrail's ``{"items": [...]}`` lists in
``requestParameters``, and ``userIdentity`` for IAM users and assumed roles.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
MIRROR_ROLE = "classiclink-mirror"
MIRROR_ROLE_ID = "AROAQMIRRORROLEID0001"
MIRROR_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{MIRROR_ROLE}"
CODE_LINK_TAG = "classiclinkmirror:linkToVPC"
GUIDE_LINK_TAG = "classicmirror:linkToVPC"

_ids = itertools.count(1)


def iam_user(name: str = "alice", account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": f"AIDAQ{name.upper():0<16}"[:21],
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "userName": name,
    }


def assumed_role(
    role: str = MIRROR_ROLE, session: str = "ansible-runner", role_id: str = MIRROR_ROLE_ID, account: str = ACCOUNT
) -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {"creationDate": "2016-08-01T09:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def api_call(
    event_name: str,
    request_parameters: dict[str, Any] | None,
    *,
    region: str = REGION,
    account: str = ACCOUNT,
    identity: dict[str, Any] | None = None,
    error_code: str | None = None,
    response_elements: dict[str, Any] | None = None,
    time: str = "2016-08-01T10:00:00Z",
) -> dict[str, Any]:
    """An "AWS API Call via CloudTrail" event for an EC2 call."""
    n = next(_ids)
    detail: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": identity or iam_user(),
        "eventTime": time,
        "eventSource": "ec2.amazonaws.com",
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request_parameters,
        "responseElements": response_elements,
        "requestID": f"req-{n:08d}",
        "eventID": f"evt-{n:08d}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
    }
    if error_code:
        detail["errorCode"] = error_code
        detail["errorMessage"] = f"{error_code} (test)"
        detail["responseElements"] = None
    return {
        "version": "0",
        "id": f"00000000-0000-0000-0000-{n:012d}",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": account,
        "time": time,
        "region": region,
        "resources": [],
        "detail": detail,
    }


def ip_permissions(port: int = 443, cidr: str = "0.0.0.0/0", protocol: str = "tcp") -> dict[str, Any]:
    return {
        "items": [
            {
                "ipProtocol": protocol,
                "fromPort": port,
                "toPort": port,
                "groups": {},
                "ipRanges": {"items": [{"cidrIp": cidr}]},
                "ipv6Ranges": {},
                "prefixListIds": {},
            }
        ]
    }


def rule_call(event_name: str, group_id: str, port: int = 443, cidr: str = "0.0.0.0/0", **kwargs: Any) -> dict[str, Any]:
    """Authorize/Revoke SecurityGroup Ingress/Egress on ``group_id``."""
    kwargs.setdefault("response_elements", {"requestId": "r", "_return": True})
    return api_call(event_name, {"groupId": group_id, "ipPermissions": ip_permissions(port, cidr)}, **kwargs)


def authorize_ingress(group_id: str, port: int = 443, cidr: str = "0.0.0.0/0", **kwargs: Any) -> dict[str, Any]:
    return rule_call("AuthorizeSecurityGroupIngress", group_id, port, cidr, **kwargs)


def tag_call(event_name: str, resource_ids: list[str], tags: dict[str, str | None] | None, **kwargs: Any) -> dict[str, Any]:
    """CreateTags / DeleteTags; a tag value of None means "key only" (DeleteTags), tags=None no tagSet."""
    params: dict[str, Any] = {"resourcesSet": {"items": [{"resourceId": r} for r in resource_ids]}}
    if tags is not None:
        params["tagSet"] = {"items": [{"key": k} if v is None else {"key": k, "value": v} for k, v in tags.items()]}
    return api_call(event_name, params, response_elements={"requestId": "r", "_return": True}, **kwargs)


def create_security_group(name: str, group_id: str, tags: dict[str, str], vpc_id: str = "vpc-1a2b3c4d", **kwargs: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"groupName": name, "groupDescription": name, "vpcId": vpc_id}
    if tags:
        params["tagSpecificationSet"] = {
            "items": [{"resourceType": "security-group", "tags": [{"key": k, "value": v} for k, v in tags.items()]}]
        }
    return api_call("CreateSecurityGroup", params, response_elements={"requestId": "r", "_return": True, "groupId": group_id}, **kwargs)


def state_change(instance_id: str, state: str, region: str = REGION, account: str = ACCOUNT, time: str = "2016-08-01T10:00:00Z") -> dict[str, Any]:
    """An "EC2 Instance State-change Notification" event."""
    n = next(_ids)
    return {
        "version": "0",
        "id": f"00000000-0000-0000-0001-{n:012d}",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": account,
        "time": time,
        "region": region,
        "resources": [f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"],
        "detail": {"instance-id": instance_id, "state": state},
    }


def lifecycle_action(
    instance_id: str,
    token: str,
    *,
    transition: str = "autoscaling:EC2_INSTANCE_LAUNCHING",
    group: str = "cluster-asg",
    hook: str = "cluster-launching",
    region: str = REGION,
    account: str = ACCOUNT,
    time: str = "2016-08-01T10:00:00Z",
) -> dict[str, Any]:
    """An "EC2 Instance-launch Lifecycle Action" / "EC2 Instance-terminate Lifecycle Action" event, as Amazon
    EC2 Auto Scaling sends it to EventBridge when an instance enters Pending:Wait / Terminating:Wait."""
    n = next(_ids)
    launching = transition.endswith("LAUNCHING")
    return {
        "version": "0",
        "id": f"00000000-0000-0000-0002-{n:012d}",
        "detail-type": "EC2 Instance-launch Lifecycle Action" if launching else "EC2 Instance-terminate Lifecycle Action",
        "source": "aws.autoscaling",
        "account": account,
        "time": time,
        "region": region,
        "resources": [
            f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:1f7a2c9e-0000-4000-8000-{n:012d}"
            f":autoScalingGroupName/{group}"
        ],
        "detail": {
            "LifecycleActionToken": token,
            "AutoScalingGroupName": group,
            "LifecycleHookName": hook,
            "EC2InstanceId": instance_id,
            "LifecycleTransition": transition,
            "Origin": "EC2" if launching else "AutoScalingGroup",
            "Destination": "AutoScalingGroup" if launching else "EC2",
        },
    }


def body(event: dict[str, Any]) -> str:
    """The SQS message body EventBridge delivers: the event as JSON."""
    return json.dumps(event)


SHUTDOWN = json.dumps({"classiclink_mirror_control": "shutdown", "reason": "test finished"})
