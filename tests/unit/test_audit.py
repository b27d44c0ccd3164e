# -*- coding: utf-8 -*-
"""The audit (audit.py): what a full run would change, in the pair and link results' own terms."""

from __future__ import annotations

from ansible_collections.classiclink.mirror.plugins.module_utils.audit import audit
from ansible_collections.classiclink.mirror.plugins.module_utils.model import RULE_CHANGES, Instance, Link

from .builders import ALLOW_ALL_EGRESS, LINK, TO, VPC1, VPC2, cidr, group, linked_snapshot, mirror, ref, rules, source

KEYS = (LINK,)
SSH, HTTP = cidr(22, "10.0.0.0/8"), cidr(80, "0.0.0.0/0")


def test_a_converged_estate_has_no_drift():
    web = source("sg-a0000001", "web", rules=rules(SSH), tags={TO: "sg-b0000001"})
    web_m = mirror("sg-b0000001", web, rules=rules(SSH, ALLOW_ALL_EGRESS))
    snap = linked_snapshot(web, web_m, instances=[Instance("i-1", "running", (web.id,), None)], links=[Link("i-1", VPC1, (web_m.id,))])
    report = audit(snap, KEYS)
    assert report["drift"] is False
    [pair] = report["pairs"]
    assert pair["in_sync"] and pair["mirror_group_id"] == web_m.id and pair["code"] is None
    assert set(pair["drift"]["ingress"]) == set(RULE_CHANGES)
    [instance] = report["instances"]
    assert instance["action"] == "unchanged" and instance["link"] == {"vpc_id": VPC1, "groups": [web_m.id]}


def test_drift_uses_the_pair_results_vocabulary():
    web = source("sg-a0000001", "web", rules=rules(SSH, HTTP))
    web_m = mirror("sg-b0000001", web, rules=rules(SSH, cidr(3389, "0.0.0.0/0"), ALLOW_ALL_EGRESS))
    report = audit(linked_snapshot(web, web_m), KEYS)
    [pair] = report["pairs"]
    assert report["drift"] and not pair["in_sync"]
    assert [r["from_port"] for r in pair["drift"]["ingress"]["authorize"]] == [80]
    assert [r["from_port"] for r in pair["drift"]["ingress"]["revoke"]] == [3389]


def test_a_missing_mirror_and_an_unlinked_member_are_drift():
    web = source("sg-a0000001", "web", rules=rules(SSH))
    report = audit(linked_snapshot(web, instances=[Instance("i-1", "running", (web.id,), None)]), KEYS)
    [pair] = report["pairs"]
    assert pair["drift"]["create"] and report["drift"]
    [instance] = report["instances"]
    assert instance["action"] == "linked" and instance["code"] is None


def test_problems_carry_codes():
    bad = source("sg-a0000001", "bad", vpc="vpc-nothexxx")
    report = audit(linked_snapshot(bad), KEYS)
    [entry] = report["sources"]
    assert entry["code"] == "bad_link_tag" and entry["problem"]
    assert report["pairs"] == []


def test_orphans_are_reported_and_drift_only_with_prune():
    gone = source("sg-a0000009", "gone")
    orphan = mirror("sg-b0000009", gone)
    snap = linked_snapshot(orphan)
    assert audit(snap, KEYS)["orphans"][0]["reason"] == "source_gone"
    assert audit(snap, KEYS)["drift"] is False and audit(snap, KEYS, prune=True)["drift"] is True


def test_usage_counts_interfaces_rules_of_other_groups_and_links():
    web = source("sg-a0000001", "web", rules=rules(SSH), tags={TO: "sg-b0000001"})
    app = source("sg-a0000002", "app", rules=rules(HTTP), tags={TO: "sg-b0000002"})
    db = source("sg-a0000003", "db", rules=rules(cidr(5432, "10.0.0.0/8")), tags={TO: "sg-b0000003"})
    web_m = mirror("sg-b0000001", web, rules=rules(SSH, ref(8080, "sg-b0000002"), ALLOW_ALL_EGRESS))  # a mirror's reference: no use
    app_m = mirror("sg-b0000002", app, rules=rules(HTTP, ALLOW_ALL_EGRESS))
    db_m = mirror("sg-b0000003", db, rules=rules(cidr(5432, "10.0.0.0/8"), ALLOW_ALL_EGRESS))
    lb = group("sg-c0000001", "vpc-lb", vpc_id=VPC1, rules=rules(ref(5432, db_m.id)))  # a VPC group allows db's mirror
    snap = linked_snapshot(web, app, db, web_m, app_m, db_m, lb)
    report = audit(snap, KEYS, interface_groups=set())
    assert [m["group_id"] for m in report["unused_mirrors"]] == [app_m.id, web_m.id]  # by source name
    assert (report["mirrors_in_use"], report["mirrors_total"]) == (1, 3)
    report = audit(snap, KEYS, interface_groups={web_m.id})  # an instance in the target VPC carries web's mirror
    assert {p["source_group_name"]: p["mirror_in_use"] for p in report["pairs"]} == {"web": True, "app": False, "db": True}
    snap.links["i-1"] = Link("i-1", VPC1, (app_m.id,))
    assert audit(snap, KEYS, interface_groups={web_m.id})["unused_mirrors"] == []


def test_without_interface_data_usage_is_not_guessed():
    web = source("sg-a0000001", "web", rules=rules(SSH))
    report = audit(linked_snapshot(web), KEYS)
    assert report["unused_mirrors"] == [] and report["mirrors_total"] == 0 and "mirror_in_use" not in report["pairs"][0]


def test_redundant_sources_have_identical_rules_within_one_vpc():
    a = source("sg-a0000001", "a", rules=rules((SSH, "ssh"), ref(80, "sg-a0000001")))
    b = source("sg-a0000002", "b", rules=rules(SSH, ref(80, "sg-a0000002")))  # same rules, own self reference
    c = source("sg-a0000003", "c", rules=rules(SSH))
    d = source("sg-a0000004", "d", rules=rules(SSH), vpc_id=VPC2)  # same rules as c, another VPC
    e = source("sg-a0000005", "e", rules=rules(SSH), vpc=None)  # not a source
    assert audit(linked_snapshot(a, b, c, d, e), KEYS)["redundant_sources"] == [["sg-a0000001", "sg-a0000002"]]
