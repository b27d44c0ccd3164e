# -*- coding: utf-8 -*-
"""report.py: the module result and ``--diff`` built from a plan."""

from __future__ import annotations

import json

from ansible_collections.classiclink.mirror.plugins.module_utils.model import Outcome
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import PLACEHOLDER_PREFIX, placeholder
from ansible_collections.classiclink.mirror.plugins.module_utils.report import plan_result

from .builders import (
    ALLOW_ALL_EGRESS,
    FROM,
    TO,
    VPC1,
    cidr,
    mirror,
    plan,
    ref,
    rules,
    snapshot,
    source,
)

SSH = cidr(22, "10.0.0.0/8")
HTTP = cidr(80, "0.0.0.0/0")

NEW_WEB, NEW_APP = "sg-f0000001", "sg-f0000002"


def _new_pair_plan():
    """web (new, refers to itself and to app) + app (new, referenced only)."""
    web = source("sg-a0000001", "web", rules=rules((SSH, "ssh"), ref(80, "sg-a0000001"), ref(8080, "sg-a0000002")))
    app = source("sg-a0000002", "app", rules=rules(HTTP))
    return plan(snapshot(web, app), "sg-a0000001")


def _ids():
    """The Outcome of a run that created both mirrors."""
    outcome = Outcome()
    outcome.created(placeholder("sg-a0000001"), NEW_WEB)
    outcome.created(placeholder("sg-a0000002"), NEW_APP)
    return outcome


def _group(result, source_id):
    [found] = [g for g in result["groups"] if g["source_group_id"] == source_id]
    return found


def test_check_mode_result_names_the_placeholders():
    result = plan_result(_new_pair_plan())
    web = _group(result, "sg-a0000001")
    assert web["created"] and web["changed"] and web["error"] is None
    assert web["mirror_group_id"] == placeholder("sg-a0000001")
    assert {r.get("group_id") for r in web["ingress"]["authorize"]} >= {placeholder("sg-a0000001"), placeholder("sg-a0000002")}


def test_plan_result_resolves_placeholders_in_the_group_entries():
    result = plan_result(_new_pair_plan(), _ids())
    web, app = _group(result, "sg-a0000001"), _group(result, "sg-a0000002")
    assert web["mirror_group_id"] == NEW_WEB and app["mirror_group_id"] == NEW_APP
    assert app["referenced_only"] and app["created"]
    added = web["ingress"]["authorize"]
    assert {"direction": "ingress", "protocol": "tcp", "from_port": 22, "to_port": 22,
            "cidr_ip": "10.0.0.0/8", "description": "ssh"} in added
    assert {r.get("group_id") for r in added if "group_id" in r} == {NEW_WEB, NEW_APP}
    assert web["tags"]["source"]["set"] == {TO: NEW_WEB}
    assert PLACEHOLDER_PREFIX not in json.dumps(result["groups"])


def test_plan_result_resolves_placeholders_in_the_diff():
    """After a real run the --diff must name the created groups, not the plan's placeholders."""
    result = plan_result(_new_pair_plan(), _ids())
    text = json.dumps(result["diff"])
    assert PLACEHOLDER_PREFIX not in text, text
    assert NEW_WEB in text


def test_diff_only_for_changed_pairs():
    done = source("sg-a0000003", "done", rules=rules(SSH), tags={TO: "sg-b0000003"})
    done_mirror = mirror("sg-b0000003", done, rules=rules(SSH, ALLOW_ALL_EGRESS))
    todo = source("sg-a0000004", "todo", rules=rules(SSH, HTTP), tags={TO: "sg-b0000004"})
    todo_mirror = mirror("sg-b0000004", todo, rules=rules(SSH, ALLOW_ALL_EGRESS))
    broken = source("sg-a0000005", "broken", vpc="vpc-99999999")
    result = plan_result(plan(snapshot(done, done_mirror, todo, todo_mirror, broken),
                              "sg-a0000003", "sg-a0000004", "sg-a0000005"))
    assert {g["source_group_id"]: g["changed"] for g in result["groups"]} == {
        "sg-a0000003": False, "sg-a0000004": True, "sg-a0000005": False}
    assert _group(result, "sg-a0000005")["error"]
    [entry] = result["diff"]
    assert "todo" in entry["before_header"] and "sg-b0000004" in entry["before_header"]
    assert entry["before"]["ingress"] == ["tcp 22-22 10.0.0.0/8"]
    assert entry["after"]["ingress"] == ["tcp 22-22 10.0.0.0/8", "tcp 80-80 0.0.0.0/0"]
    assert entry["before"]["egress"] == entry["after"]["egress"] == ["all 0.0.0.0/0"]
    assert _group(result, "sg-a0000004")["ingress"]["authorize"] == [
        {"direction": "ingress", "protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_ip": "0.0.0.0/0"}]


def test_converged_plan_has_no_diff_and_no_change():
    done = source("sg-a0000003", "done", rules=rules(SSH), tags={TO: "sg-b0000003"})
    result = plan_result(plan(snapshot(done, mirror("sg-b0000003", done, rules=rules(SSH, ALLOW_ALL_EGRESS))), "done"))
    assert result["diff"] == []
    assert not any(g["changed"] for g in result["groups"])


def test_quota_failure_reports_error_and_nothing_created():
    src = source("sg-a0000001", "web", rules=rules(*[cidr(1000 + i, "10.0.0.0/8") for i in range(61)]))
    result = plan_result(plan(snapshot(src), "sg-a0000001"))
    [entry] = result["groups"]
    assert entry["error"] and not entry["created"] and not entry["changed"]
    assert entry["ingress"]["authorize"] == [] and result["diff"] == []


def test_absent_reports_deleted_mirror_and_empty_after():
    src = source("sg-a0000001", "web", rules=rules(SSH), tags={TO: "sg-b0000001"})
    result = plan_result(plan(snapshot(src, mirror("sg-b0000001", src, rules=rules(SSH))), "sg-a0000001", state="absent"))
    [entry] = result["groups"]
    assert entry["deleted"] == ["sg-b0000001"] and entry["changed"]
    assert entry["tags"]["source"]["removed"] == [TO]
    [diff] = result["diff"]
    assert diff["before"]["ingress"] == ["tcp 22-22 10.0.0.0/8"] and diff["after"] == {}


def test_diff_of_a_new_referenced_only_mirror_shows_the_egress_ec2_gives_it():
    result = plan_result(_new_pair_plan())
    [app_diff] = [d for d in result["diff"] if "app" in d["after_header"]]
    assert app_diff["after"]["tags"] == {FROM: "sg-a0000002"}
    assert app_diff["after"]["ingress"] == []
    assert app_diff["after"]["egress"] == ["all 0.0.0.0/0"]


def test_diff_of_an_existing_referenced_only_mirror_shows_its_rules():
    """A referenced-only mirror whose source lost its mirroredTo tag: the diff must not claim it has no rules."""
    web = source("sg-a0000001", "web", rules=rules(ref(8080, "sg-a0000002")), tags={TO: "sg-b0000001"})
    web_mirror = mirror("sg-b0000001", web, rules=rules(ref(8080, "sg-b0000002"), ALLOW_ALL_EGRESS))
    app = source("sg-a0000002", "app", rules=rules(HTTP))  # no mirroredTo tag any more
    app_mirror = mirror("sg-b0000002", app, vpc=VPC1, rules=rules(HTTP, ALLOW_ALL_EGRESS))
    result = plan_result(plan(snapshot(web, web_mirror, app, app_mirror), "sg-a0000001"))
    [app_diff] = result["diff"]
    assert "sg-b0000002" in app_diff["before_header"]
    assert app_diff["before"]["ingress"] == app_diff["after"]["ingress"] == ["tcp 80-80 0.0.0.0/0"]


def test_references_are_named_in_reasons_results_and_diff():
    """A dry run can be reviewed without looking ids up: groups read ``name (sg-...)``."""
    web = source("sg-a0000001", "web", rules=rules(ref(8080, "sg-e0000001"), ref(80, "sg-a0000002")))
    app = source("sg-a0000002", "app", rules=rules(HTTP))
    snap = snapshot(web, app)
    snap.names["sg-e0000001"] = "legacy-elb"  # referenced, not managed: read by name only
    result = plan_result(plan(snap, "sg-a0000001"))
    entry = _group(result, "sg-a0000001")
    [skipped] = entry["skipped_references"]
    assert "legacy-elb (sg-e0000001)" in skipped["reason"] and skipped["group_name"] == "legacy-elb"
    [added] = [r for r in entry["ingress"]["authorize"] if r.get("group_id")]
    assert added["group_name"] == "app"
    [diff] = [d for d in result["diff"] if "web (sg-a0000001)" in d["before_header"]]
    assert any("app (%s)" % placeholder("sg-a0000002") in line for line in diff["after"]["ingress"])


def test_a_knock_on_revoke_names_the_source_that_stopped_being_managed():
    web = source("sg-a0000001", "web", rules=rules(SSH), tags={TO: "sg-b0000001"})
    app = source("sg-a0000002", "app", vpc=None, rules=rules(HTTP))  # its link tag was removed
    app_mirror = mirror("sg-b0000002", app)
    web_mirror = mirror("sg-b0000001", web, rules=rules(SSH, ref(8080, "sg-b0000002"), ALLOW_ALL_EGRESS))
    entry = _group(plan_result(plan(snapshot(web, app, web_mirror, app_mirror), "sg-a0000001")), "sg-a0000001")
    [revoked] = entry["ingress"]["revoke"]
    assert revoked["group_id"] == "sg-b0000002" and revoked["code"] == "unmanaged_reference"
    assert "app (sg-a0000002) is no longer managed" in revoked["reason"]
