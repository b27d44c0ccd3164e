"""Auto Scaling lifecycle-action emulation for the moto test server (test-only code).

moto 5.x accepts lifecycle hooks (``PutLifecycleHook``, ``DescribeLifecycleHooks``) but
launches and terminates instances at once and does not implement
``CompleteLifecycleAction`` / ``RecordLifecycleActionHeartbeat`` (a 500).  This module
keeps the lifecycle actions a hook opens and answers those calls, in the Auto Scaling
query protocol, on top of moto's own Auto Scaling and EC2 backends.  It is the one place
the harness (:mod:`tests.support.moto_harness`) emulates Auto Scaling.

Model (per account and region)
------------------------------
* **Launch.**  After every mutating Auto Scaling request the harness forwards to moto
  (``CreateAutoScalingGroup``, ``SetDesiredCapacity``, ``UpdateAutoScalingGroup``,
  ``ExecutePolicy``, ...), :meth:`AutoScalingLifecycleEmulator.after` looks for
  instances moto added to a group: each one gets a pending action per launching hook
  of its group (``autoscaling:EC2_INSTANCE_LAUNCHING``), with a new UUID token.  A hook
  created after an instance launched does not hold that instance (as on AWS).
* **Terminate.**  ``TerminateInstanceInAutoScalingGroup`` of an instance whose group has a
  terminating hook is held: the instance keeps running (AWS: ``Terminating:Wait``) with a
  pending action per terminating hook, and is terminated when the last of them is
  completed (``CONTINUE`` or ``ABANDON`` alike, as on AWS), honouring
  ``ShouldDecrementDesiredCapacity``.  The instance's primary network interface is
  deleted with it (AWS deletes the primary interface of a terminated instance; moto
  keeps it unless launched with ``DeleteOnTermination``).  Without a terminating hook
  the call goes to moto.  Scale-in through the desired capacity is moto's (no hold).
* **Complete.**  ``CompleteLifecycleAction`` finds the pending action by
  ``LifecycleActionToken`` (or, without one, by ``InstanceId``), which must belong to the
  named group and hook (and instance, when both are given); else ``ValidationError``
  "No active Lifecycle Action found with token TOKEN" (or "... with instance ID ID").  The
  result is recorded.  ``ABANDON`` of a launching action terminates the instance; moto
  then launches a replacement to keep the desired capacity (which opens its own action).
* **Heartbeat.**  ``RecordLifecycleActionHeartbeat`` (same look-up) moves the action's
  deadline to now + the hook's ``HeartbeatTimeout``, within the global timeout
  (the smaller of 48 hours and 100 heartbeat timeouts).
* **Timeout.**  An action past its deadline is completed with the hook's ``DefaultResult``
  (recorded with ``completed_by: timeout``), checked lazily on every request.
* **Deviations.**  moto's describes keep showing such instances ``InService`` (moto counts
  only ``InService`` instances as capacity, so changing its state would make it launch
  more); ``DescribeScalingActivities`` stays empty; no EventBridge event is sent: tests
  read the pending actions (with their tokens) from ``GET /_harness/autoscaling/lifecycle-actions``
  and send the event themselves.  The wording of the two parameter errors without an AWS
  reference text (neither token nor instance; a result other than CONTINUE/ABANDON) is the
  emulation's own.
* ``/moto-api/reset`` clears every action (see ``moto_harness``).

Every action, pending or completed, is listed by :meth:`AutoScalingLifecycleEmulator.actions`:
``token, account, region, auto_scaling_group_name, lifecycle_hook_name, instance_id,
transition, state (pending|completed), result, completed_by (CompleteLifecycleAction|timeout),
heartbeats``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any
from xml.sax.saxutils import escape

AUTOSCALING_XMLNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
LAUNCHING, TERMINATING = "autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"
RESULTS = ("CONTINUE", "ABANDON")
GLOBAL_TIMEOUT_MAX, GLOBAL_TIMEOUT_HEARTBEATS = 172800, 100  # seconds; or 100 x HeartbeatTimeout, the smaller
# Answered here; TerminateInstanceInAutoScalingGroup only when the instance's group has a terminating hook.
EMULATED_ACTIONS = frozenset({"CompleteLifecycleAction", "RecordLifecycleActionHeartbeat", "TerminateInstanceInAutoScalingGroup"})

Params = dict[str, str]


class EmulationError(Exception):
    """An Auto Scaling client error, rendered as Auto Scaling error XML."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def error_xml(code: str, message: str, sender: bool = True) -> str:
    return (
        f'<ErrorResponse xmlns="{AUTOSCALING_XMLNS}"><Error><Type>{"Sender" if sender else "Receiver"}</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )


def _response_xml(action: str, inner: str = "") -> str:
    result = f"<{action}Result>{inner}</{action}Result>" if inner else f"<{action}Result/>"
    return (
        f'<{action}Response xmlns="{AUTOSCALING_XMLNS}">{result}'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>"
    )


def _required(params: Params, name: str) -> str:
    value = params.get(name, "")
    if not value:
        member = name[0].lower() + name[1:]
        raise EmulationError(
            "ValidationError", f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        )
    return value


@dataclass
class LifecycleAction:
    token: str
    account: str
    region: str
    auto_scaling_group_name: str
    lifecycle_hook_name: str
    instance_id: str
    transition: str
    default_result: str
    heartbeat_timeout: int
    started: float
    deadline: float
    global_deadline: float
    should_decrement: bool = False  # terminating: TerminateInstanceInAutoScalingGroup's ShouldDecrementDesiredCapacity
    state: str = "pending"
    result: str = ""
    completed_by: str = ""
    heartbeats: int = 0
    completed_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        data = asdict(self)
        for internal in ("default_result", "heartbeat_timeout", "started", "deadline", "global_deadline", "should_decrement",
                         "completed_at", "extra"):
            data.pop(internal)
        return data


class AutoScalingLifecycleEmulator:
    """Lifecycle actions of every (account, region), over moto's backends."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self._actions: list[LifecycleAction] = []
        self._seen: dict[tuple[str, str], set[str]] = {}  # instances already in a group when last looked

    # --- harness interface ---------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._actions.clear()
            self._seen.clear()

    def actions(self) -> list[dict[str, Any]]:
        """Every action, pending or completed, oldest first (``GET /_harness/autoscaling/lifecycle-actions``)."""
        with self._lock:
            self._expire()
            return [action.view() for action in self._actions]

    def handles(self, action: str | None, params: Params, account_id: str, region: str) -> bool:
        """Whether the request is answered here rather than by moto."""
        if action in ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"):
            return True
        if action == "TerminateInstanceInAutoScalingGroup":
            try:
                group = self._group_of(params.get("InstanceId", ""), account_id, region)
            except Exception:  # an unknown backend or instance: moto answers
                return False
            return group is not None and bool(self._hooks(group.name, TERMINATING, account_id, region))
        return False

    def handle(self, action: str, params: Params, account_id: str, region: str) -> tuple[int, str]:
        with self._lock:
            self._expire()
            try:
                if action == "CompleteLifecycleAction":
                    return 200, self._complete(params, account_id, region)
                if action == "RecordLifecycleActionHeartbeat":
                    return 200, self._heartbeat(params, account_id, region)
                if action == "TerminateInstanceInAutoScalingGroup":
                    return 200, self._hold_termination(params, account_id, region)
            except EmulationError as err:
                return err.status, error_xml(err.code, err.message)
            except Exception as exc:  # a bug in the emulation: surface it as a 500
                logging.getLogger(__name__).exception("Auto Scaling emulation failed")
                return 500, error_xml("InternalFailure", f"emulation error: {exc!r}", sender=False)
        return 400, error_xml("InvalidAction", f"{action} is not emulated")

    def after(self, account_id: str, region: str) -> None:
        """After a mutating Auto Scaling request went to moto: open the launching actions of new instances."""
        with self._lock:
            self._expire()
            self._sweep(account_id, region)

    # --- moto's backends -----------------------------------------------------------------

    @staticmethod
    def _backend(account_id: str, region: str) -> Any:
        from moto.autoscaling.models import autoscaling_backends

        return autoscaling_backends[account_id][region]

    def _group_of(self, instance_id: str, account_id: str, region: str) -> Any:
        for group in self._backend(account_id, region).autoscaling_groups.values():
            if any(state.instance.id == instance_id for state in group.instance_states):
                return group
        return None

    def _hooks(self, group_name: str, transition: str, account_id: str, region: str) -> list[Any]:
        hooks = self._backend(account_id, region).lifecycle_hooks.values()
        return sorted((h for h in hooks if h.auto_scaling_group_name == group_name and h.lifecycle_transition == transition),
                      key=lambda h: h.name)

    def _open(self, hook: Any, instance_id: str, transition: str, account_id: str, region: str,
              should_decrement: bool = False) -> LifecycleAction:
        now = self.clock()
        heartbeat = int(hook.heartbeat_timeout or 3600)
        action = LifecycleAction(
            token=str(uuid.uuid4()),
            account=account_id,
            region=region,
            auto_scaling_group_name=hook.auto_scaling_group_name,
            lifecycle_hook_name=hook.name,
            instance_id=instance_id,
            transition=transition,
            default_result=hook.default_result or "ABANDON",
            heartbeat_timeout=heartbeat,
            started=now,
            deadline=now + heartbeat,
            global_deadline=now + min(GLOBAL_TIMEOUT_MAX, GLOBAL_TIMEOUT_HEARTBEATS * heartbeat),
            should_decrement=should_decrement,
        )
        self._actions.append(action)
        return action

    def _sweep(self, account_id: str, region: str) -> None:
        try:
            groups = list(self._backend(account_id, region).autoscaling_groups.values())
        except Exception:  # never break a moto response because of the sweep
            return
        seen = self._seen.setdefault((account_id, region), set())
        for group in groups:
            for state in group.instance_states:
                instance_id = state.instance.id
                if instance_id in seen:
                    continue
                seen.add(instance_id)
                for hook in self._hooks(group.name, LAUNCHING, account_id, region):
                    self._open(hook, instance_id, LAUNCHING, account_id, region)

    # --- the calls -----------------------------------------------------------------------

    def _find(self, params: Params, account_id: str, region: str) -> LifecycleAction:
        hook_name = _required(params, "LifecycleHookName")
        group_name = _required(params, "AutoScalingGroupName")
        token, instance_id = params.get("LifecycleActionToken", ""), params.get("InstanceId", "")
        if not token and not instance_id:
            raise EmulationError("ValidationError", "Either LifecycleActionToken or InstanceId must be specified")
        for action in self._actions:
            if (action.state == "pending" and (action.account, action.region) == (account_id, region)
                    and action.auto_scaling_group_name == group_name and action.lifecycle_hook_name == hook_name
                    and (not token or action.token == token) and (not instance_id or action.instance_id == instance_id)):
                return action
        what = f"token {token}" if token else f"instance ID {instance_id}"
        raise EmulationError("ValidationError", f"No active Lifecycle Action found with {what}")

    def _complete(self, params: Params, account_id: str, region: str) -> str:
        result = _required(params, "LifecycleActionResult")
        if result not in RESULTS:
            raise EmulationError("ValidationError", f"LifecycleActionResult {result!r} is not valid: use CONTINUE or ABANDON")
        action = self._find(params, account_id, region)
        self._finish(action, result, "CompleteLifecycleAction")
        return _response_xml("CompleteLifecycleAction")

    def _heartbeat(self, params: Params, account_id: str, region: str) -> str:
        action = self._find(params, account_id, region)
        action.heartbeats += 1
        action.deadline = min(self.clock() + action.heartbeat_timeout, action.global_deadline)
        return _response_xml("RecordLifecycleActionHeartbeat")

    def _hold_termination(self, params: Params, account_id: str, region: str) -> str:
        instance_id = _required(params, "InstanceId")
        should_decrement = params.get("ShouldDecrementDesiredCapacity", "false").lower() == "true"
        group = self._group_of(instance_id, account_id, region)
        pending = [a for a in self._actions if a.state == "pending" and a.instance_id == instance_id
                   and a.transition == TERMINATING and (a.account, a.region) == (account_id, region)]
        if not pending:  # a second request for an instance already in Terminating:Wait changes nothing
            for hook in self._hooks(group.name, TERMINATING, account_id, region):
                self._open(hook, instance_id, TERMINATING, account_id, region, should_decrement)
        now = datetime.fromtimestamp(self.clock(), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        capacity = group.desired_capacity
        cause = f"At {now} instance {instance_id} was taken out of service in response to a user request"
        cause += f", shrinking the capacity from {capacity} to {capacity - 1}." if should_decrement else "."
        activity = (
            f"<Activity><ActivityId>{uuid.uuid4()}</ActivityId>"
            f"<AutoScalingGroupName>{escape(group.name)}</AutoScalingGroupName>"
            f"<Description>Terminating EC2 instance: {instance_id}</Description><Cause>{escape(cause)}</Cause>"
            f"<StartTime>{now}</StartTime><StatusCode>InProgress</StatusCode><Progress>0</Progress></Activity>"
        )
        return _response_xml("TerminateInstanceInAutoScalingGroup", activity)

    def _finish(self, action: LifecycleAction, result: str, by: str) -> None:
        action.state, action.result, action.completed_by, action.completed_at = "completed", result, by, self.clock()
        others = [a for a in self._actions if a.state == "pending" and a.instance_id == action.instance_id
                  and a.transition == action.transition and (a.account, a.region) == (action.account, action.region)]
        if action.transition == LAUNCHING and result == "ABANDON":
            for other in others:  # the instance goes: its other hooks' actions end with it
                other.state, other.result, other.completed_by = "completed", "ABANDON", "abandoned with " + action.token
            self._terminate(action, should_decrement=False)
        elif action.transition == TERMINATING and not others:
            self._terminate(action, should_decrement=action.should_decrement)

    def _terminate(self, action: LifecycleAction, should_decrement: bool) -> None:
        """Terminate the instance through moto's Auto Scaling backend (which may launch a replacement)."""
        backend = self._backend(action.account, action.region)
        group = self._group_of(action.instance_id, action.account, action.region)
        if group is None:
            return  # already gone (terminated out of band)
        state = next(s for s in group.instance_states if s.instance.id == action.instance_id)
        primary = state.instance.nics.get(0)
        if primary is not None:
            primary.delete_on_termination = True  # AWS deletes the primary interface with the instance
        backend.terminate_instance(action.instance_id, should_decrement)
        self._sweep(action.account, action.region)  # a replacement opens its own launching actions

    def _expire(self) -> None:
        now = self.clock()
        for action in list(self._actions):
            if action.state == "pending" and now >= action.deadline:
                self._finish(action, action.default_result, "timeout")
