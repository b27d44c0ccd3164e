"""The executor's handling of answers botocore cannot parse (an HTML 500 from an overloaded endpoint)."""

from __future__ import annotations

import pytest
from botocore.parsers import ResponseParserError

from ansible_collections.classiclink.mirror.plugins.module_utils import apply


class FlakyClient:
    """Answers ``describe_vpcs`` with ``failures`` unparsable responses first."""

    def __init__(self, failures: int):
        self.failures = failures
        self.calls = 0

    def describe_vpcs(self, **_params):
        self.calls += 1
        if self.calls <= self.failures:
            raise ResponseParserError("Unable to parse response (syntax error): b'<!doctype html>'")
        return {"Vpcs": []}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(apply.time, "sleep", lambda _seconds: None)


def test_an_unparsable_answer_is_retried():
    client = FlakyClient(failures=2)
    assert apply.call(client, "describe_vpcs") == {"Vpcs": []}
    assert client.calls == 3


def test_a_persistently_unparsable_answer_fails_the_pair_not_the_module():
    client = FlakyClient(failures=99)
    with pytest.raises(ResponseParserError):
        apply.call(client, "describe_vpcs")
    assert client.calls == 3

    class Pair:
        source = None
        source_ref = "web"
        error = None

    pair = Pair()
    executor = apply.Executor(client, concurrency=1)
    executor._each([pair], lambda _pair: apply.call(client, "describe_vpcs"), "updating the mirror")
    assert pair.error and "updating the mirror for web failed" in pair.error and "parse" in pair.error
