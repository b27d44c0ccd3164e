"""Crash consistency: SIGKILL the playbook at ten points of a 50-group first converge.

One fleet, kills at growing points: run k of ``ansible-playbook`` is killed
(SIGKILL to the whole run at once: ansible-playbook, its worker processes --
which ansible puts in sessions of their own -- and the module processes) as soon as the server has seen ``KILL_POINTS[k]`` mutating calls in
total; the next run starts from whatever the killed one left behind.  The
points cover the three phases of a first converge (creates, then tags and
rules, then ClassicLinks: 163 mutating calls without kills).

After every kill, in the target VPC:

* no duplicate group, no second mirror of a source, no group without the
  mirroredFrom tag (apart from the VPC's ``default`` group) -- tags are written
  by CreateSecurityGroup itself (TagSpecifications);
* every source that carries the mirroredTo tag names a mirror that is already
  complete (its rules are those of the clean run) -- the tag is written last.

Then one uninterrupted run converges and the result equals a clean run's.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.reliability.fleet import MIRRORED_TO, integrity_problems, kill_run, run_playbook, run_processes, start_playbook, state

pytestmark = pytest.mark.integration

KILL_POINTS = (5, 15, 30, 45, 60, 80, 100, 120, 140, 156)
# One change at a time: at most one call in flight when the kill lands, so the
# points are (nearly) exact and the last one falls among the ten attaches.
CONCURRENCY = ("-e", "mirror_concurrency=1")
POLL_SECONDS = 0.02
RUN_TIMEOUT = 90.0


def mutating_count(moto: Any) -> int:
    return sum(1 for call in moto.calls() if call["mutating"])


def wait_until_quiet(moto: Any, quiet: float = 0.5, limit: float = 10.0) -> int:
    """The mutating count once it stopped moving (requests in flight at the kill are done)."""
    deadline = time.monotonic() + limit
    last, since = mutating_count(moto), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = mutating_count(moto)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


def incomplete_tagged_sources(now: dict[str, Any], clean: dict[str, Any]) -> list[str]:
    """Sources whose mirroredTo tag names a mirror that differs from its clean-run state."""
    mirrors = {m["name"]: m for m in now["mirrors"]}
    wanted = {m["name"]: m for m in clean["mirrors"]}
    problems = []
    for name, tags in now["sources"].items():
        if MIRRORED_TO not in tags:
            continue
        mirror = mirrors.get(name)
        if tags[MIRRORED_TO] != f"mirror:{name}" or mirror is None:
            problems.append(f"source {name}: mirroredTo={tags[MIRRORED_TO]} does not name its mirror")
        elif mirror["rules"] != wanted[name]["rules"] or mirror["tags"] != wanted[name]["tags"]:
            problems.append(f"source {name}: mirroredTo is set but the mirror is incomplete: {mirror} != {wanted[name]}")
    return problems


def test_sigkill_at_ten_points_leaves_no_duplicate_or_untagged_group(
        clean_fleet_state, fleet, moto, aws_env, ec2, tmp_path, record_property):
    kills = []
    for index, point in enumerate(KILL_POINTS):
        log = tmp_path / f"run-{index}.log"
        proc = start_playbook(aws_env, *CONCURRENCY, log=log)
        deadline = time.monotonic() + RUN_TIMEOUT
        seen = mutating_count(moto)
        while seen < point and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            seen = mutating_count(moto)
        finished = proc.poll() is not None
        killed = kill_run(proc)
        assert run_processes(proc.marker) == [], f"processes of run {index} survived SIGKILL"
        assert not finished, f"run {index} ended (rc={proc.returncode}) before {point} mutating calls:\n{log.read_text()[-3000:]}"
        assert seen >= point, f"run {index} made no progress in {RUN_TIMEOUT}s:\n{log.read_text()[-3000:]}"
        settled = wait_until_quiet(moto)

        problems = integrity_problems(ec2, fleet)
        now = state(ec2, fleet, moto.classiclink_links())
        problems += incomplete_tagged_sources(now, clean_fleet_state)
        assert problems == [], f"after the kill at {point} mutating calls:\n" + "\n".join(problems)
        kills.append({"point": point, "seen_at_kill": seen, "after_in_flight": settled, "processes_killed": killed,
                      "mirrors": len(now["mirrors"]) - 1,
                      "sources_tagged": sum(MIRRORED_TO in t for t in now["sources"].values()),
                      "links": len(now["links"])})

    final = run_playbook(aws_env, *CONCURRENCY)
    assert final.rc == 0, final.explain()
    assert state(ec2, fleet, moto.classiclink_links()) == clean_fleet_state
    record_property("kills", kills)
    print("\nkills (mutating calls seen at the server):")
    for kill in kills:
        print(f"  {kill}")
    print(f"  final run: {final.seconds:.1f}s, changed={final.recap['us-east-1']['changed']}")
