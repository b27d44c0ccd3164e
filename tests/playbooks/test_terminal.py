"""What a new user sees in the terminal (issue 13): playbooks/mirror.yml against the moto harness,
or against a tiny local endpoint that answers every call with an error.

* A call that fails as a whole is summarised with the module's own error (HTTP 500
  with an HTML body; 200 with XML that cannot be parsed, which makes the module
  crash), never with a guess of the role's.
* A misspelt ``mirror_*`` variable (extra var or inventory) fails before any AWS
  call, naming the closest known variable.
* Runs that exit 0 but most likely did not do what was meant say so: no tagged
  source group in the scope; ``mirror_vpc_ids`` that match nothing.
* Skipped instances are listed with their reason: the first five, then a count.
* The link module adds the EC2-Classic retirement hint only to a refused ClassicLink call.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.badinput import runner
from tests.support.aws_proxy import ec2_error_body
from tests.support.devpaths import REPO_ROOT
from tests.support.moto_harness import CLASSIC_AMI_ID
from tests.support.world import CODE_LINK_TAG, GUIDE_LINK_TAG, build_world

pytestmark = pytest.mark.integration

ANSIBLE_PLAYBOOK = str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook")
CLASSIC = ("-e", "mirror_classic_vpc_id=default")
MISSING_VPC = "vpc-0123456789abcdef0"
ENDPOINT_LIFETIME = 300  # seconds: a fake endpoint stops by itself after this, whatever the test does
HTML_500 = b"<html><body><h1>500 Internal Server Error</h1><p>upstream exploded</p></body></html>"
BROKEN_XML = b"<?xml version='1.0' encoding='UTF-8'?>\n<DescribeVpcsResponse><vpcSet><item><vpcId>vpc-1"
OUR_GUESS = "the call returned no"  # what the role's summary used to say instead of the module's reason
RETIRED = "EC2-Classic was retired"
# Module processes (not ansible-playbook itself) sleep at most this long: the engine retries an
# unparsable answer ten times with jittered back-off (about 90 s); the test is about the message.
SHORT_SLEEPS = """\
import sys, time
if sys.argv and "AnsiballZ" in (sys.argv[0] or ""):
    _sleep = time.sleep
    time.sleep = lambda seconds: _sleep(min(seconds, 0.01))
"""


# ------------------------------------------------------------------ endpoints
@dataclass
class Endpoint:
    url: str
    requests: list[str]


Answer = Callable[[str], "tuple[int, str, bytes] | None"]


def _serve(answer: Answer, upstream: str | None = None) -> Iterator[Endpoint]:
    """A loopback HTTP endpoint: ``answer(action)`` -> (status, content type, body), or None to forward to ``upstream``."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
            requests.append(action)
            canned = answer(action)
            if canned is None and upstream:
                status, content_type, data = _forward(upstream, self.path, dict(self.headers), body)
            else:
                status, content_type, data = canned or (500, "text/html", HTML_500)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    deadline = threading.Timer(ENDPOINT_LIFETIME, server.shutdown)
    deadline.daemon = True
    deadline.start()
    try:
        yield Endpoint(f"http://127.0.0.1:{server.server_address[1]}", requests)
    finally:
        deadline.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _forward(upstream: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(upstream + path, data=body, method="POST",
                                     headers={k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as reply:
            return reply.status, reply.headers.get("Content-Type", "text/xml"), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", "text/xml"), error.read()


@pytest.fixture
def endpoint() -> Iterator[Callable[..., Endpoint]]:
    """Factory: ``endpoint(answer, upstream=None)`` -> a running :class:`Endpoint` (stopped at teardown)."""
    stack: list[Iterator[Endpoint]] = []

    def make(answer: Answer, upstream: str | None = None) -> Endpoint:
        gen = _serve(answer, upstream)
        stack.append(gen)
        return next(gen)

    yield make
    for gen in stack:
        next(gen, None)


# ------------------------------------------------------------------ playbook runs
@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    reports: dict[str, dict[str, Any]]

    def summary(self, scope: str = "us-east-1") -> dict[str, Any]:
        return self.reports[scope]["summary"]

    def explain(self) -> str:
        return f"rc={self.rc}\n--- stdout ---\n{self.stdout[-6000:]}\n--- stderr ---\n{self.stderr[-3000:]}"


@pytest.fixture
def mirror_playbook(aws_env: dict[str, str], tmp_path: Path) -> Callable[..., Run]:
    """``mirror_playbook(*args, env=None, timeout=240)`` -> Run of playbooks/mirror.yml (JSON reports in a fresh directory)."""
    counter = iter(range(1000))

    def run(*args: str, env: dict[str, str] | None = None, timeout: int = 240) -> Run:
        report_dir = tmp_path / f"reports-{next(counter)}"
        cmd = [ANSIBLE_PLAYBOOK, "playbooks/mirror.yml", *CLASSIC, "-e", f"mirror_report_path={report_dir}", *args]
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env={**(env or aws_env), "ANSIBLE_NOCOLOR": "1"},
                              capture_output=True, text=True, timeout=timeout, check=False)
        reports = {p.stem: json.loads(p.read_text()) for p in report_dir.glob("*.json")} if report_dir.exists() else {}
        return Run(proc.returncode, proc.stdout, proc.stderr, reports)

    return run


def through(env: dict[str, str], url: str, **extra: str) -> dict[str, str]:
    return {**env, "AWS_ENDPOINT_URL": url, "AWS_URL": url, **extra}


# ------------------------------------------------------------------ 1. the module's own failure
def test_an_endpoint_answering_500_is_reported_with_the_modules_own_error(mirror_playbook, aws_env, endpoint):
    broken = endpoint(lambda action: (500, "text/html", HTML_500))

    run = mirror_playbook(env=through(aws_env, broken.url, AWS_MAX_ATTEMPTS="1"))

    assert run.rc != 0, run.explain()
    errors = run.summary()["errors"]
    assert len(errors) == 1, run.explain()  # the scope's one call (mirror, link, prune) failed as a whole
    assert errors[0].startswith("mirror: Could not describe the security groups, VPCs, instances or ClassicLinks of this region"), errors
    assert "An error occurred (500) when calling the DescribeVpcs operation" in errors[0], errors
    assert OUR_GUESS not in run.stdout, run.explain()
    # a 500 from DescribeVpcs has nothing to do with EC2-Classic's retirement
    assert RETIRED not in run.stdout, run.explain()
    # the failure lines at the end carry the same text
    assert "FAILED: 1" in run.stdout and run.stdout.count("An error occurred (500)") >= 2, run.explain()


def test_an_unparsable_answer_is_reported_with_the_modules_own_error(mirror_playbook, aws_env, endpoint, tmp_path):
    garbled = endpoint(lambda action: (200, "text/xml", BROKEN_XML))
    (tmp_path / "sitecustomize.py").write_text(SHORT_SLEEPS)

    run = mirror_playbook(env=through(aws_env, garbled.url, AWS_MAX_ATTEMPTS="1", PYTHONPATH=str(tmp_path)))

    assert run.rc != 0, run.explain()
    errors = run.summary()["errors"]
    assert [error.split(":")[0] for error in errors] == ["mirror"], run.explain()  # the scope's one call
    for error in errors:
        # botocore's own words, from the module's crash (or its message, once the module catches it)
        assert "Unable to parse response" in error and "invalid XML received" in error, errors
    assert OUR_GUESS not in run.stdout, run.explain()
    assert len(garbled.requests) >= 4, garbled.requests  # retried, bounded


# ------------------------------------------------------------------ 4. misspelt variables
@pytest.mark.parametrize(("extra", "unknown", "meant"), [
    ("mirror_prunee=true", "mirror_prunee", "mirror_prune"),
    ("mirror_regon=us-east-1", "mirror_regon", "mirror_regions"),
    ('{"mirror_vpc_id": ["vpc-0123456789abcdef0"]}', "mirror_vpc_id", "mirror_vpc_ids"),
], ids=["prune", "regions", "vpc_ids"])
def test_a_misspelt_extra_var_fails_before_any_call_naming_the_known_one(mirror_playbook, moto, ec2, extra, unknown, meant):
    build_world(ec2)
    moto.reset_calls()

    run = mirror_playbook("-e", extra)

    assert run.rc != 0, run.explain()
    assert f"unknown role variable {unknown}; did you mean {meant}?" in run.stdout, run.explain()
    assert moto.calls() == [], [call["action"] for call in moto.calls()]


def test_a_misspelt_inventory_var_fails_before_any_call(mirror_playbook, moto, ec2, tmp_path):
    build_world(ec2)
    inventory = tmp_path / "scopes.yml"
    inventory.write_text("mirror_scopes:\n  hosts:\n    prod-east:\n      aws_region: us-east-1\n"
                         "      mirror_prune: true\n      mirror_link_tag_key: [team:linkToVPC]\n")
    moto.reset_calls()

    run = mirror_playbook("-i", str(inventory))

    assert run.rc != 0, run.explain()
    assert "unknown role variable mirror_link_tag_key; did you mean mirror_link_tag_keys?" in run.stdout, run.explain()
    assert "mirror_prune;" not in run.stdout  # known variables are not reported
    assert moto.calls() == [], [call["action"] for call in moto.calls()]


def test_known_variables_of_the_role_playbook_and_rulebooks_pass(mirror_playbook, moto, ec2):
    build_world(ec2)
    extra = {"mirror_regions": ["us-east-1"], "mirror_prune": False, "mirror_vpc_ids": [], "mirror_usage_audit": True,
             "mirror_events_queue_name": "classiclink-mirror-events", "mirror_job_template": "classiclink-mirror"}

    run = mirror_playbook("-e", json.dumps(extra))

    assert run.rc == 0, run.explain()
    assert "unknown role variable" not in run.stdout


# ------------------------------------------------------------------ 2. mistakes that exit 0
def test_a_scope_without_tagged_source_group_warns_naming_region_and_tag_keys(mirror_playbook, moto, ec2):
    ec2.create_security_group(GroupName="web", Description="EC2-Classic web tier, not tagged yet")

    run = mirror_playbook()

    assert run.rc == 0, run.explain()
    warning = (f"WARNING: no source group in us-east-1 carries a link tag ({CODE_LINK_TAG}, {GUIDE_LINK_TAG}): "
               "nothing was mirrored")
    assert warning in run.stdout, run.explain()
    (said,) = run.summary()["warnings"]
    assert said.startswith(warning[len("WARNING: "):]), said


def test_vpc_ids_that_match_nothing_warn_naming_them(mirror_playbook, moto, ec2):
    world = build_world(ec2)

    run = mirror_playbook("-e", json.dumps({"mirror_vpc_ids": [world.vpc_id, MISSING_VPC]}))

    assert run.rc == 0, run.explain()
    assert run.summary()["groups_created"] == 2  # the real VPC was mirrored
    warnings = run.summary()["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith(f"mirror_vpc_ids {MISSING_VPC} matched nothing in us-east-1"), warnings
    assert world.vpc_id not in warnings[0]
    assert f"WARNING: mirror_vpc_ids {MISSING_VPC} matched nothing" in run.stdout, run.explain()


def test_a_converged_run_has_no_warning(mirror_playbook, moto, ec2):
    world = build_world(ec2)

    run = mirror_playbook("-e", json.dumps({"mirror_vpc_ids": [world.vpc_id]}))

    assert run.rc == 0 and run.summary()["warnings"] == [], run.explain()
    assert "WARNING: " not in run.stdout.split("Show the summary")[-1], run.explain()


# ------------------------------------------------------------------ 3. skipped instances with their reason
def test_skipped_instances_are_listed_with_their_reason_first_five_then_a_count(mirror_playbook, moto, ec2):
    world = build_world(ec2)
    stopped = [i["InstanceId"] for i in ec2.run_instances(
        ImageId=CLASSIC_AMI_ID, MinCount=7, MaxCount=7, InstanceType="t1.micro",
        SecurityGroupIds=[world.ssh_group_id])["Instances"]]
    ec2.stop_instances(InstanceIds=stopped)

    run = mirror_playbook()

    assert run.rc == 0, run.explain()
    summary = run.summary()
    assert summary["instances_skipped"] == 7 and summary["instances_skipped_by_code"] == {"not_running": 7}, summary
    lines = summary["lines"]
    assert "instances not linked: 7 (not_running 7)" in lines, lines
    listed = [line for line in lines if line.startswith("  instance ") and " not linked: " in line]
    assert len(listed) == 5 and all(line.split()[1] in stopped for line in listed), lines
    assert all("running" in line for line in listed), lines  # the module's reason, not just the code
    assert "  and 2 more (every instance with its reason is in the report)" in lines, lines
    assert "instances not linked: 7" in run.stdout, run.explain()


# ------------------------------------------------------------------ 5. hints only where they apply
def test_missing_credentials_get_no_ec2_classic_hint(moto):
    env = runner.aws_env(moto.url, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_PROFILE=None,
                         AWS_SESSION_TOKEN=None)
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == env["AWS_CONFIG_FILE"] != ""

    result = runner.run_module("classiclink_instance_link", {"classic_vpc_id": "default"}, env)

    assert result.get("failed") is True, result
    assert "credentials" in result["msg"].lower(), result["msg"]
    assert RETIRED not in result["msg"], result["msg"]
    assert moto.calls() == []


def test_a_refused_classiclink_call_keeps_the_ec2_classic_hint(run_module, moto, ec2, endpoint):
    build_world(ec2)
    refusing = endpoint(
        lambda action: (400, "text/xml", ec2_error_body("UnsupportedOperation", "The functionality you requested is not available in this region."))
        if action in ("DescribeVpcClassicLink", "DescribeClassicLinkInstances") else None,
        upstream=moto.url)

    result = run_module("classiclink_instance_link", {"classic_vpc_id": "default"}, endpoint_url=refusing.url)

    assert result.get("failed") is True, result
    assert RETIRED in result["msg"] and "UnsupportedOperation" in result["msg"], result["msg"]
