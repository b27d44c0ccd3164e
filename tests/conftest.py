"""Shared pytest fixtures for classiclink.mirror.

Every AWS call goes over HTTP to one moto harness server per pytest process
(``tests/support/moto_harness.py``), which records calls at the server and
emulates ClassicLink.

Fixtures
--------
moto_server       session: the running :class:`MotoHarness` (``.url``, ``.calls()``...)
moto              function: the same harness after ``.reset()`` (fresh account per test)
aws_env           function: environment (dict) for subprocesses talking to the harness
ec2               function: boto3 EC2 client for us-east-1
ec2_client        function: factory ``ec2_client(region="us-east-1")``
aws_client        function: factory ``aws_client(service, region="us-east-1")``
run_module        function: ``run_module(name, args, check=False, diff=False,
                  region="us-east-1", endpoint_url=None) -> dict``, runs the real
                  module file in a subprocess, Ansible "direct" style

Ownership invariant
-------------------
Every test that uses the harness is checked, at teardown, for mutating calls
made BY THE COLLECTION on groups it does not own (no mirroredFrom tag), as the
harness records them (``OwnershipCheck`` in tests/support/moto_harness.py): such a
call fails the test that made it, and the terminal summary lists every one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.support.devpaths import REPO_ROOT, collections_root, ensure_dev_collection_path
from tests.support.harness_env import LOOPBACK, harness_env
from tests.support.moto_harness import MotoHarness, start_server

DEFAULT_REGION = "us-east-1"


# Collection modules (module_utils, modules) are imported in-process by unit tests
# as ansible_collections.classiclink.mirror...: that needs the dev symlink and
# <repo>/.collections on sys.path before test modules are collected.
ensure_dev_collection_path()
if str(collections_root()) not in sys.path:
    sys.path.insert(0, str(collections_root()))


def _venv_python() -> str:
    candidate = REPO_ROOT / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def _venv_site_packages() -> str:
    found = sorted((REPO_ROOT / ".venv" / "lib").glob("python3*/site-packages"))
    return str(found[-1]) if found else sysconfig.get_paths()["purelib"]


@pytest.fixture(scope="session", autouse=True)
def dev_collection_path() -> Path:
    """``.collections/ansible_collections/classiclink/mirror`` -> repo root."""
    return ensure_dev_collection_path()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoHarness]:
    # boto3 in this process must never send loopback traffic through a proxy.
    for var in ("NO_PROXY", "no_proxy"):
        os.environ[var] = ",".join(filter(None, [os.environ.get(var, ""), LOOPBACK]))
    harness = start_server()
    yield harness
    harness.stop()


_OWNERSHIP_VIOLATIONS: list[tuple[str, dict[str, Any]]] = []


def describe_violation(call: dict[str, Any]) -> str:
    return "%s %s targets=%s tag_keys=%s status=%s user_agent=%r: %s" % (
        call.get("region"), call.get("action"), call.get("targets"), call.get("tag_keys"),
        call.get("status"), call.get("user_agent"), call.get("reason"))


@pytest.fixture(autouse=True)
def _ownership_invariant(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a harness-using test in which the collection touched a group it does not own."""
    if "moto_server" not in request.fixturenames:
        yield
        return
    harness: MotoHarness = request.getfixturevalue("moto_server")
    start = harness.ownership()["next_seq"]
    yield
    found = harness.ownership_violations(since=start)
    if found:
        _OWNERSHIP_VIOLATIONS.extend((request.node.nodeid, call) for call in found)
        pytest.fail(
            "ownership invariant violated: the collection made %d mutating call(s) on groups without the "
            "mirroredFrom tag:\n  %s" % (len(found), "\n  ".join(describe_violation(c) for c in found)),
            pytrace=False,
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _OWNERSHIP_VIOLATIONS:
        terminalreporter.section("ownership invariant violations", sep="=", red=True)
        for nodeid, call in _OWNERSHIP_VIOLATIONS:
            terminalreporter.line(f"{nodeid}: {describe_violation(call)}")


@pytest.fixture
def moto(moto_server: MotoHarness) -> MotoHarness:
    """The harness with a fresh moto account and an empty call log."""
    moto_server.reset()
    return moto_server


def _aws_env(url: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    return harness_env(url, region=region)


@pytest.fixture
def aws_env(moto: MotoHarness) -> dict[str, str]:
    """Environment for subprocesses (credentials, region, endpoint, no proxies)."""
    return _aws_env(moto.url)


@pytest.fixture(scope="session")
def _boto_session() -> boto3.session.Session:
    # One session for the whole run: its loader caches service models between tests.
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=DEFAULT_REGION
    )


@pytest.fixture
def aws_client(moto: MotoHarness, _boto_session: boto3.session.Session) -> Callable[..., Any]:
    """Factory: ``aws_client(service, region="us-east-1")`` -> boto3 client on the harness."""
    # No client-side retries: every call the test makes reaches the server exactly once.
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})

    def make(service: str, region: str = DEFAULT_REGION) -> Any:
        return _boto_session.client(service, region_name=region, endpoint_url=moto.url, config=config)

    return make


@pytest.fixture
def ec2_client(aws_client: Callable[..., Any]) -> Callable[..., Any]:
    """Factory: ``ec2_client(region="us-east-1")`` -> boto3 EC2 client on the harness."""
    return lambda region=DEFAULT_REGION: aws_client("ec2", region)


@pytest.fixture
def ec2(ec2_client: Callable[..., Any]) -> Any:
    return ec2_client(DEFAULT_REGION)


class ModuleResult(dict):  # type: ignore[type-arg]
    """The module's JSON result; ``.rc``, ``.stdout``, ``.stderr`` for debugging."""

    rc: int
    stdout: str
    stderr: str


def parse_module_output(stdout: str) -> dict[str, Any] | None:
    """The module's JSON document, tolerating warnings or noise printed before it."""
    decoder = json.JSONDecoder()
    braces = [i for i, ch in enumerate(stdout) if ch == "{"]
    line_starts = [i for i in braces if i == 0 or stdout[i - 1] == "\n"]
    for start in line_starts + sorted(set(braces) - set(line_starts)):
        try:
            doc, end = decoder.raw_decode(stdout, start)
        except ValueError:
            continue
        if isinstance(doc, dict) and not stdout[end:].strip():
            return doc
    return None


@pytest.fixture
def run_module(moto: MotoHarness) -> Callable[..., ModuleResult]:
    """Run ``plugins/modules/<name>.py`` (or a FQCN module) as Ansible does in direct mode."""

    def run(
        name: str,
        args: dict[str, Any],
        check: bool = False,
        diff: bool = False,
        region: str = DEFAULT_REGION,
        endpoint_url: str | None = None,
    ) -> ModuleResult:
        if name.count(".") == 2:  # FQCN, e.g. amazon.aws.ec2_vpc_net_info
            namespace, collection, module = name.split(".")
        else:
            namespace, collection, module = "classiclink", "mirror", name
        module_path = f"ansible_collections.{namespace}.{collection}.plugins.modules.{module}"
        env = _aws_env(endpoint_url or moto.url, region)  # endpoint_url: e.g. a fault-injecting proxy
        env["PYTHONPATH"] = os.pathsep.join([str(collections_root()), _venv_site_packages()])
        payload = {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check, "_ansible_diff": diff}}
        with tempfile.TemporaryDirectory(prefix="run_module-") as tmp:
            args_file = Path(tmp) / "args.json"
            args_file.write_text(json.dumps(payload), encoding="utf-8")
            proc = subprocess.run(
                [_venv_python(), "-m", module_path, str(args_file)],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        doc = parse_module_output(proc.stdout)
        if doc is None:
            raise AssertionError(
                f"module {name} produced no JSON result (rc={proc.returncode})\n"
                f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
            )
        result = ModuleResult(doc)
        result.rc, result.stdout, result.stderr = proc.returncode, proc.stdout, proc.stderr
        return result

    return run
