# -*- coding: utf-8 -*-
"""playbooks/mirror_lifecycle.yml against the moto harness, without the rulebook: the mirror role per scope,
then the lifecycle actions of each scope's region completed - CONTINUE after a good run, ABANDON after a
failed one - with module classiclink.mirror.classiclink_lifecycle_action.

The lifecycle actions are the harness's (tests/support/autoscaling_emulation.py): an Auto Scaling group with
a launching hook, scaled out, holds its new instance until the action is completed.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.autoscaling_emulation import LAUNCHING
from tests.support.devpaths import REPO_ROOT
from tests.support.moto_harness import CLASSIC_AMI_ID
from tests.support.world import build_world, mirror_of

pytestmark = pytest.mark.integration

ANSIBLE_PLAYBOOK = str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook")
REGION = "us-east-1"
GROUP, HOOK = "cluster-east", "cluster-east-launching"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def scale_out(ec2: Any, asg: Any) -> dict[str, Any]:
    """A group with a launching hook and one new instance held in Pending:Wait; its action as the event lists it."""
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    ec2.create_launch_template(LaunchTemplateName="cluster-lt", LaunchTemplateData={"ImageId": CLASSIC_AMI_ID, "InstanceType": "t3.micro"})
    asg.create_auto_scaling_group(AutoScalingGroupName=GROUP, MinSize=0, MaxSize=3, DesiredCapacity=0,
                                  LaunchTemplate={"LaunchTemplateName": "cluster-lt"}, VPCZoneIdentifier=subnet)
    asg.put_lifecycle_hook(AutoScalingGroupName=GROUP, LifecycleHookName=HOOK, LifecycleTransition=LAUNCHING, HeartbeatTimeout=900)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    return {"auto_scaling_group_name": GROUP, "lifecycle_hook_name": HOOK, "transition": LAUNCHING, "time": ""}


def event_actions(moto: Any, template: dict[str, Any], account: str = "123456789012", region: str = REGION) -> list[dict[str, Any]]:
    return [
        {**template, "region": region, "account": account, "lifecycle_action_token": a["token"], "instance_id": a["instance_id"]}
        for a in moto.lifecycle_actions() if a["state"] == "pending"
    ]


def playbook(env: dict[str, str], cwd: Path, extra: dict[str, Any], *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    cmd = [ANSIBLE_PLAYBOOK, "classiclink.mirror.mirror_lifecycle", "-e", json.dumps(extra), *args]
    proc = subprocess.run(cmd, cwd=cwd, env={**env, "ANSIBLE_NOCOLOR": "1"}, capture_output=True, text=True, timeout=300, check=False)
    return proc, f"rc={proc.returncode}\n--- stdout ---\n{proc.stdout[-8000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"


@pytest.fixture
def stack(moto, aws_client, aws_env, tmp_path):
    ec2, asg = aws_client("ec2", REGION), aws_client("autoscaling", REGION)
    world = build_world(ec2, instances=1)
    template = scale_out(ec2, asg)
    env = {**aws_env, "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp")}
    return ec2, world, template, env


def test_a_good_run_continues_and_a_redelivered_event_changes_nothing(moto, stack, tmp_path):
    ec2, world, template, env = stack
    [action] = event_actions(moto, template)
    extra = {"mirror_regions": [REGION], "mirror_classic_vpc_id": "default", "mirror_events_lifecycle_actions": [action]}

    proc, report = playbook(env, tmp_path, extra)

    assert proc.returncode == 0, report
    assert mirror_of(ec2, world, world.ssh_group_id) is not None, report  # the run did mirror
    [done] = moto.lifecycle_actions()
    assert (done["token"], done["state"], done["result"]) == (action["lifecycle_action_token"], "completed", "CONTINUE"), report
    recap = {m[0]: (int(m[2]), int(m[4])) for m in RECAP.findall(proc.stdout)}
    assert recap[REGION][1] == 0 and recap["localhost"][1] == 0, report

    # SQS delivered the event again: the action is over, the run is a no-op and does not fail
    moto.reset_calls()
    again, report = playbook(env, tmp_path, extra)
    assert again.returncode == 0, report
    assert "No active Lifecycle Action found with token" in again.stdout + again.stderr, report
    completions = [c for c in moto.calls() if c["action"] == "CompleteLifecycleAction"]
    assert [c["status"] for c in completions] == [400], report
    assert [d["result"] for d in moto.lifecycle_actions()] == ["CONTINUE"]


def test_a_failed_run_abandons_the_launch_and_fails_naming_the_scope(moto, stack, tmp_path):
    ec2, world, template, env = stack
    [action] = event_actions(moto, template)
    # a misspelt role variable: the role fails its scope before any AWS call (the local update did not happen)
    extra = {"mirror_regions": [REGION], "mirror_classic_vpc_id": "default", "mirror_prunee": True,
             "mirror_events_lifecycle_actions": [action]}

    proc, report = playbook(env, tmp_path, extra)

    assert proc.returncode != 0, report
    assert re.search(rf"1 scope\(s\) failed, their lifecycle actions abandoned: {REGION}: .*mirror_prunee", proc.stdout), report
    assert mirror_of(ec2, world, world.ssh_group_id) is None, report
    done, replacement = moto.lifecycle_actions()  # ABANDON: Auto Scaling terminated it and launched a replacement
    assert (done["token"], done["result"], done["completed_by"]) == (action["lifecycle_action_token"], "ABANDON", "CompleteLifecycleAction")
    assert replacement["state"] == "pending"


def test_check_mode_completes_nothing_and_other_regions_actions_are_left_to_their_hooks(moto, stack, tmp_path):
    _ec2, _world, template, env = stack
    [action] = event_actions(moto, template)
    elsewhere = {**action, "region": "eu-west-1", "lifecycle_action_token": "33965228-086a-4aeb-8c26-f82ed3bef495"}
    extra = {"mirror_regions": [REGION], "mirror_classic_vpc_id": "default", "mirror_events_lifecycle_actions": [action, elsewhere]}
    moto.reset_calls()

    proc, report = playbook(env, tmp_path, extra, "--check")

    assert proc.returncode == 0, report
    assert [a["state"] for a in moto.lifecycle_actions()] == ["pending"], report
    assert not [c for c in moto.calls() if c["mutating"] and c["service"] in ("ec2", "autoscaling")], report
    assert f"not completed: {action['instance_id']} in eu-west-1 (no scope of this run covers the region)" in proc.stdout, report
