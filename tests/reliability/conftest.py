"""Fixtures of the reliability tests: fault-injecting proxies, the 50-group fleet, its clean mirror."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.reliability.fleet import Fleet, build_fleet, run_playbook, state
from tests.support.aws_proxy import Proxy, start_proxy
from tests.support.moto_harness import MotoHarness


@pytest.fixture
def proxy(moto_server: MotoHarness) -> Iterator[Callable[..., Proxy]]:
    """Factory: ``proxy(fault_rate=..., kinds=..., actions=..., max_faults=..., seed=...)`` in front of
    the harness (stopped at teardown).  It does not reset the account: request ``moto`` for that."""
    started: list[Proxy] = []

    def make(**settings: Any) -> Proxy:
        started.append(start_proxy(moto_server.url, **settings))
        return started[-1]

    yield make
    for item in started:
        item.stop()


def through(env: dict[str, str], proxy: Proxy) -> dict[str, str]:
    """``env`` with the AWS endpoint swapped for ``proxy``."""
    return {**env, "AWS_ENDPOINT_URL": proxy.url, "AWS_URL": proxy.url}


@pytest.fixture(scope="session")
def clean_fleet_state(moto_server: MotoHarness) -> dict[str, Any]:
    """The normalised state a clean (fault-free) playbook run gives on a fresh fleet, computed once."""
    from tests.conftest import _aws_env

    moto_server.reset()
    start = moto_server.ownership()["next_seq"]
    ec2 = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing").client(
        "ec2", region_name="us-east-1", endpoint_url=moto_server.url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    fleet = build_fleet(ec2)
    run = run_playbook(_aws_env(moto_server.url))
    assert run.rc == 0, run.explain()
    result = state(ec2, fleet, moto_server.classiclink_links())
    assert moto_server.ownership_violations(since=start) == []
    moto_server.reset()
    return result


@pytest.fixture
def fleet(moto: MotoHarness, ec2: Any) -> Fleet:
    """A fresh 50-group, 10-instance fleet (built straight against the harness), empty call log."""
    built = build_fleet(ec2)
    moto.reset_calls()
    return built
