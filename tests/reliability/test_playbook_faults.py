"""playbooks/mirror.yml on 50 groups and 10 instances with 30% of the AWS calls faulted.

The fleet is built straight against the harness; only the playbook's calls go
through the fault proxy (RequestLimitExceeded, plain 503, request lost, answer
lost, in equal shares).  The playbook may need a few runs (it fails at the end
when a pair or an instance failed); after at most three runs through the proxy,
a clean run must find nothing to do, and the mirror must be exactly what a
clean run on a fresh fleet produces: no duplicate mirror, no lost rule.
"""

from __future__ import annotations

import pytest

from tests.reliability.conftest import through
from tests.reliability.fleet import run_playbook, runs_until_green, state

pytestmark = pytest.mark.integration

FAULT_RATE = 0.3
MAX_FAULTY_RUNS = 3


def test_thirty_percent_faults_converge_to_the_clean_state(clean_fleet_state, fleet, moto, aws_env, ec2, proxy, record_property):
    faulty = proxy(fault_rate=FAULT_RATE, seed=2016)
    runs = runs_until_green(through(aws_env, faulty), ec2, fleet, MAX_FAULTY_RUNS)
    stats = faulty.stats()
    server_calls = moto.calls()
    assert runs[-1].rc == 0, "no convergence in %d runs under %d%% faults:\n%s" % (
        MAX_FAULTY_RUNS, FAULT_RATE * 100, "\n".join(r.explain()[-1500:] for r in runs))

    moto.reset_calls()
    clean = run_playbook(aws_env)
    assert clean.rc == 0 and clean.recap["us-east-1"]["changed"] == 0, clean.explain()
    assert [c["action"] for c in moto.mutating_calls()] == [], clean.explain()

    assert state(ec2, fleet, moto.classiclink_links()) == clean_fleet_state

    summary = {
        "runs": len(runs),
        "seconds": [round(r.seconds, 1) for r in runs],
        "calls_at_proxy": stats["requests"],
        "faults": stats["faults"],
        "calls_at_server": len(server_calls),
        "mutating_at_server": sum(c["mutating"] for c in server_calls),
        "failed_runs_first_error": [next((line.strip() for line in r.stdout.splitlines() if "failures:" in line), "")[:300]
                                    for r in runs if r.rc],
    }
    record_property("fault_summary", summary)
    print(f"\n50 groups + 10 instances under {FAULT_RATE:.0%} faults: {summary}")
