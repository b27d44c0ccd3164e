"""mirror_events: the EC2 changes that call for a classiclink.mirror run, from an SQS queue.

ansible-rulebook runs this file on its own (``runpy.run_path``), so it cannot
import the collection's module_utils: the few facts it shares with them (the
link tag keys, the rule-change vocabulary) are repeated here and named where
they live; tests/eda/test_mirror_events_filter.py checks that they agree.

Two halves:

* pure: :class:`ChangeFilter` turns one EventBridge event into a :class:`Change`
  (or drops it, saying why) and :class:`Coalescer` gathers changes into one
  :class:`Batch` per region until the region has been quiet for a while;
* I/O: :class:`SqsRelay` receives, hands batches on to the rulebook, and only
  then deletes their messages, so a crash never loses a change (SQS redelivers,
  and one more mirror run is harmless: runs are idempotent).
"""

import asyncio
import fnmatch
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

DOCUMENTATION = r"""
---
short_description: EC2 changes that need a classiclink.mirror run, coalesced per region, from SQS.
description:
  - Long-polls an SQS queue fed by an EventBridge rule (playbook C(classiclink.mirror.events_setup))
    with EC2 API calls recorded by CloudTrail, EC2 instance state changes and Auto Scaling lifecycle actions.
  - Keeps security group rule changes (Authorize/Revoke ingress and egress, ModifySecurityGroupRules,
    rule description updates), CreateTags/DeleteTags touching a link tag key on a security group,
    CreateSecurityGroup with a link tag, DeleteSecurityGroup, instances entering one of O(instance_states)
    (C(running) by default), and Auto Scaling lifecycle actions (C(EC2 Instance-launch Lifecycle Action),
    C(EC2 Instance-terminate Lifecycle Action)). Drops failed calls (C(errorCode)) and calls made by O(ignore_principals).
  - Classifies each kept change - V(authorize) (C(AuthorizeSecurityGroupIngress), C(AuthorizeSecurityGroupEgress)),
    V(revoke) (C(RevokeSecurityGroupIngress), C(RevokeSecurityGroupEgress)), V(update)
    (C(UpdateSecurityGroupRuleDescriptionsIngress), C(UpdateSecurityGroupRuleDescriptionsEgress),
    C(ModifySecurityGroupRules)), V(tag) (C(CreateTags), C(DeleteTags)), V(create) (C(CreateSecurityGroup)),
    V(delete) (C(DeleteSecurityGroup)), V(instance_running) (an instance entering C(running)); with O(instance_states),
    V(instance_pending), V(instance_stopping), V(instance_stopped), V(instance_shutting_down) and V(instance_terminated)
    for the other states; V(instance_launching) and V(instance_terminating) for an Auto Scaling lifecycle action of
    transition C(autoscaling:EC2_INSTANCE_LAUNCHING) or C(autoscaling:EC2_INSTANCE_TERMINATING).
  - V(authorize), V(revoke) and V(update) are the collection's one rule-change vocabulary, the same words as the rule
    changes in the results of M(classiclink.mirror.classiclink_mirror_group) (its C(groups[].ingress) and
    C(groups[].egress)), of the audit M(classiclink.mirror.classiclink_mirror_info) (its C(pairs[].drift)) and of the
    P(classiclink.mirror.mirror_summary#filter) filter.
  - Emits ONE event per region once the region has been quiet for O(quiet_seconds), or at the latest
    O(max_wait_seconds) after its first change. A message is deleted only after its event was handed on.
  - "Event: C({mirror_event: change, region, accounts, count, event_names, changes, group_ids, group_names,
    instance_ids, principals, first_event_time, last_event_time, lifecycle_actions}). Every list is sorted and without
    duplicates; C(changes) is the set of the classes above among the batch's changes (for example C([authorize, tag]))."
  - "C(lifecycle_actions) lists the batch's Auto Scaling lifecycle actions, one per token, each
    C({region, account, auto_scaling_group_name, lifecycle_hook_name, lifecycle_action_token, instance_id, transition,
    time}): what the rulebook C(classiclink.mirror.mirror_cluster) completes after the run (playbook
    C(classiclink.mirror.mirror_lifecycle)). Empty for a batch without lifecycle actions."
options:
  queue_name:
    description: Name of the SQS queue (or give O(queue_url)).
    type: str
  queue_url:
    description: URL of the SQS queue.
    type: str
  region:
    description: Region of the queue; else the boto3 default chain.
    type: str
  endpoint_url:
    description: SQS endpoint (a VPC endpoint, or a test server).
    type: str
  access_key:
    description: AWS access key id; else the boto3 default chain (environment, profile, instance role).
    type: str
  secret_key:
    description: AWS secret access key.
    type: str
  session_token:
    description: STS session token.
    type: str
  profile:
    description: Named profile of the shared AWS configuration.
    type: str
  quiet_seconds:
    description: A region's event is emitted once no change arrived for it for this long.
    type: float
    default: 30
  max_wait_seconds:
    description: ... and at the latest this long after its first change, so a constant stream still fires.
    type: float
    default: 300
  wait_seconds:
    description: SQS long-poll duration per receive (0-20).
    type: int
    default: 20
  visibility_timeout:
    description: Seconds a received message stays hidden while held; default O(max_wait_seconds) + O(wait_seconds) + 60.
    type: int
  link_tag_keys:
    description: Tag keys that declare a source group's target VPC.
    type: list
    elements: str
    default: [classiclinkmirror:linkToVPC, classicmirror:linkToVPC]
  instance_states:
    description:
      - Instance states whose C(EC2 Instance State-change Notification) is kept; the others are dropped.
      - The default keeps instances entering C(running) (instances to link). Address lists
        (C(references=addresses)) also change when an instance stops or terminates, so the rulebook
        C(classiclink.mirror.mirror_cluster) sets V(running), V(stopped) and V(terminated).
    type: list
    elements: str
    choices: [pending, running, stopping, stopped, shutting-down, terminated]
    default: [running]
  ignore_principals:
    description:
      - Calls made by these principals are dropped (the mirror's own changes must not retrigger it).
      - Each entry is matched (shell-style C(*) wildcards allowed) against the caller's C(userIdentity.arn),
        C(userIdentity.principalId), and for an assumed role its issuer's ARN and role id.
    type: list
    elements: str
    default: []
  accept_control_messages:
    description:
      - 'Honour a message C({"classiclink_mirror_control": "shutdown"}) - pending batches are emitted first,
        then an event C({mirror_event: shutdown}). For tests; keep it off in production.'
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: React to changes of mirror inputs
  hosts: localhost
  sources:
    - classiclink.mirror.mirror_events:
        queue_name: classiclink-mirror-events
        region: us-east-1
        ignore_principals:
          - arn:aws:iam::123456789012:role/classiclink-mirror

- name: Keep a cluster's address lists exact and complete its Auto Scaling lifecycle actions
  hosts: localhost
  sources:
    - classiclink.mirror.mirror_events:
        queue_name: classiclink-mirror-events
        region: us-east-1
        instance_states: [running, stopped, terminated]
"""

LOG = logging.getLogger("classiclink.mirror.mirror_events")

# Same keys as LINK_TAG_KEYS in plugins/module_utils/tags.py.
DEFAULT_LINK_TAG_KEYS = ("classiclinkmirror:linkToVPC", "classicmirror:linkToVPC")
# The rule-change vocabulary: the same words as RULE_CHANGES in plugins/module_utils/model.py
# (the modules' results, the audit, the mirror_summary filter).
AUTHORIZE, REVOKE, UPDATE = "authorize", "revoke", "update"
RULE_CHANGES = (AUTHORIZE, REVOKE, UPDATE)
# The other kinds of change the source keeps (Change.change, the event's ``changes``).
TAG, CREATE, DELETE, INSTANCE_RUNNING_CHANGE = "tag", "create", "delete", "instance_running"
API_CALL = "AWS API Call via CloudTrail"
STATE_CHANGE = "EC2 Instance State-change Notification"
LAUNCH_ACTION = "EC2 Instance-launch Lifecycle Action"
TERMINATE_ACTION = "EC2 Instance-terminate Lifecycle Action"
LAUNCHING, TERMINATING = "autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"
# The detail-type of a lifecycle action event -> its transition.
TRANSITION_OF = {LAUNCH_ACTION: LAUNCHING, TERMINATE_ACTION: TERMINATING}
# EC2 instance states (the ``state`` of a state-change notification), in lifecycle order.
INSTANCE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down", "terminated")
DEFAULT_INSTANCE_STATES = ("running",)
RULE_CALLS = frozenset(
    {
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
        "ModifySecurityGroupRules",
        "UpdateSecurityGroupRuleDescriptionsIngress",
        "UpdateSecurityGroupRuleDescriptionsEgress",
    }
)
TAG_CALLS = frozenset({"CreateTags", "DeleteTags"})
GROUP_CALLS = frozenset({"CreateSecurityGroup", "DeleteSecurityGroup"})
# What the EventBridge rule of playbooks/events_setup.yml lets through (mirror_events_api_calls).
WATCHED_CALLS = RULE_CALLS | TAG_CALLS | GROUP_CALLS
INSTANCE_RUNNING = "InstanceRunning"  # the event name given to a state change to running


def state_event_name(state: str) -> str:
    """The event name given to a state change: InstanceRunning, InstanceShuttingDown..."""
    return "Instance" + "".join(part.capitalize() for part in state.split("-"))


# Event name -> kind of change of the instance states and lifecycle transitions.
INSTANCE_CHANGE_OF_EVENT: dict[str, str] = {
    **{state_event_name(state): "instance_" + state.replace("-", "_") for state in INSTANCE_STATES},
    "InstanceLaunching": "instance_launching",
    "InstanceTerminating": "instance_terminating",
}
EVENT_OF_TRANSITION = {LAUNCHING: "InstanceLaunching", TERMINATING: "InstanceTerminating"}
# Event name -> kind of change, for every call of WATCHED_CALLS and every instance event.
CHANGE_OF_EVENT: dict[str, str] = {
    "AuthorizeSecurityGroupIngress": AUTHORIZE,
    "AuthorizeSecurityGroupEgress": AUTHORIZE,
    "RevokeSecurityGroupIngress": REVOKE,
    "RevokeSecurityGroupEgress": REVOKE,
    "UpdateSecurityGroupRuleDescriptionsIngress": UPDATE,
    "UpdateSecurityGroupRuleDescriptionsEgress": UPDATE,
    "ModifySecurityGroupRules": UPDATE,  # changes rules in place
    "CreateTags": TAG,
    "DeleteTags": TAG,
    "CreateSecurityGroup": CREATE,
    "DeleteSecurityGroup": DELETE,
    INSTANCE_RUNNING: INSTANCE_RUNNING_CHANGE,
    **INSTANCE_CHANGE_OF_EVENT,
}
CONTROL_KEY = "classiclink_mirror_control"
SQS_BATCH = 10  # SQS receives and deletes at most 10 messages per call


@dataclass(frozen=True)
class LifecycleAction:
    """An Auto Scaling lifecycle action waiting for CompleteLifecycleAction (the instance is in Pending:Wait or
    Terminating:Wait until then, or until the hook's heartbeat timeout applies its default result)."""

    region: str
    account: str
    auto_scaling_group_name: str
    lifecycle_hook_name: str
    lifecycle_action_token: str
    instance_id: str
    transition: str
    time: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "region": self.region,
            "account": self.account,
            "auto_scaling_group_name": self.auto_scaling_group_name,
            "lifecycle_hook_name": self.lifecycle_hook_name,
            "lifecycle_action_token": self.lifecycle_action_token,
            "instance_id": self.instance_id,
            "transition": self.transition,
            "time": self.time,
        }


@dataclass(frozen=True)
class Change:
    """One EC2 change that may alter what a mirror run does in its region."""

    region: str
    event_name: str
    account: str = ""
    time: str = ""
    group_ids: tuple[str, ...] = ()
    group_names: tuple[str, ...] = ()
    instance_ids: tuple[str, ...] = ()
    principal: str = ""
    # What kind of change: one of RULE_CHANGES (authorize, revoke, update), tag, create, delete or
    # instance_<state> / instance_launching / instance_terminating; classified from event_name when not given
    # ("" for an unknown name).
    change: str = ""
    lifecycle_action: LifecycleAction | None = None  # an Auto Scaling lifecycle action to complete after the run

    def __post_init__(self) -> None:
        if not self.change:
            object.__setattr__(self, "change", change_of(self.event_name))


def change_of(event_name: str) -> str:
    """The kind of change an event name stands for (see CHANGE_OF_EVENT); "" when it is not watched."""
    return CHANGE_OF_EVENT.get(event_name, "")


def _items(value: Any) -> list[Any]:
    """CloudTrail writes lists as ``{"items": [...]}``; accept plain lists too."""
    if isinstance(value, Mapping):
        value = value.get("items")
    return [item for item in value or () if isinstance(item, Mapping)] if isinstance(value, list) else []


def _mapping(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}


def _strings(*values: Any) -> tuple[str, ...]:
    return tuple(sorted({v.strip() for v in values if isinstance(v, str) and v.strip()}))


@dataclass(frozen=True)
class ChangeFilter:
    """EventBridge event -> :class:`Change`, or ``None`` with the reason it is dropped."""

    link_tag_keys: frozenset[str] = frozenset(DEFAULT_LINK_TAG_KEYS)
    ignore_principals: tuple[str, ...] = ()
    instance_states: tuple[str, ...] = DEFAULT_INSTANCE_STATES

    def __post_init__(self) -> None:
        unknown = sorted(set(self.instance_states) - set(INSTANCE_STATES))
        if unknown:
            raise ValueError(f"instance_states: unknown state(s) {', '.join(unknown)}; choose among {', '.join(INSTANCE_STATES)}")

    def read(self, envelope: Any) -> tuple[Change | None, str]:
        if not isinstance(envelope, Mapping) or not isinstance(envelope.get("detail"), Mapping):
            return None, "not an EventBridge event (no detail)"
        detail = envelope["detail"]
        region = envelope.get("region") or detail.get("awsRegion")
        if not isinstance(region, str) or not region:
            return None, "event names no region"
        base = {"region": region, "account": str(envelope.get("account") or ""), "time": str(envelope.get("time") or "")}
        if envelope.get("detail-type") == STATE_CHANGE:
            state = detail.get("state")
            if state not in self.instance_states:
                return None, f"instance state {state!r} is not {' or '.join(self.instance_states)}"
            return Change(event_name=state_event_name(state), instance_ids=_strings(detail.get("instance-id")), **base), ""
        if envelope.get("detail-type") in TRANSITION_OF:
            return self._lifecycle_action(envelope["detail-type"], detail, base)
        if envelope.get("detail-type") != API_CALL:
            return None, f"detail-type {envelope.get('detail-type')!r} is not watched"
        return self._api_call(detail, base)

    def _api_call(self, detail: Mapping[str, Any], base: dict[str, str]) -> tuple[Change | None, str]:
        name = detail.get("eventName")
        if detail.get("eventSource") != "ec2.amazonaws.com":
            return None, f"{name} is not an EC2 call"
        if detail.get("errorCode"):
            return None, f"{name} failed ({detail['errorCode']})"
        identity = _mapping(detail, "userIdentity")
        principal = str(identity.get("arn") or identity.get("principalId") or "")
        if self.ignores(identity):
            return None, f"{name} was made by an ignored principal ({principal})"
        params = _mapping(detail, "requestParameters")
        base["principal"] = principal
        if name in RULE_CALLS or name == "DeleteSecurityGroup":
            group_ids = _strings(params.get("groupId"), _mapping(params, "ModifySecurityGroupRulesRequest").get("GroupId"))
            return Change(event_name=name, group_ids=group_ids, group_names=_strings(params.get("groupName")), **base), ""
        if name in TAG_CALLS:
            return self._tag_call(name, params, base)
        if name == "CreateSecurityGroup":
            keys = {tag.get("key") for spec in _items(params.get("tagSpecificationSet")) for tag in _items(spec.get("tags"))}
            if not keys & self.link_tag_keys:
                return None, "CreateSecurityGroup without a link tag"
            group_ids = _strings(_mapping(detail, "responseElements").get("groupId"))
            group_names = _strings(params.get("groupName"))
            return Change(event_name=name, group_ids=group_ids, group_names=group_names, **base), ""
        return None, f"{name} is not watched"

    @staticmethod
    def _lifecycle_action(detail_type: str, detail: Mapping[str, Any], base: dict[str, str]) -> tuple[Change | None, str]:
        """An Auto Scaling lifecycle action event: the instance waits in Pending:Wait / Terminating:Wait."""
        transition = detail.get("LifecycleTransition") or TRANSITION_OF[detail_type]
        if transition != TRANSITION_OF[detail_type]:
            return None, f"{detail_type} with transition {transition!r}"
        keys = {"auto_scaling_group_name": "AutoScalingGroupName", "lifecycle_hook_name": "LifecycleHookName",
                "instance_id": "EC2InstanceId"}
        fields = {field_name: detail.get(key) for field_name, key in keys.items()}
        missing = [keys[name] for name, value in fields.items() if not isinstance(value, str) or not value]
        if missing:
            return None, f"{detail_type} without {', '.join(missing)}: it cannot be completed"
        token = detail.get("LifecycleActionToken")
        action = LifecycleAction(
            region=base["region"],
            account=base["account"],
            lifecycle_action_token=token if isinstance(token, str) else "",
            transition=transition,
            time=base["time"],
            **fields,
        )
        event_name = EVENT_OF_TRANSITION[transition]
        return Change(event_name=event_name, instance_ids=(action.instance_id,), lifecycle_action=action, **base), ""

    def _tag_call(self, name: str, params: Mapping[str, Any], base: dict[str, str]) -> tuple[Change | None, str]:
        groups = _strings(*(item.get("resourceId") for item in _items(params.get("resourcesSet"))))
        groups = tuple(g for g in groups if g.startswith("sg-"))
        if not groups:
            return None, f"{name} tags no security group"
        keys = {item.get("key") for item in _items(params.get("tagSet"))}
        # DeleteTags without tags removes every tag, link tags included.
        if not (keys & self.link_tag_keys or (name == "DeleteTags" and not keys)):
            return None, f"{name} does not touch a link tag ({', '.join(sorted(map(str, keys)))})"
        return Change(event_name=name, group_ids=groups, **base), ""

    def ignores(self, identity: Mapping[str, Any]) -> bool:
        """True when the caller is one of ``ignore_principals`` (the mirror's own identity)."""
        issuer = _mapping(_mapping(identity, "sessionContext"), "sessionIssuer")
        candidates = [identity.get("arn"), identity.get("principalId"), issuer.get("arn"), issuer.get("principalId")]
        names = [c for c in candidates if isinstance(c, str) and c]
        return any(fnmatch.fnmatchcase(n, pattern) for pattern in self.ignore_principals for n in names)


@dataclass
class Batch:
    """The changes of one region waiting for the region to go quiet, with their SQS receipts."""

    region: str
    opened: float
    last: float
    changes: list[Change] = field(default_factory=list)
    receipts: dict[str, str] = field(default_factory=dict)  # SQS message id -> receipt handle

    def due_at(self, quiet_seconds: float, max_wait_seconds: float) -> float:
        return min(self.last + quiet_seconds, self.opened + max_wait_seconds)

    def event(self) -> dict[str, Any]:
        """The event handed to the rulebook: where to run, and what changed (for the audit trail)."""

        def union(attr: str) -> list[str]:
            return sorted({value for change in self.changes for value in getattr(change, attr)})

        times = sorted(c.time for c in self.changes if c.time)
        return {
            "mirror_event": "change",
            "region": self.region,
            "accounts": sorted({c.account for c in self.changes if c.account}),
            "count": len(self.changes),
            "event_names": sorted({c.event_name for c in self.changes}),
            "changes": sorted({c.change for c in self.changes if c.change}),
            "group_ids": union("group_ids"),
            "group_names": union("group_names"),
            "instance_ids": union("instance_ids"),
            "principals": sorted({c.principal for c in self.changes if c.principal}),
            "first_event_time": times[0] if times else "",
            "last_event_time": times[-1] if times else "",
            "lifecycle_actions": self.lifecycle_actions(),
        }

    def lifecycle_actions(self) -> list[dict[str, str]]:
        """The batch's lifecycle actions, once per token (EventBridge may deliver an event twice), in time order."""
        actions: dict[tuple[str, ...], LifecycleAction] = {}
        for change in self.changes:
            action = change.lifecycle_action
            if action is None:
                continue
            key = (action.lifecycle_action_token,) if action.lifecycle_action_token else (
                action.auto_scaling_group_name, action.lifecycle_hook_name, action.instance_id, action.transition)
            actions.setdefault(key, action)
        ordered = sorted(actions.values(), key=lambda a: (a.time, a.instance_id, a.lifecycle_hook_name, a.lifecycle_action_token))
        return [action.as_dict() for action in ordered]


class Coalescer:
    """One batch per region; a batch is due after ``quiet_seconds`` without a new change,
    or ``max_wait_seconds`` after it opened. Time is passed in: no clock, no sleeping."""

    def __init__(self, quiet_seconds: float = 30, max_wait_seconds: float = 300) -> None:
        if quiet_seconds < 0 or max_wait_seconds < quiet_seconds:
            raise ValueError(
                f"need 0 <= quiet_seconds <= max_wait_seconds, got quiet_seconds={quiet_seconds}, max_wait_seconds={max_wait_seconds}"
            )
        self.quiet_seconds, self.max_wait_seconds = quiet_seconds, max_wait_seconds
        self._batches: dict[str, Batch] = {}

    def __len__(self) -> int:
        return len(self._batches)

    def add(self, change: Change, now: float, message_id: str = "", receipt: str = "") -> None:
        batch = self._batches.setdefault(change.region, Batch(change.region, opened=now, last=now))
        if message_id and message_id in batch.receipts:  # SQS redelivered a held message: not a new change
            batch.receipts[message_id] = receipt
            return
        batch.changes.append(change)
        batch.last = now
        if message_id:
            batch.receipts[message_id] = receipt

    def next_due(self) -> float | None:
        return min((b.due_at(self.quiet_seconds, self.max_wait_seconds) for b in self._batches.values()), default=None)

    def pop_due(self, now: float) -> list[Batch]:
        due = [r for r, b in self._batches.items() if b.due_at(self.quiet_seconds, self.max_wait_seconds) <= now]
        return [self._batches.pop(region) for region in sorted(due)]

    def pop_all(self) -> list[Batch]:
        batches = [self._batches[region] for region in sorted(self._batches)]
        self._batches.clear()
        return batches


class SqsRelay:
    """SQS -> filter -> coalescer -> rulebook queue; messages deleted once their event is handed on."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue: Any,
        change_filter: ChangeFilter,
        coalescer: Coalescer,
        *,
        wait_seconds: int = 20,
        visibility_timeout: int | None = None,
        accept_control_messages: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
        max_backoff: float = 60,
    ) -> None:
        self.sqs, self.queue_url, self.queue = sqs, queue_url, queue
        self.filter, self.coalescer = change_filter, coalescer
        self.wait_seconds = max(0, min(20, int(wait_seconds)))
        default_visibility = math.ceil(coalescer.max_wait_seconds) + self.wait_seconds + 60
        self.visibility_timeout = int(visibility_timeout or default_visibility)
        self.accept_control_messages = accept_control_messages
        self.clock, self.sleep, self.max_backoff = clock, sleep, max_backoff
        self._backoff = 0.0

    async def run(self) -> None:
        while True:
            await self.step()

    async def step(self) -> None:
        """One receive, then hand on every batch that is due."""
        drops: list[str] = []
        for message in await self._receive(self._poll_seconds()):
            drops.extend(await self._take(message))
        await self._hand_on(self.coalescer.pop_due(self.clock()))
        await self._delete(drops)

    def _poll_seconds(self) -> int:
        due = self.coalescer.next_due()
        if due is None:
            return self.wait_seconds
        return max(0, min(self.wait_seconds, math.ceil(due - self.clock())))

    async def _receive(self, wait: int) -> list[dict[str, Any]]:
        try:
            response = await asyncio.to_thread(
                self.sqs.receive_message,
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=SQS_BATCH,
                WaitTimeSeconds=wait,
                VisibilityTimeout=self.visibility_timeout,
            )
        except (BotoCoreError, ClientError) as err:
            self._backoff = min(self.max_backoff, max(1.0, self._backoff * 2))
            LOG.warning("receiving from %s failed (%s); retrying in %.0f s", self.queue_url, err, self._backoff)
            await self.sleep(self._backoff)
            return []
        self._backoff = 0.0
        return list(response.get("Messages") or [])

    async def _take(self, message: Mapping[str, Any]) -> list[str]:
        """Coalesce one message; return the receipts to delete at once (dropped messages)."""
        message_id, receipt = str(message.get("MessageId", "")), str(message.get("ReceiptHandle", ""))
        try:
            envelope = json.loads(message.get("Body") or "")
        except ValueError:
            LOG.error("deleting message %s: its body is not JSON: %.200r", message_id, message.get("Body"))
            return [receipt]
        if self.accept_control_messages and isinstance(envelope, Mapping) and CONTROL_KEY in envelope:
            await self._hand_on(self.coalescer.pop_all())
            await self.queue.put({"mirror_event": str(envelope[CONTROL_KEY]), "reason": str(envelope.get("reason", ""))})
            return [receipt]
        change, why = self.filter.read(envelope)
        if change is None:
            LOG.debug("dropping message %s: %s", message_id, why)
            return [receipt]
        self.coalescer.add(change, self.clock(), message_id, receipt)
        return []

    async def _hand_on(self, batches: Iterable[Batch]) -> None:
        for batch in batches:
            event = batch.event()
            await self.queue.put(event)
            LOG.info("region %s changed (%d changes: %s)", batch.region, event["count"], ", ".join(event["event_names"]))
            await self._delete(batch.receipts.values())

    async def _delete(self, receipts: Iterable[str]) -> None:
        handles = [r for r in receipts if r]
        for start in range(0, len(handles), SQS_BATCH):
            entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles[start:start + SQS_BATCH])]
            try:
                response = await asyncio.to_thread(self.sqs.delete_message_batch, QueueUrl=self.queue_url, Entries=entries)
            except (BotoCoreError, ClientError) as err:
                LOG.warning("deleting %d messages failed (%s); SQS will redeliver them", len(entries), err)
                continue
            for failure in response.get("Failed") or []:
                LOG.warning("deleting a message failed (%s); SQS will redeliver it", failure.get("Message") or failure.get("Code"))


def _arg(args: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """A rulebook variable left unset renders as None or "": take the default then."""
    value = args.get(name)
    return default if value is None or value == "" else value


def _list(value: Any, default: Iterable[str] = ()) -> tuple[str, ...]:
    if value is None or value == "":
        return tuple(default)
    items = value.split(",") if isinstance(value, str) else value
    return tuple(str(item).strip() for item in items if str(item).strip())


def _bool(value: Any) -> bool:
    """Rulebook variables may arrive as strings ("false")."""
    return value.strip().lower() in ("1", "true", "yes", "on") if isinstance(value, str) else bool(value)


def _sqs_client(args: Mapping[str, Any]) -> Any:
    import boto3  # only the I/O half needs it

    session = boto3.session.Session(
        aws_access_key_id=_arg(args, "access_key"),
        aws_secret_access_key=_arg(args, "secret_key"),
        aws_session_token=_arg(args, "session_token"),
        profile_name=_arg(args, "profile"),
        region_name=_arg(args, "region"),
    )
    return session.client("sqs", endpoint_url=_arg(args, "endpoint_url"))


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    """ansible-rulebook entry point."""
    queue_url, queue_name = _arg(args, "queue_url"), _arg(args, "queue_name")
    if not (queue_url or queue_name):
        raise ValueError("mirror_events needs queue_name or queue_url")
    coalescer = Coalescer(float(_arg(args, "quiet_seconds", 30)), float(_arg(args, "max_wait_seconds", 300)))
    change_filter = ChangeFilter(
        link_tag_keys=frozenset(_list(args.get("link_tag_keys"), DEFAULT_LINK_TAG_KEYS)),
        ignore_principals=_list(args.get("ignore_principals")),
        instance_states=_list(args.get("instance_states"), DEFAULT_INSTANCE_STATES),
    )
    sqs = await asyncio.to_thread(_sqs_client, args)
    if not queue_url:
        queue_url = (await asyncio.to_thread(sqs.get_queue_url, QueueName=queue_name))["QueueUrl"]
    LOG.info("watching %s (quiet %g s, max wait %g s)", queue_url, coalescer.quiet_seconds, coalescer.max_wait_seconds)
    relay = SqsRelay(
        sqs,
        queue_url,
        queue,
        change_filter,
        coalescer,
        wait_seconds=int(_arg(args, "wait_seconds", 20)),
        visibility_timeout=_arg(args, "visibility_timeout"),
        accept_control_messages=_bool(_arg(args, "accept_control_messages", False)),
    )
    await relay.run()
