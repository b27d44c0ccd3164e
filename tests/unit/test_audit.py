# -*- coding: utf-8 -*-
"""The audit (audit.py): what a full run would change, in the pair and link results' own terms."""

from __future__ import annotations

from ansible_collections.classiclink.mirror.plugins.module_utils.audit import audit
from ansible_collections.classiclink.mirror.plugins.module_utils.model import RULE_CHANGES, Instance, Link

from .builders import ALLOW_ALL_EGRESS, LINK, TO, VPC1, cidr, linked_snapshot, mirror, rules, source

KEYS = (LINK,)
SSH, HTTP = cidr(22, "10.0.0.0/8"), cidr(80, "0.0.0.0/0")


def test_a_converged_estate_has_no_drift():
    web = source("sg-a0000001", "web", rules=rules(SSH), tags={TO: "sg-b0000001"})
    web_m = mirror("sg-b0000001", web, rules=rules(SSH, ALLOW_ALL_EGRESS))
    report = audit(linked_snapshot(web, web_m, instances=[Instance("i-1", "running", (web.id,), None)],
                                links=[Link("i-1", VPC1, (web_m.id,))]), KEYS)
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
