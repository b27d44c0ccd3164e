# -*- coding: utf-8 -*-
"""playbooks/events_setup.yml against the moto harness: rule, queue, policy, target; idempotent.

moto's EventBridge also matches events against the rule's pattern and delivers
them to the queue, which checks the pattern end to end (as far as moto's matcher
goes) and that what arrives is what the mirror_events source reads.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.classiclink.mirror.extensions.eda.plugins.event_source.mirror_events import ChangeFilter

from tests.support.devpaths import REPO_ROOT

from .cloudtrail import ACCOUNT, CODE_LINK_TAG, authorize_ingress, lifecycle_action, state_change, tag_call

pytestmark = pytest.mark.integration

ANSIBLE_PLAYBOOK = str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook")
RECAP = re.compile(r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
REGION = "eu-central-1"
QUEUE = "mirror-events-test"
RULE = "mirror-changes-test"
SG = "sg-0a1b2c3d4e5f60718"


def setup_playbook(env: dict[str, str], cwd: Path, *extra: str) -> tuple[int, str]:
    """Run the playbook by its FQCN, as a user would; return (changed, output)."""
    cmd = [
        ANSIBLE_PLAYBOOK,
        "classiclink.mirror.events_setup",
        "-e", f"mirror_events_region={REGION}",
        "-e", f"mirror_events_queue_name={QUEUE}",
        "-e", f"mirror_events_rule_name={RULE}",
        *extra,
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=cwd, env={**env, "ANSIBLE_NOCOLOR": "1"}, capture_output=True, text=True, timeout=240, check=False)
    output = f"rc={proc.returncode}\n--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
    recap = RECAP.search(proc.stdout)
    assert proc.returncode == 0 and recap and recap.group(4) == "0", output
    return int(recap.group(2)), output


@pytest.fixture
def events(aws_client):
    return aws_client("events", REGION)


@pytest.fixture
def sqs(aws_client):
    return aws_client("sqs", REGION)


def test_setup_creates_rule_queue_policy_and_target_idempotently(moto, aws_env, events, sqs, tmp_path):
    changed, output = setup_playbook(aws_env, tmp_path)
    assert changed >= 2, output

    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}"
    rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{RULE}"

    rule = events.describe_rule(Name=RULE)
    assert (rule["Arn"], rule["State"]) == (rule_arn, "ENABLED")
    pattern = json.loads(rule["EventPattern"])
    assert pattern["source"] == ["aws.ec2"]
    api_calls, state_changes = pattern["$or"]
    assert api_calls["detail-type"] == ["AWS API Call via CloudTrail"]
    assert {"AuthorizeSecurityGroupIngress", "RevokeSecurityGroupEgress", "CreateTags", "DeleteTags", "DeleteSecurityGroup"} <= set(
        api_calls["detail"]["eventName"]
    )
    assert api_calls["detail"]["errorCode"] == [{"exists": False}]
    assert state_changes == {"detail-type": ["EC2 Instance State-change Notification"], "detail": {"state": ["running"]}}

    [target] = events.list_targets_by_rule(Rule=RULE)["Targets"]
    assert target["Arn"] == queue_arn

    queue_url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attrs["QueueArn"] == queue_arn
    assert attrs["MessageRetentionPeriod"] == "86400"
    [statement] = json.loads(attrs["Policy"])["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == queue_arn
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}

    moto.reset_calls()
    changed, output = setup_playbook(aws_env, tmp_path)
    assert changed == 0, output
    assert [c["action"] for c in moto.mutating_calls()] == [], output


def test_the_rule_delivers_what_the_source_reads(moto, aws_env, events, sqs, tmp_path):
    setup_playbook(aws_env, tmp_path)
    queue_url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]

    def put(event: dict[str, Any]) -> None:
        entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0

    put(authorize_ingress(SG, region=REGION))
    put(tag_call("CreateTags", [SG], {CODE_LINK_TAG: "vpc-1a2b3c4d"}, region=REGION))
    put(state_change("i-0123456789abcdef0", "running", region=REGION))
    put(authorize_ingress(SG, region=REGION, error_code="Client.InvalidPermission.Duplicate"))  # failed call
    put(state_change("i-0123456789abcdef0", "stopped", region=REGION))  # not running
    put(tag_call("CreateTags", [SG], {CODE_LINK_TAG: "vpc-1a2b3c4d"}, region=REGION) | {"source": "aws.rds"})

    delivered = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        delivered += [json.loads(m["Body"]) for m in messages]
    names = sorted(e["detail"].get("eventName") or e["detail"]["state"] for e in delivered)
    assert names == ["AuthorizeSecurityGroupIngress", "CreateTags", "running"]

    changes = [ChangeFilter().read(envelope)[0] for envelope in delivered]
    assert all(c is not None and c.region == REGION for c in changes), delivered


def cluster_events_vars(tmp_path: Path) -> Path:
    """The variables file of docs/howto-cluster-across-regions.md (the fenced block starting "# cluster-events.yml")."""
    howto = (REPO_ROOT / "docs" / "howto-cluster-across-regions.md").read_text()
    [block] = re.findall(r"```yaml\n(# cluster-events\.yml\n.*?)```", howto, re.DOTALL)
    path = tmp_path / "cluster-events.yml"
    path.write_text(block)
    return path


def test_the_cluster_pattern_of_the_howto_delivers_lifecycle_actions_and_address_changes(moto, aws_env, events, sqs, tmp_path):
    _changed, output = setup_playbook(aws_env, tmp_path, "-e", f"@{cluster_events_vars(tmp_path)}")
    queue_url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]

    def put(event: dict[str, Any]) -> None:
        entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0

    instance = "i-0123456789abcdef0"
    put(lifecycle_action(instance, "33965228-086a-4aeb-8c26-f82ed3bef495", group="db-east", region=REGION))
    put(lifecycle_action(instance, "87654321-4321-4321-4321-210987654321", group="db-east", region=REGION,
                         transition="autoscaling:EC2_INSTANCE_TERMINATING"))
    put(lifecycle_action(instance, "11111111-2222-3333-4444-555555555555", group="web-east", region=REGION))  # not the cluster's
    put(state_change(instance, "terminated", region=REGION))
    put(state_change(instance, "pending", region=REGION))  # not a state that changes a list
    put(authorize_ingress(SG, region=REGION))

    delivered = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        delivered += [json.loads(m["Body"]) for m in messages]
    kinds = sorted(e["detail"].get("eventName") or e["detail"].get("state") or e["detail"]["LifecycleTransition"] for e in delivered)
    assert kinds == ["AuthorizeSecurityGroupIngress", "autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING",
                     "terminated"], output

    cluster_filter = ChangeFilter(instance_states=("running", "stopped", "terminated"))  # mirror_cluster.yml's
    changes = [cluster_filter.read(envelope)[0] for envelope in delivered]
    assert sorted(c.change for c in changes) == ["authorize", "instance_launching", "instance_terminated", "instance_terminating"]
