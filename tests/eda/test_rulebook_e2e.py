# -*- coding: utf-8 -*-
"""The rulebook end to end: ansible-rulebook, the mirror_events source, SQS and the mirror playbook.

The stack of tests/support/world.py is built in eu-west-1 and mirrored once. A
user then authorizes a new rule on a tagged source group; EventBridge would relay
the CloudTrail record to the queue (the test sends that message itself: moto's
EC2 does not emit CloudTrail events). ansible-rulebook, started as a user would
(``-r classiclink.mirror.mirror_on_change -i inventory``) with the queue and the
AWS environment in us-east-1, must run the mirror playbook for the event's
region, after which the mirror has the new rule, and then stop on its own on the
shutdown control message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.devpaths import REPO_ROOT
from tests.support.world import build_world, mirror_of

from .cloudtrail import SHUTDOWN, authorize_ingress, body, iam_user

pytestmark = pytest.mark.integration

QUEUE = "classiclink-mirror-events"
QUEUE_REGION = "us-east-1"  # also the region of the AWS environment
WORLD_REGION = "eu-west-1"  # where the groups are: only the event says so
NEW_CIDR = "198.51.100.0/24"
NEW_PORT = 8443
TIMEOUT = 150  # seconds for the whole ansible-rulebook run (it takes ~25 s here)
VENV_BIN = REPO_ROOT / ".venv" / "bin"


def run(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run ``cmd`` in its own process group (killed whole on timeout); return it and a report for assertions."""
    started = time.monotonic()
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            pytest.fail(f"{Path(cmd[0]).name} did not stop within {TIMEOUT} s\n--- stdout ---\n{stdout[-8000:]}\n--- stderr ---\n{stderr[-4000:]}")
    done = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    report = f"rc={proc.returncode} after {time.monotonic() - started:.0f} s\n--- stdout ---\n{stdout[-8000:]}\n--- stderr ---\n{stderr[-4000:]}"
    return done, report


def ingress(group: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {
        (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"), r["CidrIp"])
        for perm in group["IpPermissions"]
        for r in perm.get("IpRanges", [])
    }


def test_a_change_on_a_source_reaches_its_mirror(ansible_rulebook, moto, aws_env, aws_client, tmp_path: Path):
    ec2, sqs = aws_client("ec2", WORLD_REGION), aws_client("sqs", QUEUE_REGION)
    world = build_world(ec2, instances=1)
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    env = {
        **aws_env,
        # ansible-runner starts ansible-playbook from PATH: the venv's.
        "PATH": os.pathsep.join([str(VENV_BIN), aws_env.get("PATH", os.defpath)]),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
    }

    # Already mirrored (the periodic run, say).
    playbook = [str(VENV_BIN / "ansible-playbook"), "classiclink.mirror.mirror", "-e", "mirror_classic_vpc_id=default"]
    first, report = run([*playbook, "-e", f"mirror_regions={WORLD_REGION}"], env, tmp_path)
    assert first.returncode == 0, report
    mirror = mirror_of(ec2, world, world.ssh_group_id)
    assert mirror is not None and ingress(mirror) == {("tcp", 22, 22, world.ssh_cidr)}

    # The user's change on the (EC2-Classic) source, and the record of it EventBridge delivers.
    new_rule = {"IpProtocol": "tcp", "FromPort": NEW_PORT, "ToPort": NEW_PORT, "IpRanges": [{"CidrIp": NEW_CIDR}]}
    ec2.authorize_security_group_ingress(GroupId=world.ssh_group_id, IpPermissions=[new_rule])
    record = authorize_ingress(
        world.ssh_group_id, port=NEW_PORT, cidr=NEW_CIDR, region=WORLD_REGION, identity=iam_user("alice")
    )
    sqs.send_message(QueueUrl=queue_url, MessageBody=body(record))
    sqs.send_message(QueueUrl=queue_url, MessageBody=SHUTDOWN)

    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {"localhost": {"ansible_connection": "local"}},
                    # moto's default VPC stands in for EC2-Classic
                    "vars": {"mirror_classic_vpc_id": "default"},
                }
            }
        )
    )
    variables = tmp_path / "vars.yml"
    variables.write_text(
        yaml.safe_dump(
            {
                "mirror_events_queue_name": QUEUE,
                "mirror_events_region": QUEUE_REGION,
                "mirror_events_endpoint_url": moto.url,
                "mirror_events_quiet_seconds": 1,
                "mirror_events_max_wait_seconds": 5,
                "mirror_events_accept_control_messages": True,
            }
        )
    )
    moto.reset_calls()
    cmd = [ansible_rulebook, "-r", "classiclink.mirror.mirror_on_change", "-i", str(inventory), "-e", str(variables)]

    rulebook, explain = run(cmd, env, tmp_path)  # returns: the shutdown message stopped it

    assert rulebook.returncode == 0, explain
    mirror = mirror_of(ec2, world, world.ssh_group_id)
    assert mirror is not None, explain
    assert ingress(mirror) == {("tcp", 22, 22, world.ssh_cidr), ("tcp", NEW_PORT, NEW_PORT, NEW_CIDR)}, explain
    # the run was for the event's region only
    assert {c["region"] for c in moto.calls() if c["service"] == "ec2"} == {WORLD_REGION}, explain
    assert [c["action"] for c in moto.mutating_calls() if c["service"] == "ec2"] == ["AuthorizeSecurityGroupIngress"], explain
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, explain
