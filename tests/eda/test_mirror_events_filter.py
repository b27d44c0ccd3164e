# -*- coding: utf-8 -*-
"""The pure half of the mirror_events source: which events matter, and how bursts coalesce.

No AWS and no sleeping: events are recorded-shape dicts (tests/eda/cloudtrail.py)
and the coalescer is given the time.
"""

from __future__ import annotations

import re

import pytest
import yaml

from ansible_collections.classiclink.mirror.extensions.eda.plugins.event_source import mirror_events
from ansible_collections.classiclink.mirror.extensions.eda.plugins.event_source.mirror_events import (
    CHANGE_OF_EVENT,
    DEFAULT_LINK_TAG_KEYS,
    INSTANCE_RUNNING,
    RULE_CALLS,
    RULE_CHANGES,
    WATCHED_CALLS,
    Batch,
    Change,
    ChangeFilter,
    Coalescer,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.model import RULE_CHANGES as MODEL_RULE_CHANGES
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import LINK_TAG_KEYS

from tests.support.devpaths import REPO_ROOT

from .cloudtrail import (
    CODE_LINK_TAG,
    GUIDE_LINK_TAG,
    MIRROR_ROLE,
    MIRROR_ROLE_ARN,
    MIRROR_ROLE_ID,
    api_call,
    assumed_role,
    authorize_ingress,
    create_security_group,
    iam_user,
    rule_call,
    state_change,
    tag_call,
)

SG = "sg-0a1b2c3d4e5f60718"
SG2 = "sg-0fedcba9876543210"
INSTANCE = "i-0123456789abcdef0"
MIRROR_PRINCIPALS = (MIRROR_ROLE_ARN,)


def kept(event, change_filter=None):
    change, why = (change_filter or ChangeFilter()).read(event)
    assert change is not None, f"dropped: {why}"
    return change


def dropped(event, change_filter=None) -> str:
    change, why = (change_filter or ChangeFilter()).read(event)
    assert change is None, f"kept: {change}"
    assert why
    return why


# --- what is kept -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
    ],
)
def test_rule_changes_are_kept_with_their_group(name):
    change = kept(rule_call(name, SG, region="eu-west-1", identity=iam_user("alice")))
    assert change.event_name == name
    assert change.region == "eu-west-1"
    assert change.group_ids == (SG,)
    assert change.principal.endswith(":user/alice")


def test_classic_rule_change_by_group_name_is_kept():
    event = api_call("AuthorizeSecurityGroupIngress", {"groupName": "web", "ipPermissions": {"items": []}})
    change = kept(event)
    assert (change.group_ids, change.group_names) == ((), ("web",))


def test_modify_security_group_rules_is_kept():
    event = api_call(
        "ModifySecurityGroupRules",
        {"ModifySecurityGroupRulesRequest": {"GroupId": SG, "SecurityGroupRule": {"SecurityGroupRuleId": "sgr-1"}}},
    )
    assert kept(event).group_ids == (SG,)


def test_delete_security_group_is_kept():
    assert kept(api_call("DeleteSecurityGroup", {"groupId": SG})).group_ids == (SG,)


@pytest.mark.parametrize("key", [CODE_LINK_TAG, GUIDE_LINK_TAG])
def test_create_tags_with_a_link_tag_is_kept(key):
    change = kept(tag_call("CreateTags", [SG, SG2], {"Name": "web", key: "vpc-1a2b3c4d"}))
    assert change.event_name == "CreateTags"
    assert change.group_ids == tuple(sorted([SG, SG2]))


def test_delete_tags_of_a_link_tag_is_kept():
    assert kept(tag_call("DeleteTags", [SG], {CODE_LINK_TAG: None})).group_ids == (SG,)


def test_delete_tags_without_tag_list_removes_every_tag_and_is_kept():
    assert kept(tag_call("DeleteTags", [SG], None)).group_ids == (SG,)


def test_link_tag_keys_are_configurable():
    custom = ChangeFilter(link_tag_keys=frozenset({"team:mirrorTo"}))
    assert kept(tag_call("CreateTags", [SG], {"team:mirrorTo": "vpc-1a2b3c4d"}), custom).group_ids == (SG,)
    dropped(tag_call("CreateTags", [SG], {CODE_LINK_TAG: "vpc-1a2b3c4d"}), custom)


def test_create_security_group_with_a_link_tag_is_kept_with_the_new_id():
    change = kept(create_security_group("web", SG, {GUIDE_LINK_TAG: "vpc-1a2b3c4d"}))
    assert (change.group_ids, change.group_names) == ((SG,), ("web",))


def test_instance_entering_running_is_kept():
    change = kept(state_change(INSTANCE, "running", region="ap-southeast-2"))
    assert (change.event_name, change.instance_ids, change.region) == ("InstanceRunning", (INSTANCE,), "ap-southeast-2")


# --- what is dropped --------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["pending", "stopping", "stopped", "shutting-down", "terminated"])
def test_other_instance_states_are_dropped(state):
    assert "not running" in dropped(state_change(INSTANCE, state))


def test_failed_call_is_dropped():
    why = dropped(authorize_ingress(SG, error_code="Client.InvalidPermission.Duplicate"))
    assert "failed" in why


def test_create_tags_with_other_keys_is_dropped():
    assert "link tag" in dropped(tag_call("CreateTags", [SG], {"Name": "web", "owner": "team-a"}))


def test_delete_tags_of_other_keys_is_dropped():
    dropped(tag_call("DeleteTags", [SG], {"owner": None}))


def test_tags_on_instances_only_are_dropped():
    dropped(tag_call("CreateTags", [INSTANCE], {CODE_LINK_TAG: "vpc-1a2b3c4d"}))


def test_create_security_group_without_link_tag_is_dropped():
    dropped(create_security_group("web", SG, {"Name": "web"}))


@pytest.mark.parametrize(
    "event",
    [
        api_call("RunInstances", {"instancesSet": {"items": [{"imageId": "ami-12c6146b"}]}}),
        api_call("DescribeSecurityGroups", {}),
        {"detail-type": "EC2 Spot Instance Interruption Warning", "region": "us-east-1", "detail": {}},
        {"hello": "world"},
        ["not", "an", "object"],
        "text",
    ],
    ids=["RunInstances", "Describe", "other-detail-type", "no-detail", "list", "string"],
)
def test_unwatched_events_are_dropped(event):
    dropped(event)


def test_calls_of_other_services_are_dropped():
    event = authorize_ingress(SG)
    event["detail"]["eventSource"] = "rds.amazonaws.com"
    dropped(event)


# --- the mirror's own principal ---------------------------------------------------------------


@pytest.mark.parametrize(
    "principal",
    [
        MIRROR_ROLE_ARN,  # the role (session issuer ARN)
        MIRROR_ROLE_ID,  # the role id (session issuer principalId)
        f"arn:aws:sts::123456789012:assumed-role/{MIRROR_ROLE}/*",  # any session of the role
        f"{MIRROR_ROLE_ID}:ansible-runner",  # exactly this session (principalId)
    ],
)
def test_own_principal_is_dropped(principal):
    change_filter = ChangeFilter(ignore_principals=(principal,))
    why = dropped(authorize_ingress(SG, identity=assumed_role(session="ansible-runner")), change_filter)
    assert "ignored principal" in why


def test_own_iam_user_is_dropped_and_others_are_kept():
    change_filter = ChangeFilter(ignore_principals=("arn:aws:iam::123456789012:user/mirror-bot",))
    dropped(authorize_ingress(SG, identity=iam_user("mirror-bot")), change_filter)
    assert kept(authorize_ingress(SG, identity=iam_user("alice")), change_filter).group_ids == (SG,)


def test_other_roles_are_kept():
    change_filter = ChangeFilter(ignore_principals=MIRROR_PRINCIPALS)
    kept(authorize_ingress(SG, identity=assumed_role(role="Admin", role_id="AROAQADMINROLEID00001")), change_filter)
    kept(tag_call("CreateTags", [SG], {CODE_LINK_TAG: "vpc-1a2b3c4d"}), change_filter)


def test_instance_state_changes_have_no_principal_and_are_kept():
    kept(state_change(INSTANCE, "running"), ChangeFilter(ignore_principals=("*",)))


# --- coalescing -------------------------------------------------------------------------------


def changes(*events):
    return [kept(e) for e in events]


def test_a_burst_in_one_region_is_one_event():
    coalescer = Coalescer(quiet_seconds=30, max_wait_seconds=300)
    burst = changes(
        authorize_ingress(SG, time="2016-08-01T10:00:05Z"),
        authorize_ingress(SG2, port=22, time="2016-08-01T10:00:01Z"),
        tag_call("CreateTags", [SG2], {CODE_LINK_TAG: "vpc-1a2b3c4d"}, time="2016-08-01T10:00:09Z"),
        state_change(INSTANCE, "running", time="2016-08-01T10:00:07Z"),
        rule_call("RevokeSecurityGroupIngress", SG, identity=iam_user("bob"), time="2016-08-01T10:00:03Z"),
    )
    for second, change in enumerate(burst):
        coalescer.add(change, now=100 + second, message_id=f"m{second}", receipt=f"r{second}")

    assert coalescer.pop_due(now=104 + 29) == []
    [batch] = coalescer.pop_due(now=104 + 30)
    event = batch.event()
    assert event == {
        "mirror_event": "change",
        "region": "us-east-1",
        "accounts": ["123456789012"],
        "count": 5,
        "event_names": ["AuthorizeSecurityGroupIngress", "CreateTags", "InstanceRunning", "RevokeSecurityGroupIngress"],
        "changes": ["authorize", "instance_running", "revoke", "tag"],
        "group_ids": sorted([SG, SG2]),
        "group_names": [],
        "instance_ids": [INSTANCE],
        "principals": ["arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/bob"],
        "first_event_time": "2016-08-01T10:00:01Z",
        "last_event_time": "2016-08-01T10:00:09Z",
        "lifecycle_actions": [],
    }
    assert batch.receipts == {f"m{i}": f"r{i}" for i in range(5)}
    assert len(coalescer) == 0 and coalescer.pop_due(now=10_000) == []


def test_one_event_per_region():
    coalescer = Coalescer(quiet_seconds=10, max_wait_seconds=60)
    for region in ("us-east-1", "eu-west-1", "us-east-1", "eu-west-1", "ap-northeast-1"):
        coalescer.add(kept(authorize_ingress(SG, region=region)), now=0)
    batches = coalescer.pop_due(now=10)
    assert sorted((b.region, len(b.changes)) for b in batches) == [
        ("ap-northeast-1", 1),
        ("eu-west-1", 2),
        ("us-east-1", 2),
    ]


def test_every_change_extends_the_quiet_window():
    coalescer = Coalescer(quiet_seconds=30, max_wait_seconds=300)
    coalescer.add(kept(authorize_ingress(SG)), now=0)
    assert coalescer.next_due() == 30
    coalescer.add(kept(authorize_ingress(SG2)), now=20)
    assert coalescer.next_due() == 50
    assert coalescer.pop_due(now=49.9) == []
    [batch] = coalescer.pop_due(now=50)
    assert len(batch.changes) == 2
    assert coalescer.next_due() is None


def test_regions_go_quiet_independently():
    coalescer = Coalescer(quiet_seconds=30, max_wait_seconds=300)
    coalescer.add(kept(authorize_ingress(SG, region="us-east-1")), now=0)
    coalescer.add(kept(authorize_ingress(SG, region="eu-west-1")), now=20)
    assert [b.region for b in coalescer.pop_due(now=30)] == ["us-east-1"]
    assert coalescer.pop_due(now=49) == []
    assert [b.region for b in coalescer.pop_due(now=50)] == ["eu-west-1"]


def test_a_constant_stream_still_fires_after_max_wait():
    coalescer = Coalescer(quiet_seconds=30, max_wait_seconds=120)
    fired = []
    for now in range(0, 400, 10):  # a change every 10 s: never 30 s of quiet
        coalescer.add(kept(authorize_ingress(SG)), now=now)
        fired += [(now, len(b.changes)) for b in coalescer.pop_due(now=now)]
    # a batch opens at 0 and fires at 120 (13 changes: 0..120), the next opens at 130, and so on
    assert fired == [(120, 13), (250, 13), (380, 13)]


def test_a_redelivered_message_is_not_a_new_change():
    coalescer = Coalescer(quiet_seconds=30, max_wait_seconds=300)
    change = kept(authorize_ingress(SG))
    coalescer.add(change, now=0, message_id="m1", receipt="first")
    coalescer.add(change, now=25, message_id="m1", receipt="second")  # visibility timeout ran out
    [batch] = coalescer.pop_due(now=30)  # not extended by the redelivery
    assert (len(batch.changes), batch.receipts) == (1, {"m1": "second"})


def test_pop_all_empties_every_region():
    coalescer = Coalescer(quiet_seconds=30, max_wait_seconds=300)
    coalescer.add(kept(authorize_ingress(SG, region="us-west-2")), now=0)
    coalescer.add(kept(authorize_ingress(SG, region="us-east-1")), now=0)
    assert [b.region for b in coalescer.pop_all()] == ["us-east-1", "us-west-2"]
    assert len(coalescer) == 0


def test_zero_quiet_window_fires_at_once():
    coalescer = Coalescer(quiet_seconds=0, max_wait_seconds=0)
    coalescer.add(kept(authorize_ingress(SG)), now=5)
    assert len(coalescer.pop_due(now=5)) == 1


@pytest.mark.parametrize("quiet, max_wait", [(-1, 10), (30, 10)])
def test_inconsistent_windows_are_refused(quiet, max_wait):
    with pytest.raises(ValueError, match="quiet_seconds"):
        Coalescer(quiet_seconds=quiet, max_wait_seconds=max_wait)


def test_the_setup_playbook_watches_exactly_the_calls_the_filter_reads():
    playbook = yaml.safe_load((REPO_ROOT / "playbooks" / "events_setup.yml").read_text())
    assert set(playbook[0]["vars"]["mirror_events_api_calls"]) == WATCHED_CALLS


# --- one vocabulary with the modules ----------------------------------------------------------
# ansible-rulebook runs the plugin file on its own, so it repeats these facts instead of importing
# module_utils; these tests keep the copies equal.


def test_rule_changes_are_the_vocabulary_of_the_modules():
    assert RULE_CHANGES == MODEL_RULE_CHANGES == ("authorize", "revoke", "update")


def test_default_link_tag_keys_are_the_modules_link_tag_keys():
    assert tuple(DEFAULT_LINK_TAG_KEYS) == tuple(LINK_TAG_KEYS)


# --- what kind of change ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "event, expected",
    [
        (rule_call("AuthorizeSecurityGroupIngress", SG), "authorize"),
        (rule_call("AuthorizeSecurityGroupEgress", SG), "authorize"),
        (rule_call("RevokeSecurityGroupIngress", SG), "revoke"),
        (rule_call("RevokeSecurityGroupEgress", SG), "revoke"),
        (rule_call("UpdateSecurityGroupRuleDescriptionsIngress", SG), "update"),
        (rule_call("UpdateSecurityGroupRuleDescriptionsEgress", SG), "update"),
        (
            api_call(
                "ModifySecurityGroupRules",
                {"ModifySecurityGroupRulesRequest": {"GroupId": SG, "SecurityGroupRule": {"SecurityGroupRuleId": "sgr-1"}}},
            ),
            "update",
        ),
        (tag_call("CreateTags", [SG], {CODE_LINK_TAG: "vpc-1a2b3c4d"}), "tag"),
        (tag_call("DeleteTags", [SG], {CODE_LINK_TAG: None}), "tag"),
        (create_security_group("web", SG, {GUIDE_LINK_TAG: "vpc-1a2b3c4d"}), "create"),
        (api_call("DeleteSecurityGroup", {"groupId": SG}), "delete"),
        (state_change(INSTANCE, "running"), "instance_running"),
    ],
    ids=lambda value: value if isinstance(value, str) else value["detail"].get("eventName", value["detail-type"]),
)
def test_each_kept_change_is_classified(event, expected):
    assert kept(event).change == expected


INSTANCE_EVENTS = {
    "InstancePending", "InstanceRunning", "InstanceStopping", "InstanceStopped", "InstanceShuttingDown",
    "InstanceTerminated", "InstanceLaunching", "InstanceTerminating",
}
INSTANCE_CHANGES = {
    "instance_pending", "instance_running", "instance_stopping", "instance_stopped", "instance_shutting_down",
    "instance_terminated", "instance_launching", "instance_terminating",
}


def test_every_watched_event_has_a_kind_and_rule_calls_speak_the_rule_vocabulary():
    assert INSTANCE_RUNNING in INSTANCE_EVENTS
    assert set(CHANGE_OF_EVENT) == WATCHED_CALLS | INSTANCE_EVENTS
    assert {CHANGE_OF_EVENT[name] for name in RULE_CALLS} == set(RULE_CHANGES)
    others = {CHANGE_OF_EVENT[name] for name in set(CHANGE_OF_EVENT) - RULE_CALLS}
    assert others == {"tag", "create", "delete"} | INSTANCE_CHANGES


def test_a_change_built_by_hand_is_classified_from_its_event_name():
    assert Change(region="us-east-1", event_name="RevokeSecurityGroupEgress").change == "revoke"
    assert Change(region="us-east-1", event_name="DescribeSecurityGroups").change == ""
    assert Change(region="us-east-1", event_name="CreateTags", change="tag").change == "tag"


def test_the_event_lists_the_kinds_of_change_of_its_batch_once_each_sorted():
    batch = Batch("us-east-1", opened=0, last=0)
    batch.changes.extend(
        changes(
            tag_call("CreateTags", [SG], {CODE_LINK_TAG: "vpc-1a2b3c4d"}),
            rule_call("RevokeSecurityGroupIngress", SG),
            authorize_ingress(SG),
            authorize_ingress(SG2, port=22),
            rule_call("UpdateSecurityGroupRuleDescriptionsEgress", SG),
        )
    )
    event = batch.event()
    assert event["changes"] == ["authorize", "revoke", "tag", "update"]
    assert event["count"] == 5
    assert set(event["changes"]) & set(RULE_CHANGES) == {"authorize", "revoke", "update"}


def test_the_documented_event_has_exactly_the_keys_the_source_emits():
    doc = yaml.safe_load(mirror_events.DOCUMENTATION)
    yaml.safe_load(mirror_events.EXAMPLES)
    [line] = [text for text in doc["description"] if text.startswith("Event:")]
    documented = re.search(r"C\(\{(.*?)\}\)", line).group(1)
    keys = [key.split(":")[0].strip() for key in documented.split(",")]
    batch = Batch("us-east-1", opened=0, last=0)
    batch.changes.append(kept(authorize_ingress(SG)))
    assert keys == list(batch.event())
