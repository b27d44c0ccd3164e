# -*- coding: utf-8 -*-
"""The I/O half of the mirror_events source against SQS on the moto harness.

The relay is stepped by hand with a fake clock and short polls (``wait_seconds=0``),
so nothing sleeps; one test runs the plugin's ``main`` as ansible-rulebook does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from ansible_collections.classiclink.mirror.extensions.eda.plugins.event_source import mirror_events
from ansible_collections.classiclink.mirror.extensions.eda.plugins.event_source.mirror_events import (
    ChangeFilter,
    Coalescer,
    SqsRelay,
)

from .cloudtrail import CODE_LINK_TAG, MIRROR_ROLE_ARN, SHUTDOWN, assumed_role, authorize_ingress, body, state_change, tag_call

SG = "sg-0a1b2c3d4e5f60718"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Events:
    """The rulebook's queue: records what was handed on, and how many messages SQS still held then."""

    def __init__(self, sqs: Any = None, queue_url: str = "") -> None:
        self.items: list[dict[str, Any]] = []
        self.in_sqs_when_put: list[int] = []
        self._sqs, self._url = sqs, queue_url

    async def put(self, event: dict[str, Any]) -> None:
        self.items.append(event)
        if self._sqs is not None:
            self.in_sqs_when_put.append(messages_in(self._sqs, self._url))


def messages_in(sqs: Any, queue_url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def sqs(aws_client):
    return aws_client("sqs")


@pytest.fixture
def queue_url(sqs):
    return sqs.create_queue(QueueName="classiclink-mirror-events")["QueueUrl"]


def relay_for(sqs, queue_url, events, clock, **kwargs):
    kwargs.setdefault("wait_seconds", 0)
    change_filter = ChangeFilter(ignore_principals=kwargs.pop("ignore_principals", ()))
    coalescer = Coalescer(kwargs.pop("quiet_seconds", 30), kwargs.pop("max_wait_seconds", 300))
    return SqsRelay(sqs, queue_url, events, change_filter, coalescer, clock=clock, **kwargs)


def send(sqs, queue_url, *bodies):
    for text in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=text)


def test_a_burst_is_handed_on_once_and_deleted_only_after(sqs, queue_url):
    clock, events = Clock(), Events(sqs, queue_url)
    relay = relay_for(sqs, queue_url, events, clock)
    send(sqs, queue_url, *(body(authorize_ingress(SG, port=p)) for p in (22, 80, 443)))
    send(sqs, queue_url, body(state_change("i-0123456789abcdef0", "running")))

    asyncio.run(relay.step())
    assert events.items == []
    assert messages_in(sqs, queue_url) == 4  # held (in flight), not deleted

    clock.now += 29
    asyncio.run(relay.step())
    assert events.items == []

    clock.now += 1
    asyncio.run(relay.step())
    [event] = events.items
    assert (event["region"], event["count"], event["group_ids"]) == ("us-east-1", 4, [SG])
    assert event["event_names"] == ["AuthorizeSecurityGroupIngress", "InstanceRunning"]
    assert events.in_sqs_when_put == [4]  # still in SQS when handed on ...
    assert messages_in(sqs, queue_url) == 0  # ... deleted right after


def test_held_messages_stay_hidden_for_the_whole_window(sqs, queue_url):
    relay = relay_for(sqs, queue_url, Events(), Clock(), quiet_seconds=30, max_wait_seconds=300, wait_seconds=20)
    assert relay.visibility_timeout == 300 + 20 + 60


def test_dropped_and_poison_messages_are_deleted_at_once(sqs, queue_url, caplog):
    clock, events = Clock(), Events()
    relay = relay_for(sqs, queue_url, events, clock, ignore_principals=(MIRROR_ROLE_ARN,))
    send(
        sqs,
        queue_url,
        "this is not JSON {",
        body(tag_call("CreateTags", [SG], {"owner": "team-a"})),
        body(authorize_ingress(SG, identity=assumed_role())),  # the mirror's own change
        body(state_change("i-0123456789abcdef0", "stopped")),
    )
    with caplog.at_level(logging.ERROR, logger="classiclink.mirror.mirror_events"):
        asyncio.run(relay.step())
    assert messages_in(sqs, queue_url) == 0
    assert events.items == []
    assert len(relay.coalescer) == 0
    assert "not JSON" in caplog.text


def test_shutdown_flushes_pending_changes_first(sqs, queue_url):
    clock, events = Clock(), Events()
    relay = relay_for(sqs, queue_url, events, clock, accept_control_messages=True)
    send(sqs, queue_url, body(tag_call("CreateTags", [SG], {CODE_LINK_TAG: "vpc-1a2b3c4d"})), SHUTDOWN)
    asyncio.run(relay.step())
    assert [e["mirror_event"] for e in events.items] == ["change", "shutdown"]
    assert events.items[1]["reason"] == "test finished"
    assert messages_in(sqs, queue_url) == 0


def test_control_messages_are_ignored_unless_accepted(sqs, queue_url):
    events = Events()
    relay = relay_for(sqs, queue_url, events, Clock())
    send(sqs, queue_url, SHUTDOWN)
    asyncio.run(relay.step())
    assert events.items == [] and messages_in(sqs, queue_url) == 0


def test_sqs_errors_back_off_and_recover(sqs, queue_url):
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)

    relay = relay_for(sqs, queue_url + "-missing", Events(), Clock(), sleep=nap, max_backoff=4)
    for backoff in (1, 2, 4, 4):  # doubling, capped at max_backoff
        asyncio.run(relay.step())
        assert naps[-1] == backoff
    relay.queue_url = queue_url
    asyncio.run(relay.step())
    assert relay._backoff == 0  # pylint: disable=protected-access


def test_main_runs_as_ansible_rulebook_runs_it(moto, sqs, queue_url):
    """The entry point, with the arguments of a rulebook: one event after a short quiet window."""
    send(sqs, queue_url, body(authorize_ingress(SG)), body(authorize_ingress(SG, port=22)))
    args = {
        "queue_name": "classiclink-mirror-events",
        "region": "us-east-1",
        "endpoint_url": moto.url,
        "access_key": "testing",
        "secret_key": "testing",
        "quiet_seconds": 0.5,
        "max_wait_seconds": "5",
        "wait_seconds": 1,
        "link_tag_keys": ",".join([CODE_LINK_TAG]),
    }

    async def first_event() -> dict[str, Any]:
        queue: asyncio.Queue = asyncio.Queue()
        task = asyncio.create_task(mirror_events.main(queue, args))
        try:
            return await asyncio.wait_for(queue.get(), timeout=20)
        finally:
            task.cancel()

    event = asyncio.run(first_event())
    assert (event["mirror_event"], event["count"], event["group_ids"]) == ("change", 2, [SG])
    assert json.loads(json.dumps(event)) == event  # plain JSON for the rulebook
