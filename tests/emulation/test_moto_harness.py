"""The moto harness outside ClassicLink: call recorder, harness endpoints, CLI, fixtures.

Everything goes over HTTP to the harness server (boto3 clients from conftest).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import parse_module_output
from tests.support.devpaths import REPO_ROOT
from tests.support.moto_harness import MotoHarness, is_mutating

pytestmark = pytest.mark.emulation


@pytest.mark.parametrize(
    ("action", "method", "expected"),
    [
        ("DescribeVpcs", "POST", False),
        ("GetCallerIdentity", "POST", False),
        ("ListTables", "POST", False),
        ("AuthorizeSecurityGroupIngress", "POST", True),
        ("CreateTags", "POST", True),
        ("DescribeClassicLinkInstances", "POST", False),
        (None, "GET", False),
        (None, "HEAD", False),
        (None, "PUT", True),
    ],
)
def test_is_mutating(action: str | None, method: str, expected: bool) -> None:
    assert is_mutating(action, method) is expected


def test_parse_module_output_tolerates_noise() -> None:
    assert parse_module_output('{"changed": false}\n') == {"changed": False}
    noisy = 'warning: {not json}\n[WARNING]: something\n{"changed": true, "x": {"y": 1}}\n'
    assert parse_module_output(noisy) == {"changed": True, "x": {"y": 1}}
    assert parse_module_output("Traceback (most recent call last):\n  boom\n") is None


def test_recorder_other_protocols(moto: MotoHarness, aws_client: Callable[..., Any]) -> None:
    aws_client("sts").get_caller_identity()
    aws_client("dynamodb").list_tables()
    aws_client("s3").create_bucket(Bucket="harness-bucket")
    calls = moto.calls()
    assert calls[0] == {
        "service": "sts",
        "region": "us-east-1",
        "action": "GetCallerIdentity",
        "mutating": False,
        "status": 200,
    }
    assert calls[1] == {
        "service": "dynamodb",
        "region": "us-east-1",
        "action": "ListTables",
        "mutating": False,
        "status": 200,
    }
    assert calls[2]["service"] == "s3" and calls[2]["mutating"] is True


def test_harness_http_endpoints(ec2: Any, moto: MotoHarness) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    ec2.describe_vpcs()
    with opener.open(f"{moto.url}/_harness/calls") as resp:
        assert resp.headers["Content-Type"] == "application/json"
        assert [c["action"] for c in json.load(resp)] == ["DescribeVpcs"]
    with opener.open(urllib.request.Request(f"{moto.url}/_harness/calls/reset", data=b"", method="POST")) as resp:
        assert resp.status == 200
    assert moto.calls() == []
    ec2.describe_vpcs()
    assert len(moto.calls()) == 1


# --------------------------------------------------------------------- CLI
def test_cli_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.moto_harness", "--port", "0", "--port-file", str(port_file)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "harness CLI did not write its port file"
            time.sleep(0.1)
        port = int(port_file.read_text())
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"moto harness listening on http://127.0.0.1:{port}"
        client = boto3.client(
            "ec2",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        assert client.describe_vpcs()["Vpcs"]  # moto's default VPC
        remote = MotoHarness.connect(f"http://127.0.0.1:{port}")
        assert [c["action"] for c in remote.calls()] == ["DescribeVpcs"]
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        assert not port_file.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_non_loopback_host() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.moto_harness", "--host", "0.0.0.0", "--port", "0"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "loopback" in proc.stderr


# ------------------------------------------------------- run_module fixture
def test_run_module_direct_mode(run_module: Callable[..., Any], moto: MotoHarness, ec2: Any) -> None:
    """The fixture runs a real module file with env-only endpoint/region/credentials."""
    ec2.create_vpc(
        CidrBlock="192.168.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "target"}]}],
    )
    moto.reset_calls()
    result = run_module("amazon.aws.ec2_vpc_net_info", {"filters": {"tag:Name": "target"}})
    assert result.get("failed") is not True, result
    assert [v["cidr_block"] for v in result["vpcs"]] == ["192.168.0.0/16"]
    assert moto.mutating_calls() == []
    assert {c["action"] for c in moto.calls()} >= {"DescribeVpcs"}
