"""playbooks/mirror.yml under EC2's eventual consistency (the proxy's consistency-lag mode).

moto is instantly consistent; real EC2 is not: for a moment after
CreateSecurityGroup answered, other calls do not know the new group, filtered
describes leave it out, and tag writes do not show yet.  The fault proxy
(``tests/support/aws_proxy.py``, ``lag_seconds``) plays that moment.  These
tests run the real playbook through it and check what a user would check:

* one run converges under the lag, in two regions at once, with every rule
  and every ClassicLink a clean run makes, and nothing left to do afterwards;
* the lag and 30% faults together converge within two runs;
* two runs started at the same moment on one account (the overlapping-run
  races: duplicate creates, rules and links made twice) both succeed and
  leave one mirror per source;
* a mirror truly deleted during a run is reported at once (``not_found``,
  "run again"), not retried as if it were a fresh group EC2 does not show yet.

The estates are built straight against the harness; only the collection's
calls go through the proxy.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.reliability.conftest import through
from tests.reliability.fleet import (
    LINK_TAGS,
    MIRRORED_TO,
    PlaybookRun,
    build_fleet,
    integrity_problems,
    run_playbook,
    runs_until_green,
    start_playbook,
    state,
)

pytestmark = pytest.mark.integration

LAG_SECONDS = 1.5
REGIONS = ("us-east-1", "eu-west-1")
REGIONS_ARGS = ("-e", json.dumps({"mirror_regions": list(REGIONS)}))
FAULT_RATE = 0.3
MAX_FAULTY_RUNS = 2
FAILURES = re.compile(r"\d+ failures?:")


# ---------------------------------------------------------------- helpers
def assert_clean_success(run: PlaybookRun, hosts: tuple[str, ...]) -> None:
    """rc 0, every scope in the recap, no failed host, no failure line."""
    assert run.rc == 0, run.explain()
    recap = run.recap
    assert set(hosts) <= set(recap), run.explain()
    assert all(counts["failed"] == 0 for counts in recap.values()), run.explain()
    assert failure_lines(run) == [], run.explain()


def failure_lines(run: PlaybookRun) -> list[str]:
    """The lines that report a failure (the summary's own "failures: none" is not one)."""
    return [line.strip()[:400] for line in run.stdout.splitlines()
            if FAILURES.search(line) or "fatal:" in line or "FAILED!" in line]


def regional_states(clients: dict[str, Any], fleets: dict[str, Any], moto: Any) -> dict[str, Any]:
    links = moto.classiclink_links()
    return {region: state(clients[region], fleets[region], [link for link in links if link.get("region", region) == region])
            for region in clients}


def assert_nothing_left_to_do(moto: Any, aws_env: dict[str, str], hosts: tuple[str, ...], *extra: str) -> PlaybookRun:
    """A run straight against the harness (no proxy) makes no mutating call and changes nothing."""
    moto.reset_calls()
    clean = run_playbook(aws_env, *extra)
    assert_clean_success(clean, hosts)
    assert [c["action"] for c in moto.mutating_calls()] == [], clean.explain()
    assert all(clean.recap[host]["changed"] == 0 for host in hosts), clean.explain()
    return clean


def lag_figures(stats: dict[str, Any]) -> dict[str, Any]:
    return {key: stats[key] for key in ("requests", "forwarded", "lag_hidden", "lag_rewritten", "faults_total")}


# ---------------------------------------------------------------- 1. one run, two regions
def test_one_run_converges_under_consistency_lag(moto, aws_env, ec2_client, proxy, record_property):
    clients = {region: ec2_client(region) for region in REGIONS}

    # The reference: what a clean run makes of a freshly built estate (ids replaced by names).
    fleets = {region: build_fleet(clients[region], groups=30, instances=8) for region in REGIONS}
    reference_run = run_playbook(aws_env, *REGIONS_ARGS)
    assert_clean_success(reference_run, REGIONS)
    reference = regional_states(clients, fleets, moto)
    for region in REGIONS:
        assert len(reference[region]["mirrors"]) == 31 and len(reference[region]["links"]) == 8, reference[region]

    # The same estate, fresh, mirrored through the lag: ONE run.
    moto.reset()
    fleets = {region: build_fleet(clients[region], groups=30, instances=8) for region in REGIONS}
    moto.reset_calls()
    lagging = proxy(lag_seconds=LAG_SECONDS)
    run = run_playbook(through(aws_env, lagging), *REGIONS_ARGS)
    stats = lagging.stats()
    server_calls = moto.calls()
    assert_clean_success(run, REGIONS)
    assert stats["lag_hidden"] + stats["lag_rewritten"] > 0, f"the lag never applied: {stats}"
    for region in REGIONS:
        assert integrity_problems(clients[region], fleets[region]) == [], region
    assert regional_states(clients, fleets, moto) == reference

    clean = assert_nothing_left_to_do(moto, aws_env, REGIONS, *REGIONS_ARGS)

    summary = {
        "regions": list(REGIONS),
        "seconds_reference": round(reference_run.seconds, 1),
        "seconds_lag_run": round(run.seconds, 1),
        "seconds_check_run": round(clean.seconds, 1),
        "proxy": lag_figures(stats),
        "calls_at_server": len(server_calls),
        "mutating_at_server": sum(c["mutating"] for c in server_calls),
        "by_region": {region: sum(c.get("region") == region for c in server_calls) for region in REGIONS},
    }
    record_property("lag_summary", summary)
    print(f"\n2 regions x (30 groups + 8 instances), lag {LAG_SECONDS}s, one run: {summary}")


# ---------------------------------------------------------------- 2. lag + 30% faults
def test_lag_and_thirty_percent_faults_converge_within_two_runs(clean_fleet_state, fleet, moto, aws_env, ec2, proxy,
                                                                record_property):
    faulty = proxy(fault_rate=FAULT_RATE, seed=1987, lag_seconds=LAG_SECONDS)
    runs = runs_until_green(through(aws_env, faulty), ec2, fleet, MAX_FAULTY_RUNS)
    stats = faulty.stats()
    assert runs[-1].rc == 0, "no convergence in %d runs under lag %ss and %d%% faults:\n%s" % (
        MAX_FAULTY_RUNS, LAG_SECONDS, FAULT_RATE * 100, "\n".join(r.explain()[-2500:] for r in runs))

    clean = assert_nothing_left_to_do(moto, aws_env, ("us-east-1",))
    assert state(ec2, fleet, moto.classiclink_links()) == clean_fleet_state

    summary = {
        "runs": len(runs),
        "seconds": [round(r.seconds, 1) for r in runs],
        "seconds_check_run": round(clean.seconds, 1),
        "proxy": lag_figures(stats),
        "faults": stats["faults"],
        "failed_runs_failures": [failure_lines(r)[:3] for r in runs if r.rc],
    }
    record_property("lag_fault_summary", summary)
    print(f"\n50 groups + 10 instances, lag {LAG_SECONDS}s + {FAULT_RATE:.0%} faults: {summary}")


# ---------------------------------------------------------------- 3. two runs at once
def _finish(proc: Any, log: Any, started: float, timeout: float = 300) -> PlaybookRun:
    rc = proc.wait(timeout=timeout)
    return PlaybookRun(rc, log.read_text(errors="replace"), "", time.monotonic() - started)


def test_overlapping_runs_both_succeed(clean_fleet_state, fleet, moto, aws_env, ec2, proxy, tmp_path, record_property):
    lagging = proxy(lag_seconds=LAG_SECONDS)
    env = through(aws_env, lagging)
    started = time.monotonic()
    procs = [start_playbook(env, log=tmp_path / f"run-{n}.log") for n in (1, 2)]
    try:
        runs = [_finish(proc, tmp_path / f"run-{n}.log", started) for n, proc in zip((1, 2), procs)]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    stats = lagging.stats()
    server_calls = moto.calls()
    failed_calls = [c for c in server_calls if c["mutating"] and int(c.get("status") or 200) >= 400]
    for run in runs:
        assert_clean_success(run, ("us-east-1",))
    assert integrity_problems(ec2, fleet) == []
    assert state(ec2, fleet, moto.classiclink_links()) == clean_fleet_state

    clean = assert_nothing_left_to_do(moto, aws_env, ("us-east-1",))

    summary = {
        "seconds": [round(r.seconds, 1) for r in runs],
        "seconds_check_run": round(clean.seconds, 1),
        "changed": [r.recap["us-east-1"]["changed"] for r in runs],
        "proxy": lag_figures(stats),
        "calls_at_server": len(server_calls),
        "creates_at_server": sum(c["action"] == "CreateSecurityGroup" for c in server_calls),
        "failed_mutating_at_server": sorted({f"{c['action']}:{c.get('status')}" for c in failed_calls}),
    }
    record_property("overlap_summary", summary)
    print(f"\ntwo overlapping runs, 50 groups + 10 instances, lag {LAG_SECONDS}s: {summary}")


# ---------------------------------------------------------------- 4. deleted, not lagging
class _DeleteOnFirstTouch:
    """A loopback pass-through proxy that, on the first mutating call naming ``group_id``, deletes that
    group straight against the harness (``delete()``) before forwarding the call: the group is
    truly gone between the run's describes and its changes."""

    def __init__(self, upstream_url: str, group_id: str, delete: Callable[[], None]):
        self.group_id, self._delete = group_id, delete
        self.deleted_before: str | None = None  # the action the deletion came before
        split = urlsplit(upstream_url)
        upstream = (split.hostname, split.port)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
                action = params.get("Action", "")
                with lock:
                    if (owner.deleted_before is None and owner.group_id in params.values()
                            and not action.startswith("Describe")):
                        owner._delete()
                        owner.deleted_before = action
                conn = http.client.HTTPConnection(*upstream, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length")}
                    conn.request(self.command, self.path, body=body, headers={**headers, "Content-Length": str(len(body))})
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                self.send_response(resp.status, resp.reason)
                for key, value in resp.getheaders():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST  # noqa: N815

        lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _tags(group: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in group.get("Tags", [])}


def test_a_group_deleted_during_the_run_is_reported_not_waited_for(moto, aws_env, ec2, proxy, run_module, record_property):
    classic = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    assert ec2.enable_vpc_classic_link(VpcId=vpc)["Return"] is True
    sources = {}
    for n, name in enumerate(("doomed", "kept")):
        sources[name] = ec2.create_security_group(
            GroupName=name, Description=f"consistency {name}", VpcId=classic,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": LINK_TAGS[0], "Value": vpc}]}])["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sources[name], IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22 + n, "ToPort": 22 + n, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    converged = run_playbook(aws_env)
    assert_clean_success(converged, ("us-east-1",))
    mirror = _tags(ec2.describe_security_groups(GroupIds=[sources["doomed"]])["SecurityGroups"][0])[MIRRORED_TO]

    # Work for the next run on the EXISTING mirror: a new rule on its source.
    ec2.authorize_security_group_ingress(GroupId=sources["doomed"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 9999, "ToPort": 9999, "IpRanges": [{"CidrIp": "10.99.0.0/16"}]}])
    lagging = proxy(lag_seconds=LAG_SECONDS)
    # module -> deleter -> lagging proxy -> harness; the deletion goes straight to the harness.
    deleter = _DeleteOnFirstTouch(lagging.url, mirror, lambda: ec2.delete_security_group(GroupId=mirror))
    try:
        started = time.monotonic()
        result = run_module("classiclink_mirror_group", {"all_sources": True, "classic_vpc_id": "default"},
                            endpoint_url=deleter.url)
        seconds = time.monotonic() - started
    finally:
        deleter.stop()

    assert deleter.deleted_before is not None, f"the run never touched mirror {mirror}: {result}"
    pairs = {pair["source_group_name"]: pair for pair in result["groups"]}
    doomed, kept = pairs["doomed"], pairs["kept"]
    assert doomed["code"] == "not_found", doomed
    assert "deleted during the run" in doomed["error"] and "run again" in doomed["error"], doomed
    assert mirror in doomed["error"], doomed
    assert kept["error"] is None and kept["code"] is None, kept
    assert result.get("failed") is True and result.rc != 0, result

    # Run again, as told: the mirror is recreated, with the new rule.
    again = run_playbook(aws_env)
    assert_clean_success(again, ("us-east-1",))
    new_mirror = _tags(ec2.describe_security_groups(GroupIds=[sources["doomed"]])["SecurityGroups"][0])[MIRRORED_TO]
    assert new_mirror != mirror
    ports = {p.get("FromPort") for p in ec2.describe_security_groups(GroupIds=[new_mirror])["SecurityGroups"][0]["IpPermissions"]}
    assert ports == {22, 9999}

    summary = {"module_seconds": round(seconds, 2), "deleted_before": deleter.deleted_before,
               "proxy": lag_figures(lagging.stats()), "error": doomed["error"]}
    record_property("deleted_summary", summary)
    print(f"\nmirror deleted during the run: {summary}")
