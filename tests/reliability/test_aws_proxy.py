"""The fault-injecting proxy itself (tests/support/aws_proxy.py), seen by a boto3 client without retries.

These tests share the harness's account (no moto reset: a fresh EC2 backend costs
seconds) and only clear the call log; names are unique per test.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from tests.support.aws_proxy import ALL_KINDS, DROP_AFTER, DROP_BEFORE, THROTTLE, UNAVAILABLE, FaultPlan, start_proxy
from tests.support.devpaths import REPO_ROOT
from tests.support.moto_harness import MotoHarness


_SESSION = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")  # caches the EC2 model


def client(url: str) -> Any:
    return _SESSION.client("ec2", region_name="us-east-1", endpoint_url=url,
                           config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


def server_actions(moto: MotoHarness) -> list[str]:
    return [call["action"] for call in moto.calls()]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def moto(moto_server: MotoHarness) -> MotoHarness:
    """The shared harness with an empty call log (overrides the resetting fixture for this module)."""
    moto_server.reset_calls()
    return moto_server


def test_no_faults_is_a_transparent_proxy(moto, proxy):
    clean = proxy()
    ec2 = client(clean.url)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["CidrBlock"] == "10.1.0.0/16"
    ec2.delete_vpc(VpcId=vpc)
    with pytest.raises(ClientError) as error:  # AWS errors pass through untouched
        ec2.describe_vpcs(VpcIds=["vpc-0123456789abcdef0"])
    assert error.value.response["Error"]["Code"] == "InvalidVpcID.NotFound"
    assert server_actions(moto) == ["CreateVpc", "DescribeVpcs", "DeleteVpc", "DescribeVpcs"]
    stats = clean.stats()
    assert (stats["requests"], stats["forwarded"], stats["faults_total"]) == (4, 4, 0)
    assert stats["by_action"] == {"CreateVpc": 1, "DescribeVpcs": 2, "DeleteVpc": 1}


@pytest.mark.parametrize("kind", [THROTTLE, UNAVAILABLE])
def test_throttle_and_503_answer_without_forwarding(moto, proxy, kind):
    faulty = proxy(fault_rate=1.0, kinds=(kind,))
    with pytest.raises(ClientError) as error:
        client(faulty.url).create_security_group(GroupName=unique("refused"), Description="x")
    response = error.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert response["Error"]["Code"] == ("RequestLimitExceeded" if kind == THROTTLE else "503")
    assert server_actions(moto) == []  # the request never reached EC2
    assert faulty.stats()["faults"][kind] == 1 and faulty.stats()["forwarded"] == 0


def test_dropped_request_is_lost(moto, proxy):
    faulty = proxy(fault_rate=1.0, kinds=(DROP_BEFORE,))
    with pytest.raises(ConnectionClosedError):
        client(faulty.url).create_security_group(GroupName=unique("lost"), Description="x")
    assert server_actions(moto) == []


def test_dropped_answer_was_executed(moto, proxy):
    faulty = proxy(fault_rate=1.0, kinds=(DROP_AFTER,))
    name = unique("executed")
    with pytest.raises(ConnectionClosedError):
        client(faulty.url).create_security_group(GroupName=name, Description="x")
    assert server_actions(moto) == ["CreateSecurityGroup"]  # it ran...
    assert [g["GroupName"] for g in client(moto.url).describe_security_groups(GroupNames=[name])["SecurityGroups"]] == [name]
    assert faulty.stats()["forwarded"] == 1  # ...the client just never heard back


def test_harness_and_moto_api_calls_are_never_faulted_or_delayed(moto, proxy):
    faulty = proxy(fault_rate=1.0, latency_ms=300)
    via_proxy = MotoHarness.connect(faulty.url)
    started = time.monotonic()
    for _attempt in range(5):
        assert via_proxy.calls() == []
    via_proxy.reset_calls()  # POST /_harness/calls/reset
    assert via_proxy.classiclink_links() == moto.classiclink_links()  # GET /_harness/classiclink, passed through
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as error:  # moto's own answer, not a fault
        opener.open(f"{faulty.url}/moto-api/no-such-endpoint")
    assert error.value.code == 404
    assert time.monotonic() - started < 1.5
    stats = faulty.stats()
    assert stats["requests"] == 0 and stats["faults_total"] == 0 and stats["passthrough"] == 8


def test_latency_is_added_to_every_aws_call(moto, proxy):
    slow = proxy(latency_ms=200)
    ec2 = client(slow.url)
    ec2.describe_vpcs()
    started = time.monotonic()
    for _attempt in range(3):
        ec2.describe_vpcs()
    assert time.monotonic() - started >= 0.6


def test_actions_and_max_faults_limit_the_faults(moto, proxy):
    faulty = proxy(fault_rate=1.0, kinds=(THROTTLE,), actions={"CreateSecurityGroup"}, max_faults=1)
    ec2 = client(faulty.url)
    ec2.describe_vpcs()  # not an eligible action
    name = unique("budget")
    with pytest.raises(ClientError):
        ec2.create_security_group(GroupName=name, Description="x")
    ec2.create_security_group(GroupName=name, Description="x")  # budget spent
    assert server_actions(moto) == ["DescribeVpcs", "CreateSecurityGroup"]
    assert faulty.stats()["faults_by_action"] == {"CreateSecurityGroup:throttle": 1}


def test_decisions_are_seeded_and_close_to_the_rate():
    def sequence(seed: int) -> list[str | None]:
        plan = FaultPlan(0.3, 0, seed, ALL_KINDS)
        return [plan.decide("DescribeVpcs") for _decision in range(2000)]

    assert sequence(1) == sequence(1)
    assert sequence(1) != sequence(2)
    decisions = sequence(3)
    faulted = [kind for kind in decisions if kind]
    assert 0.27 < len(faulted) / len(decisions) < 0.33
    assert {kind: faulted.count(kind) > 100 for kind in ALL_KINDS} == dict.fromkeys(ALL_KINDS, True)
    with pytest.raises(ValueError):
        FaultPlan(1.5, 0, 0, ALL_KINDS)
    with pytest.raises(ValueError):
        FaultPlan(0.1, 0, 0, ("explode",))


def test_only_loopback(moto):
    with pytest.raises(ValueError):
        start_proxy("http://192.0.2.1:5000")
    with pytest.raises(ValueError):
        start_proxy(moto.url, host="0.0.0.0")


def test_cli_serves_stats_and_stops_on_sigterm(moto, tmp_path: Path):
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.aws_proxy", "--upstream", moto.url, "--port", "0",
         "--fault-rate", "1.0", "--kinds", "throttle", "--latency-ms", "1", "--seed", "5", "--port-file", str(port_file)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert port_file.exists(), proc.stderr.read() if proc.poll() is not None else "no port file"
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        with pytest.raises(ClientError) as error:
            client(url).describe_vpcs()
        assert error.value.response["Error"]["Code"] == "RequestLimitExceeded"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{url}/_proxy/stats") as resp:
            stats = json.load(resp)
        assert stats["faults"]["throttle"] == 1 and stats["latency_ms"] == 1.0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "aws proxy listening on http://127.0.0.1:" in out
    assert not port_file.exists()
