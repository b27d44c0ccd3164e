"""Auto Scaling lifecycle-action emulation of the moto harness (tests/support/autoscaling_emulation.py).

Everything goes over HTTP to the harness server with boto3 (conftest's clients), except the
clock of the timeout tests, which is the in-process emulator's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.autoscaling_emulation import LAUNCHING, TERMINATING
from tests.support.moto_harness import CLASSIC_AMI_ID, MotoHarness

pytestmark = pytest.mark.emulation

REGION = "us-east-1"
GROUP = "cluster-east"


@pytest.fixture
def asg(aws_client: Callable[..., Any]) -> Any:
    return aws_client("autoscaling", REGION)


@pytest.fixture
def ec2(aws_client: Callable[..., Any]) -> Any:
    return aws_client("ec2", REGION)


def make_group(ec2: Any, asg: Any, name: str = GROUP, desired: int = 0, hooks: tuple[str, ...] = (LAUNCHING,),
               heartbeat: int = 300, default_result: str = "ABANDON") -> str:
    """A group of a launch template in a public subnet; the hooks are created before any instance launches
    unless ``desired`` > 0. Returns the security group id the members carry."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    group_id = ec2.create_security_group(GroupName=f"{name}-sg", Description="cluster", VpcId=vpc)["GroupId"]
    ec2.create_launch_template(LaunchTemplateName=f"{name}-lt", LaunchTemplateData={
        "ImageId": CLASSIC_AMI_ID, "InstanceType": "t3.micro", "SecurityGroupIds": [group_id]})
    asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=5, DesiredCapacity=desired,
                                  LaunchTemplate={"LaunchTemplateName": f"{name}-lt"}, VPCZoneIdentifier=subnet)
    for transition in hooks:
        hook = f"{name}-{'launching' if transition == LAUNCHING else 'terminating'}"
        asg.put_lifecycle_hook(AutoScalingGroupName=name, LifecycleHookName=hook, LifecycleTransition=transition,
                               HeartbeatTimeout=heartbeat, DefaultResult=default_result)
    return group_id


def members(asg: Any, name: str = GROUP) -> list[str]:
    [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return sorted(i["InstanceId"] for i in group["Instances"])


def pending(moto: MotoHarness) -> list[dict[str, Any]]:
    return [a for a in moto.lifecycle_actions() if a["state"] == "pending"]


def error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return str(excinfo.value.response["Error"]["Code"]), str(excinfo.value.response["Error"]["Message"])


def complete(asg: Any, action: dict[str, Any], result: str = "CONTINUE", **overrides: Any) -> None:
    params = {
        "AutoScalingGroupName": action["auto_scaling_group_name"],
        "LifecycleHookName": action["lifecycle_hook_name"],
        "LifecycleActionToken": action["token"],
        "LifecycleActionResult": result,
        **overrides,
    }
    asg.complete_lifecycle_action(**{k: v for k, v in params.items() if v is not None})


# --------------------------------------------------------------------- launching
def test_a_launch_into_a_group_with_a_launching_hook_opens_one_pending_action(moto, ec2, asg):
    make_group(ec2, asg)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [instance] = members(asg)
    [action] = moto.lifecycle_actions()
    assert action == {
        "token": action["token"],
        "account": "123456789012",
        "region": REGION,
        "auto_scaling_group_name": GROUP,
        "lifecycle_hook_name": f"{GROUP}-launching",
        "instance_id": instance,
        "transition": LAUNCHING,
        "state": "pending",
        "result": "",
        "completed_by": "",
        "heartbeats": 0,
    }
    assert len(action["token"]) == 36  # a UUID, as AWS sends


def test_instances_launched_before_the_hook_are_not_held(moto, ec2, asg):
    make_group(ec2, asg, desired=2)  # the hook is put after the two launches
    assert moto.lifecycle_actions() == []
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=3)
    assert len(pending(moto)) == 1


def test_a_group_without_hooks_opens_nothing(moto, ec2, asg):
    make_group(ec2, asg, hooks=())
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=2)
    assert moto.lifecycle_actions() == []


def test_continue_completes_the_action_and_keeps_the_instance(moto, ec2, asg):
    make_group(ec2, asg)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [action] = pending(moto)
    complete(asg, action, "CONTINUE")
    [done] = moto.lifecycle_actions()
    assert (done["state"], done["result"], done["completed_by"]) == ("completed", "CONTINUE", "CompleteLifecycleAction")
    assert members(asg) == [action["instance_id"]]


def test_abandon_of_a_launch_terminates_the_instance_and_the_replacement_is_held_again(moto, ec2, asg):
    make_group(ec2, asg)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [action] = pending(moto)
    complete(asg, action, "ABANDON")
    [done, replacement] = moto.lifecycle_actions()
    assert (done["token"], done["result"]) == (action["token"], "ABANDON")
    state = ec2.describe_instances(InstanceIds=[action["instance_id"]])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "terminated"
    assert replacement["state"] == "pending" and replacement["instance_id"] != action["instance_id"]
    assert members(asg) == [replacement["instance_id"]]


def test_completion_by_instance_id_without_token(moto, ec2, asg):
    make_group(ec2, asg)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [action] = pending(moto)
    complete(asg, action, LifecycleActionToken=None, InstanceId=action["instance_id"])
    assert moto.lifecycle_actions()[0]["result"] == "CONTINUE"


# --------------------------------------------------------------------- errors
def test_an_unknown_token_is_refused_as_aws_words_it(moto, ec2, asg):
    make_group(ec2, asg)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [action] = pending(moto)
    token = "33965228-086a-4aeb-8c26-f82ed3bef495"
    with pytest.raises(ClientError) as excinfo:
        complete(asg, action, LifecycleActionToken=token)
    assert error(excinfo) == ("ValidationError", f"No active Lifecycle Action found with token {token}")
    assert pending(moto) == [action]  # nothing recorded


def test_a_second_completion_of_the_same_token_is_refused(moto, ec2, asg):
    make_group(ec2, asg)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [action] = pending(moto)
    complete(asg, action)
    with pytest.raises(ClientError) as excinfo:
        complete(asg, action, "ABANDON")
    assert error(excinfo) == ("ValidationError", f"No active Lifecycle Action found with token {action['token']}")
    assert moto.lifecycle_actions()[0]["result"] == "CONTINUE"


@pytest.mark.parametrize("wrong", [{"LifecycleHookName": "other-hook"}, {"AutoScalingGroupName": "other-group"},
                                   {"InstanceId": "i-0123456789abcdef0"}])
def test_a_token_with_another_hook_group_or_instance_is_refused(moto, ec2, asg, wrong):
    make_group(ec2, asg)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [action] = pending(moto)
    with pytest.raises(ClientError) as excinfo:
        complete(asg, action, **wrong)
    assert error(excinfo)[0] == "ValidationError" and "No active Lifecycle Action found" in error(excinfo)[1]


def test_an_instance_without_a_pending_action_is_refused_by_instance_id(moto, ec2, asg):
    make_group(ec2, asg)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [action] = pending(moto)
    with pytest.raises(ClientError) as excinfo:
        complete(asg, action, LifecycleActionToken=None, InstanceId="i-0123456789abcdef0")
    assert error(excinfo) == ("ValidationError", "No active Lifecycle Action found with instance ID i-0123456789abcdef0")


def test_a_result_other_than_continue_or_abandon_is_refused(moto, ec2, asg):
    make_group(ec2, asg)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [action] = pending(moto)
    with pytest.raises(ClientError) as excinfo:
        complete(asg, action, "RETRY")
    assert error(excinfo)[0] == "ValidationError"
    with pytest.raises(ClientError) as excinfo:
        complete(asg, action, LifecycleActionToken=None)
    assert error(excinfo) == ("ValidationError", "Either LifecycleActionToken or InstanceId must be specified")


# --------------------------------------------------------------------- heartbeats and timeouts
@pytest.fixture
def clock(moto: MotoHarness) -> Iterator[list[float]]:
    """The in-process emulator's clock, moved by the test: ``clock[0] += seconds``."""
    if moto.app is None:
        pytest.skip("needs the in-process harness")
    now = [1_000_000.0]
    saved = moto.app.autoscaling.clock
    moto.app.autoscaling.clock = lambda: now[0]
    yield now
    moto.app.autoscaling.clock = saved


def test_the_hook_default_result_applies_at_the_heartbeat_timeout(moto, ec2, asg, clock):
    make_group(ec2, asg, heartbeat=60, default_result="CONTINUE")
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    clock[0] += 59
    assert len(pending(moto)) == 1
    clock[0] += 1
    [done] = moto.lifecycle_actions()
    assert (done["state"], done["result"], done["completed_by"]) == ("completed", "CONTINUE", "timeout")


def test_a_heartbeat_moves_the_deadline(moto, ec2, asg, clock):
    make_group(ec2, asg, heartbeat=60)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [action] = pending(moto)
    clock[0] += 50
    asg.record_lifecycle_action_heartbeat(AutoScalingGroupName=GROUP, LifecycleHookName=action["lifecycle_hook_name"],
                                          LifecycleActionToken=action["token"])
    clock[0] += 50  # 100 s after the launch, 50 s after the heartbeat
    [still] = pending(moto)
    assert still["heartbeats"] == 1
    clock[0] += 10
    [done, _replacement] = moto.lifecycle_actions()  # the default result ABANDON terminated it
    assert (done["result"], done["completed_by"]) == ("ABANDON", "timeout")


# --------------------------------------------------------------------- terminating
def test_a_terminating_hook_holds_the_instance_until_the_action_is_completed(moto, ec2, asg):
    make_group(ec2, asg, desired=2, hooks=(TERMINATING,))
    victim, survivor = members(asg)
    eni = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [victim]}])
    [eni_id] = [i["NetworkInterfaceId"] for i in eni["NetworkInterfaces"]]

    activity = asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    assert activity["Activity"]["Description"] == f"Terminating EC2 instance: {victim}"
    [action] = pending(moto)
    assert (action["instance_id"], action["transition"]) == (victim, TERMINATING)
    state = ec2.describe_instances(InstanceIds=[victim])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running"  # Terminating:Wait

    complete(asg, action, "CONTINUE")
    state = ec2.describe_instances(InstanceIds=[victim])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "terminated"
    assert members(asg) == [survivor]  # decremented: no replacement
    left = ec2.describe_network_interfaces(Filters=[{"Name": "network-interface-id", "Values": [eni_id]}])
    assert left["NetworkInterfaces"] == []  # the primary interface went with the instance


def test_without_a_terminating_hook_moto_terminates_at_once(moto, ec2, asg):
    make_group(ec2, asg, desired=1, hooks=(LAUNCHING,))
    [instance] = members(asg)
    asg.terminate_instance_in_auto_scaling_group(InstanceId=instance, ShouldDecrementDesiredCapacity=True)
    assert members(asg) == [] and moto.lifecycle_actions() == []


def test_a_moto_reset_forgets_every_action(moto, ec2, asg):
    make_group(ec2, asg)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    assert moto.lifecycle_actions()
    moto.reset()
    assert moto.lifecycle_actions() == []


def test_calls_are_recorded_with_their_status(moto, ec2, asg):
    make_group(ec2, asg)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [action] = pending(moto)
    moto.reset_calls()
    complete(asg, action)
    with pytest.raises(ClientError):
        complete(asg, action)
    assert [(c["service"], c["action"], c["mutating"], c["status"]) for c in moto.calls()] == [
        ("autoscaling", "CompleteLifecycleAction", True, 200),
        ("autoscaling", "CompleteLifecycleAction", True, 400),
    ]
