# -*- coding: utf-8 -*-
"""The AWS edge (scope.py): every retry path, each test failing when its retry is removed.

A stand-in client raises the errors EC2 and botocore raise; the client is wrapped
exactly as ``Scope.of_module`` wraps it (amazon.aws's RetryingBotoClientWrapper
with ``EC2Retry.jittered_backoff``), and sleeping is switched off.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, WaiterError
from botocore.parsers import ResponseParserError

from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.classiclink.mirror.plugins.module_utils import scope as scope_module
from ansible_collections.classiclink.mirror.plugins.module_utils.scope import (
    THROTTLE_RETRIES,
    EC2Retry,
    Scope,
    is_code,
    problem_of,
)


def client_error(code: str, operation: str = "DescribeVpcs") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "%s (test)" % code}}, operation)


class Flaky:
    """Answers each operation with the queued failures first, then ``answer``."""

    def __init__(self, failures, answer=None):
        self.failures = list(failures)
        self.answer = answer if answer is not None else {"Vpcs": []}
        self.calls = 0

    def _next(self, **_params):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.answer

    describe_vpcs = authorize_security_group_ingress = describe_security_groups = _next


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(cloud.time, "sleep", lambda _seconds: None)


def scope_over(client) -> Scope:
    return Scope(RetryingBotoClientWrapper(client, EC2Retry.jittered_backoff(**THROTTLE_RETRIES)))


def test_a_throttled_call_is_retried():
    client = Flaky([client_error("RequestLimitExceeded")] * 3)
    assert scope_over(client).call("describe_vpcs") == {"Vpcs": []}
    assert client.calls == 4


def test_an_unparsable_answer_is_retried_like_a_throttle():
    client = Flaky([ResponseParserError("Unable to parse response (syntax error): b'<!doctype html>'")] * 2)
    assert scope_over(client).call("describe_vpcs") == {"Vpcs": []}
    assert client.calls == 3


def test_retries_are_bounded():
    client = Flaky([client_error("RequestLimitExceeded")] * 99)
    with pytest.raises(ClientError):
        scope_over(client).call("describe_vpcs")
    assert client.calls == THROTTLE_RETRIES["retries"]


def test_other_errors_are_not_retried():
    client = Flaky([client_error("InvalidGroup.NotFound")])
    with pytest.raises(ClientError) as raised:
        scope_over(client).call("describe_vpcs")
    assert client.calls == 1 and is_code(raised.value, "InvalidGroup.NotFound")
    assert problem_of(raised.value, "reading").code == "not_found"


def test_a_call_naming_a_fresh_group_waits_until_ec2_knows_it():
    """Eventual consistency: a group this run created is unknown for a moment."""
    client = Flaky([client_error("InvalidGroup.NotFound"), client_error("InvalidGroup.NotFound"), client_error("RequestLimitExceeded")])
    assert scope_over(client).call("authorize_security_group_ingress", fresh=True, GroupId="sg-12345678") == {"Vpcs": []}
    assert client.calls == 4


def test_a_fresh_group_that_never_shows_up_fails_in_bounded_time():
    client = Flaky([client_error("InvalidGroup.NotFound")] * 99)
    with pytest.raises(ClientError):
        scope_over(client).call("authorize_security_group_ingress", fresh=True, GroupId="sg-12345678")
    assert client.calls == scope_module.FRESH_RETRIES["retries"]


class Pages:
    """A paginator stand-in: the first ``failures`` full reads fail."""

    def __init__(self, failures):
        self.failures = list(failures)
        self.reads = 0

    def get_paginator(self, _operation):
        return self

    def paginate(self, **_params):
        return self

    def build_full_result(self):
        self.reads += 1
        if self.failures:
            raise self.failures.pop(0)
        return {"SecurityGroups": [{"GroupId": "sg-12345678"}]}


def test_a_paginated_describe_is_retried_as_a_whole():
    client = Pages([client_error("Throttling"), ResponseParserError("truncated")])
    assert scope_over(client).paginate("describe_security_groups", "SecurityGroups") == [{"GroupId": "sg-12345678"}]
    assert client.reads == 3


def test_waiting_for_groups_uses_the_security_group_exists_waiter(monkeypatch):
    seen = {}

    class Waiter:
        def wait(self, **params):
            seen.update(params)
            raise WaiterError("SecurityGroupExists", "Max attempts exceeded", {})

    monkeypatch.setattr(scope_module, "get_waiter", lambda client, name: seen.update(name=name) or Waiter())
    assert scope_over(Flaky([])).wait_for_groups(["sg-12345678"]) is False
    assert seen["name"] == "security_group_exists" and seen["GroupIds"] == ["sg-12345678"]
    assert scope_over(Flaky([])).wait_for_groups([]) is True
