# -*- coding: utf-8 -*-
"""The mirror_events source for the cluster scenario (seed 004): instance state changes beyond ``running``
and Auto Scaling lifecycle actions, classified in the source's ``changes`` vocabulary, with what the rulebook
needs to complete each lifecycle action (region, account, group, hook, token, instance, transition).

Event shapes: the Amazon EC2 Auto Scaling event reference (lifecycle action events) and the EC2 user
guide (instance state-change events); see tests/eda/cloudtrail.py.
"""

from __future__ import annotations

import pytest

from ansible_collections.classiclink.mirror.extensions.eda.plugins.event_source.mirror_events import (
    INSTANCE_STATES,
    LAUNCHING,
    TERMINATING,
    Batch,
    ChangeFilter,
    Coalescer,
    _list,
    state_event_name,
)

from .cloudtrail import authorize_ingress, lifecycle_action, state_change

SG = "sg-0a1b2c3d4e5f60718"
INSTANCE = "i-0123456789abcdef0"
INSTANCE2 = "i-0fedcba9876543210"
TOKEN = "33965228-086a-4aeb-8c26-f82ed3bef495"
TOKEN2 = "87654321-4321-4321-4321-210987654321"
CLUSTER = ChangeFilter(instance_states=("running", "stopped", "terminated"))
EVERY_STATE = ChangeFilter(instance_states=INSTANCE_STATES)


def kept(event, change_filter=CLUSTER):
    change, why = change_filter.read(event)
    assert change is not None, f"dropped: {why}"
    return change


def dropped(event, change_filter=CLUSTER) -> str:
    change, why = change_filter.read(event)
    assert change is None, f"kept: {change}"
    return why


# --- instance state changes -------------------------------------------------------------------


@pytest.mark.parametrize(
    "state, event_name, change",
    [
        ("pending", "InstancePending", "instance_pending"),
        ("running", "InstanceRunning", "instance_running"),
        ("stopping", "InstanceStopping", "instance_stopping"),
        ("stopped", "InstanceStopped", "instance_stopped"),
        ("shutting-down", "InstanceShuttingDown", "instance_shutting_down"),
        ("terminated", "InstanceTerminated", "instance_terminated"),
    ],
)
def test_each_instance_state_has_its_event_name_and_kind(state, event_name, change):
    kept_change = kept(state_change(INSTANCE, state, region="us-west-2", account="210987654321"), EVERY_STATE)
    assert (kept_change.event_name, kept_change.change) == (event_name, change)
    assert (kept_change.region, kept_change.account, kept_change.instance_ids) == ("us-west-2", "210987654321", (INSTANCE,))
    assert kept_change.lifecycle_action is None
    assert state_event_name(state) == event_name


@pytest.mark.parametrize("state", ["pending", "stopping", "shutting-down"])
def test_the_cluster_states_drop_the_transient_ones(state):
    assert "is not running or stopped or terminated" in dropped(state_change(INSTANCE, state))


def test_the_default_still_keeps_running_only():
    assert ChangeFilter().instance_states == ("running",)
    assert kept(state_change(INSTANCE, "running"), ChangeFilter()).change == "instance_running"
    assert "not running" in dropped(state_change(INSTANCE, "terminated"), ChangeFilter())


def test_an_unknown_state_is_refused_naming_the_accepted_ones():
    with pytest.raises(ValueError, match="instance_states: unknown state.*running"):
        ChangeFilter(instance_states=("running", "rebooting"))


def test_the_rulebook_variable_takes_a_list_or_a_comma_separated_string():
    assert _list("running, stopped,terminated", ()) == ("running", "stopped", "terminated")
    assert _list(None, ("running",)) == ("running",)


# --- lifecycle actions ------------------------------------------------------------------------


def test_a_launch_lifecycle_action_is_kept_with_what_completing_it_needs():
    event = lifecycle_action(INSTANCE, TOKEN, group="db-east", hook="db-launching", region="us-east-1",
                             account="123456789012", time="2017-05-03T02:20:59Z")
    change = kept(event)
    assert (change.event_name, change.change, change.instance_ids) == ("InstanceLaunching", "instance_launching", (INSTANCE,))
    assert change.lifecycle_action.as_dict() == {
        "region": "us-east-1",
        "account": "123456789012",
        "auto_scaling_group_name": "db-east",
        "lifecycle_hook_name": "db-launching",
        "lifecycle_action_token": TOKEN,
        "instance_id": INSTANCE,
        "transition": LAUNCHING,
        "time": "2017-05-03T02:20:59Z",
    }


def test_a_terminate_lifecycle_action_is_kept():
    change = kept(lifecycle_action(INSTANCE, TOKEN, transition=TERMINATING, hook="db-terminating"))
    assert (change.event_name, change.change) == ("InstanceTerminating", "instance_terminating")
    assert (change.lifecycle_action.transition, change.lifecycle_action.lifecycle_hook_name) == (TERMINATING, "db-terminating")


def test_lifecycle_actions_are_kept_whatever_the_instance_states():
    kept(lifecycle_action(INSTANCE, TOKEN), ChangeFilter())  # the default filter too: they must be completed


def test_lifecycle_actions_have_no_principal_and_are_never_ignored():
    assert kept(lifecycle_action(INSTANCE, TOKEN), ChangeFilter(ignore_principals=("*",))).principal == ""


def test_a_lifecycle_action_without_token_is_kept_for_completion_by_instance_id():
    event = lifecycle_action(INSTANCE, TOKEN)
    del event["detail"]["LifecycleActionToken"]
    assert kept(event).lifecycle_action.lifecycle_action_token == ""


@pytest.mark.parametrize("key", ["AutoScalingGroupName", "LifecycleHookName", "EC2InstanceId"])
def test_a_lifecycle_action_missing_what_completion_needs_is_dropped(key):
    event = lifecycle_action(INSTANCE, TOKEN)
    del event["detail"][key]
    assert f"without {key}" in dropped(event)


def test_a_lifecycle_action_whose_transition_contradicts_its_detail_type_is_dropped():
    event = lifecycle_action(INSTANCE, TOKEN)
    event["detail"]["LifecycleTransition"] = TERMINATING
    assert "transition" in dropped(event)


def test_the_test_notification_of_a_hook_is_not_an_eventbridge_event():
    # A hook's notification target (SQS/SNS, not EventBridge) first receives autoscaling:TEST_NOTIFICATION.
    test_notification = {"Service": "AWS Auto Scaling", "Event": "autoscaling:TEST_NOTIFICATION", "AccountId": "123456789012"}
    assert "no detail" in dropped(test_notification)


# --- the event handed to the rulebook ---------------------------------------------------------


def test_a_scale_out_burst_is_one_run_that_completes_every_action_once():
    coalescer = Coalescer(quiet_seconds=5, max_wait_seconds=60)
    events = [
        lifecycle_action(INSTANCE2, TOKEN2, time="2017-05-03T02:21:03Z"),
        lifecycle_action(INSTANCE, TOKEN, time="2017-05-03T02:20:59Z"),
        lifecycle_action(INSTANCE, TOKEN, time="2017-05-03T02:20:59Z"),  # EventBridge delivered it twice
        state_change(INSTANCE, "running", time="2017-05-03T02:21:10Z"),
        authorize_ingress(SG, time="2017-05-03T02:21:11Z"),
    ]
    for second, event in enumerate(events):
        coalescer.add(kept(event), now=second, message_id=f"m{second}", receipt=f"r{second}")
    [batch] = coalescer.pop_due(now=100)
    event = batch.event()
    assert event["count"] == 5
    assert event["changes"] == ["authorize", "instance_launching", "instance_running"]
    assert event["event_names"] == ["AuthorizeSecurityGroupIngress", "InstanceLaunching", "InstanceRunning"]
    assert event["instance_ids"] == sorted([INSTANCE, INSTANCE2])
    assert [(a["instance_id"], a["lifecycle_action_token"]) for a in event["lifecycle_actions"]] == [
        (INSTANCE, TOKEN),
        (INSTANCE2, TOKEN2),
    ]
    assert {a["region"] for a in event["lifecycle_actions"]} == {"us-east-1"}


def test_lifecycle_actions_without_token_are_told_apart_by_group_hook_instance_and_transition():
    batch = Batch("us-east-1", opened=0, last=0)
    for instance, transition in ((INSTANCE, LAUNCHING), (INSTANCE, LAUNCHING), (INSTANCE, TERMINATING)):
        event = lifecycle_action(instance, "", transition=transition)
        batch.changes.append(kept(event))
    assert [a["transition"] for a in batch.event()["lifecycle_actions"]] == [LAUNCHING, TERMINATING]


def test_one_region_per_event_so_each_action_is_completed_in_its_own_region():
    coalescer = Coalescer(quiet_seconds=0, max_wait_seconds=0)
    coalescer.add(kept(lifecycle_action(INSTANCE, TOKEN, region="us-east-1")), now=0)
    coalescer.add(kept(lifecycle_action(INSTANCE2, TOKEN2, region="us-west-2")), now=0)
    events = [b.event() for b in coalescer.pop_due(now=0)]
    assert [(e["region"], [a["region"] for a in e["lifecycle_actions"]]) for e in events] == [
        ("us-east-1", ["us-east-1"]),
        ("us-west-2", ["us-west-2"]),
    ]
