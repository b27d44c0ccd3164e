# -*- coding: utf-8 -*-
"""plan.py: what each (source, mirror) pair needs, from a hand-built Snapshot."""

from __future__ import annotations

import pytest

from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import CreateMirror, placeholder
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    CIDR_IP,
    EGRESS,
    INGRESS,
    Rule,
    in_direction,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.describe import group_from_description

from .builders import (
    ALLOW_ALL_EGRESS,
    FROM,
    GUIDE_LINK,
    LEGACY_VPC,
    LINK,
    OTHER_ACCOUNT,
    OWNER,
    TO,
    VPC1,
    VPC2,
    cidr,
    cidr6,
    converge,
    group,
    mirror,
    only_pair,
    pair_of,
    plan,
    prefix,
    ref,
    rules,
    snapshot,
    source,
)

SSH = cidr(22, "10.0.0.0/8")
HTTP = cidr(80, "0.0.0.0/0")
HTTPS = cidr(443, "0.0.0.0/0")


def mirror_rules_after(snap, pair_source_id, direction=INGRESS):
    """The rules the mirror of ``pair_source_id`` holds in ``snap`` (one direction)."""
    found = [g for g in snap.groups.values() if g.mirrored_from == pair_source_id]
    assert len(found) == 1
    return in_direction(found[0].rules, direction)


# -- create, add, revoke ----------------------------------------------------------

def test_new_mirror_is_created_tagged_with_its_rules():
    src = source("sg-a0000001", "web", rules=rules((SSH, "ssh"), ref(80, "sg-a0000001")), description="web tier")
    result = plan(snapshot(src), "web")
    pair = only_pair(result)
    assert pair.error is None and result.changed
    new_id = placeholder("sg-a0000001")
    assert pair.mirror_id == new_id
    assert pair.create == CreateMirror("web", "web tier", VPC1, {FROM: "sg-a0000001"})
    assert pair.source_tags.set == {TO: new_id} and pair.source_tags.unset == ()
    ingress = pair.rules[INGRESS]
    assert ingress.authorize == rules((SSH, "ssh"), ref(80, new_id))
    assert ingress.revoke == {} and ingress.update == {}
    assert EGRESS not in pair.rules  # Classic source, egress auto: the new group's allow-all stays


def test_new_mirror_from_describe_output():
    """Built the way load_snapshot builds it: boto3 dicts through group_from_description."""
    raw_source = {
        "GroupId": "sg-a0000001", "GroupName": "web", "Description": "web tier", "OwnerId": OWNER,
        "Tags": [{"Key": GUIDE_LINK, "Value": " %s " % VPC1}],
        "IpPermissions": [{"IpProtocol": "6", "FromPort": 22, "ToPort": 22,
                           "IpRanges": [{"CidrIp": "10.1.2.3/8", "Description": "ssh"}],
                           "UserIdGroupPairs": [{"GroupId": "sg-a0000001", "UserId": OWNER}]}],
    }
    raw_default = {"GroupId": "sg-d0000001", "GroupName": "default", "Description": "default VPC security group",
                   "OwnerId": OWNER, "VpcId": VPC1,
                   "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
    snap = snapshot(group_from_description(raw_source), group_from_description(raw_default), vpcs=(VPC1,))
    pair = only_pair(plan(snap, "sg-a0000001"))
    new_id = placeholder("sg-a0000001")
    assert pair.rules[INGRESS].authorize == {SSH: "ssh", ref(22, new_id): None}


def test_existing_mirror_gets_missing_rules_added_and_extra_rules_revoked():
    src = source("sg-a0000001", "web", rules=rules(SSH, HTTPS))
    mir = mirror("sg-b0000001", src, rules=rules(SSH, HTTP, ALLOW_ALL_EGRESS))
    pair = only_pair(plan(snapshot(src, mir, group("sg-e1b00001", "x", vpc_id=VPC1)), "sg-a0000001"))
    assert pair.mirror_id == "sg-b0000001" and pair.create is None
    assert pair.rules[INGRESS].authorize == rules(HTTPS)
    assert pair.rules[INGRESS].revoke == rules(HTTP)
    assert EGRESS not in pair.rules


def test_port_change_is_one_add_and_one_revoke():
    src = source("sg-a0000001", "web", rules=rules(cidr(8443, "10.0.0.0/8")), tags={TO: "sg-b0000001"})
    mir = mirror("sg-b0000001", src, rules=rules(cidr(8080, "10.0.0.0/8"), ALLOW_ALL_EGRESS))
    pair = only_pair(plan(snapshot(src, mir), "sg-a0000001"))
    assert pair.rules[INGRESS].authorize == rules(cidr(8443, "10.0.0.0/8"))
    assert pair.rules[INGRESS].revoke == rules(cidr(8080, "10.0.0.0/8"))
    assert pair.rules[INGRESS].update == {}
    assert pair.mirror_tags.empty and pair.source_tags.empty


def test_description_only_change_is_an_update_not_revoke_and_add():
    src = source("sg-a0000001", "web", rules=rules((SSH, "new text"), (HTTP, None)))
    mir = mirror("sg-b0000001", src, rules=rules((SSH, "old text"), (HTTP, "manual"), ALLOW_ALL_EGRESS))
    pair = only_pair(plan(snapshot(src, mir), "sg-a0000001"))
    diff = pair.rules[INGRESS]
    assert diff.authorize == {} and diff.revoke == {}
    assert diff.update == {SSH: "new text", HTTP: None}


def test_purge_rules_false_revokes_nothing():
    src = source("sg-a0000001", "web", rules=rules(HTTPS))
    mir = mirror("sg-b0000001", src, rules=rules(SSH, HTTP, ALLOW_ALL_EGRESS))
    pair = only_pair(plan(snapshot(src, mir), "sg-a0000001", purge_rules=False, egress="yes"))
    for diff in pair.rules.values():
        assert diff.revoke == {}
    assert pair.rules[INGRESS].authorize == rules(HTTPS)


# -- translating group references ---------------------------------------------------

def test_self_reference_maps_to_the_existing_mirror():
    src = source("sg-a0000001", "web", rules=rules(ref(80, "sg-a0000001")), tags={TO: "sg-b0000001"})
    mir = mirror("sg-b0000001", src, rules=rules(ref(80, "sg-b0000001"), ALLOW_ALL_EGRESS))
    result = plan(snapshot(src, mir), "sg-a0000001")
    assert not result.changed
    assert only_pair(result).rules[INGRESS].empty


def test_reference_to_other_managed_source_creates_its_mirror():
    app = source("sg-a0000002", "app", rules=rules(HTTP))
    web = source("sg-a0000001", "web", rules=rules(ref(8080, "sg-a0000002")))
    result = plan(snapshot(web, app), "sg-a0000001")
    web_pair, app_pair = pair_of(result, "sg-a0000001"), pair_of(result, "sg-a0000002")
    assert result.pairs[0] is web_pair  # requested pairs come first
    assert app_pair.referenced_only and not web_pair.referenced_only
    assert app_pair.create == CreateMirror("app", "app group", VPC1, {FROM: "sg-a0000002"})
    assert app_pair.mirror_id == placeholder("sg-a0000002")
    assert app_pair.rules == {}  # created empty; its own rules are its own run's business
    assert web_pair.rules[INGRESS].authorize == rules(ref(8080, placeholder("sg-a0000002")))
    assert web_pair.skipped_references == ()


def test_reference_to_other_managed_source_uses_its_existing_mirror():
    app = source("sg-a0000002", "app", rules=rules(HTTP), tags={TO: "sg-b0000002"})
    app_mirror = mirror("sg-b0000002", app, rules=rules(HTTP, ALLOW_ALL_EGRESS))
    web = source("sg-a0000001", "web", rules=rules(ref(8080, "sg-a0000002")))
    result = plan(snapshot(web, app, app_mirror), "sg-a0000001")
    assert pair_of(result, "sg-a0000001").rules[INGRESS].authorize == rules(ref(8080, "sg-b0000002"))
    app_pair = pair_of(result, "sg-a0000002")
    assert app_pair.create is None and not app_pair.changed


def test_reference_cycle_converges_in_one_plan():
    a = source("sg-a0000001", "a", rules=rules(ref(1000, "sg-a0000002")))
    b = source("sg-a0000002", "b", rules=rules(ref(2000, "sg-a0000001")))
    snap = snapshot(a, b)
    result = plan(snap, "sg-a0000001", "sg-a0000002")
    pa, pb = pair_of(result, "sg-a0000001"), pair_of(result, "sg-a0000002")
    assert pa.create and pb.create and not pa.referenced_only and not pb.referenced_only
    assert pa.rules[INGRESS].authorize == rules(ref(1000, placeholder("sg-a0000002")))
    assert pb.rules[INGRESS].authorize == rules(ref(2000, placeholder("sg-a0000001")))
    after, ids = converge(snap, result)
    assert mirror_rules_after(after, "sg-a0000001") == rules(ref(1000, ids[placeholder("sg-a0000002")]))
    assert mirror_rules_after(after, "sg-a0000002") == rules(ref(2000, ids[placeholder("sg-a0000001")]))
    assert not plan(after, "sg-a0000001", "sg-a0000002").changed


def test_reference_to_unmanaged_group_is_dropped_and_reported():
    src = source("sg-a0000001", "web", rules=rules(SSH, (ref(3306, "sg-0a0a0a0a"), "db")))
    pair = only_pair(plan(snapshot(src, group("sg-0a0a0a0a", "db")), "sg-a0000001"))
    assert pair.rules[INGRESS].authorize == rules(SSH)
    assert len(pair.skipped_references) == 1
    skipped = pair.skipped_references[0]
    assert skipped["group_id"] == "sg-0a0a0a0a"
    assert skipped["from_port"] == 3306 and skipped["description"] == "db"
    assert "sg-0a0a0a0a" in skipped["reason"] and "not managed" in skipped["reason"]


def test_reference_to_group_mirrored_into_another_vpc_is_dropped():
    other = source("sg-a0000002", "other", vpc=VPC2)
    src = source("sg-a0000001", "web", rules=rules(ref(22, "sg-a0000002")))
    result = plan(snapshot(src, other), "sg-a0000001")
    pair = only_pair(result)  # no pair is opened for the other VPC's source
    assert pair.rules[INGRESS].authorize == {}
    [skipped] = pair.skipped_references
    assert skipped["group_id"] == "sg-a0000002" and VPC2 in skipped["reason"]


@pytest.mark.parametrize("user_id, group_id, words", [
    (OTHER_ACCOUNT, "sg-0c0c0c0c", OTHER_ACCOUNT),
    ("amazon-elb", "sg-843f59ed", "load balancer"),
])
def test_foreign_group_references_are_dropped_with_a_reason(user_id, group_id, words):
    src = source("sg-a0000001", "web", rules=rules(HTTP, ref(80, group_id, user_id)))
    pair = only_pair(plan(snapshot(src), "sg-a0000001"))
    assert pair.rules[INGRESS].authorize == rules(HTTP)
    [skipped] = pair.skipped_references
    assert skipped["group_id"] == group_id and skipped["user_id"] == user_id
    assert words in skipped["reason"]


# -- what is preserved on the mirror -------------------------------------------------

def test_rule_referencing_unmanaged_vpc_group_is_preserved():
    src = source("sg-a0000001", "web", rules=rules(SSH), tags={TO: "sg-b0000001"})
    other_src = source("sg-a0000002", "app", tags={TO: "sg-b0000002"})
    other_mirror = mirror("sg-b0000002", other_src)
    elb = group("sg-e1b00001", "vpc-elb", vpc_id=VPC1)
    mir = mirror("sg-b0000001", src, rules=rules(SSH, ref(80, "sg-e1b00001"), ref(81, "sg-b0000002"), ALLOW_ALL_EGRESS))
    result = plan(snapshot(src, mir, elb, other_src, other_mirror), "sg-a0000001")
    pair = pair_of(result, "sg-a0000001")
    # the VPC load balancer's group stays; the stale reference to a managed mirror goes
    assert pair.rules[INGRESS].revoke == rules(ref(81, "sg-b0000002"))
    assert ref(80, "sg-e1b00001") in pair.after


@pytest.mark.parametrize("source_vpc, classic_vpc_id, preserved", [
    (None, None, True),  # EC2-Classic source
    (LEGACY_VPC, None, False),  # VPC source
    (LEGACY_VPC, LEGACY_VPC, True),  # a VPC standing in for EC2-Classic (classic_vpc_id)
])
def test_prefix_list_on_mirror_preserved_only_for_classic_source(source_vpc, classic_vpc_id, preserved):
    pl = prefix(443, "pl-12345678")
    src = source("sg-a0000001", "web", vpc_id=source_vpc, rules=rules(SSH, ALLOW_ALL_EGRESS), tags={TO: "sg-b0000001"})
    mir = mirror("sg-b0000001", src, rules=rules(SSH, pl, ALLOW_ALL_EGRESS))
    pair = only_pair(plan(snapshot(src, mir, classic_vpc_id=classic_vpc_id), "sg-a0000001"))
    if preserved:
        assert pair.rules[INGRESS].empty and not pair.changed
    else:
        assert pair.rules[INGRESS].revoke == rules(pl)
        assert pl not in pair.after


# -- default group, egress -------------------------------------------------------------

def test_default_source_maps_onto_the_target_vpc_default_group():
    src = source("sg-a0000001", "default", rules=rules(SSH), description="default group")
    snap = snapshot(src)
    default_id = next(g.id for g in snap.groups_in_vpc(VPC1) if g.name == "default")
    result = plan(snap, "sg-a0000001")
    pair = only_pair(result)
    assert pair.error is None
    assert pair.create is None and pair.adopt
    assert pair.mirror_id == default_id
    assert pair.mirror_tags.set == {FROM: "sg-a0000001"}
    assert pair.source_tags.set == {TO: default_id}
    assert pair.rules[INGRESS].authorize == rules(SSH)
    after, _ids = converge(snap, result)
    assert after.groups[default_id].mirrored_from == "sg-a0000001"
    second = plan(after, "sg-a0000001")
    assert not second.changed and not only_pair(second).adopt


def test_default_mapping_does_not_warn_about_description():
    """The VPC default group's description never matched the source's: nothing to warn about, nothing to delete."""
    src = source("sg-a0000001", "default", rules=rules(SSH), description="default group")
    snap = snapshot(src)
    after, _ids = converge(snap, plan(snap, "sg-a0000001"))
    pair = only_pair(plan(after, "sg-a0000001"))
    assert pair.warnings == ()


def test_changed_source_description_warns_and_does_not_recreate():
    src = source("sg-a0000001", "web", rules=rules(SSH), description="now different", tags={TO: "sg-b0000001"})
    mir = mirror("sg-b0000001", src, rules=rules(SSH, ALLOW_ALL_EGRESS), description="as created")
    result = plan(snapshot(src, mir), "sg-a0000001")
    pair = only_pair(result)
    assert not result.changed and pair.create is None and pair.delete_ids == ()
    assert len(pair.warnings) == 1 and "as created" in pair.warnings[0]


def test_egress_auto_for_vpc_source_mirrors_egress():
    egress_443 = cidr(443, "0.0.0.0/0", direction=EGRESS)
    src = source("sg-a0000001", "web", vpc_id=LEGACY_VPC, rules=rules(SSH, egress_443, ALLOW_ALL_EGRESS))
    pair = only_pair(plan(snapshot(src), "sg-a0000001"))
    assert pair.rules[EGRESS].authorize == rules(egress_443)  # allow-all is already on a new group
    assert pair.rules[EGRESS].revoke == {}
    assert in_direction(pair.after, EGRESS) == rules(egress_443, ALLOW_ALL_EGRESS)


def test_egress_auto_for_classic_stand_in_vpc_leaves_egress_alone():
    src = source("sg-a0000001", "web", vpc_id=LEGACY_VPC, rules=rules(SSH, cidr(443, "0.0.0.0/0", direction=EGRESS)))
    pair = only_pair(plan(snapshot(src, classic_vpc_id=LEGACY_VPC), "sg-a0000001"))
    assert EGRESS not in pair.rules
    assert in_direction(pair.after, EGRESS) == rules(ALLOW_ALL_EGRESS)


def test_egress_auto_for_vpc_source_revokes_allow_all_the_source_lacks():
    egress_443 = cidr(443, "0.0.0.0/0", direction=EGRESS)
    src = source("sg-a0000001", "web", vpc_id=LEGACY_VPC, rules=rules(SSH, egress_443))
    pair = only_pair(plan(snapshot(src), "sg-a0000001"))
    assert pair.rules[EGRESS].revoke == rules(ALLOW_ALL_EGRESS)


def test_egress_yes_on_classic_source_mirrors_its_empty_egress():
    src = source("sg-a0000001", "web", rules=rules(SSH))
    pair = only_pair(plan(snapshot(src), "sg-a0000001", egress="yes"))
    assert pair.rules[EGRESS].revoke == rules(ALLOW_ALL_EGRESS)


def test_egress_no_on_vpc_source_leaves_egress_alone():
    src = source("sg-a0000001", "web", vpc_id=LEGACY_VPC, rules=rules(SSH, cidr(443, "0.0.0.0/0", direction=EGRESS)))
    mir = mirror("sg-b0000001", src, rules=rules(cidr(25, "10.0.0.0/8", direction=EGRESS)))
    pair = only_pair(plan(snapshot(src, mir), "sg-a0000001", egress="no"))
    assert EGRESS not in pair.rules
    assert pair.rules[INGRESS].authorize == rules(SSH)
    assert in_direction(pair.after, EGRESS) == rules(cidr(25, "10.0.0.0/8", direction=EGRESS))


# -- state=absent ---------------------------------------------------------------------------

def test_absent_deletes_the_mirror_and_untags_the_source():
    src = source("sg-a0000001", "web", tags={TO: "sg-b0000001"})
    mir = mirror("sg-b0000001", src)
    lookalike = group("sg-e1b00001", "web", vpc_id=VPC2)  # same name, not a mirror
    other = mirror("sg-b0000002", source("sg-a0000002", "app"))
    snap = snapshot(src, mir, lookalike, other, source("sg-a0000002", "app"))
    result = plan(snap, "sg-a0000001", state="absent")
    pair = only_pair(result)
    assert pair.removal and pair.error is None
    assert pair.delete_ids == ("sg-b0000001",)
    assert pair.source_tags.unset == (TO,) and pair.source_tags.set == {}
    after, _ids = converge(snap, result)
    assert "sg-b0000001" not in after.groups
    assert {"sg-e1b00001", "sg-b0000002"} <= set(after.groups)
    assert TO not in after.groups["sg-a0000001"].tags
    assert not plan(after, "sg-a0000001", state="absent").changed


def test_absent_never_deletes_a_group_not_tagged_for_that_source():
    src = source("sg-a0000001", "web")
    same_name = group("sg-e1b00001", "web", vpc_id=VPC1)
    other_mirror = mirror("sg-b0000002", source("sg-a0000002", "web2"), tags={}, rules={})
    result = plan(snapshot(src, same_name, other_mirror), "sg-a0000001", state="absent")
    pair = only_pair(result)
    assert pair.delete_ids == () and pair.untag_ids == ()
    assert not result.changed


def test_absent_for_a_deleted_source_deletes_its_orphan_mirror():
    gone = source("sg-a0000001", "web")
    orphan = mirror("sg-b0000001", gone)
    result = plan(snapshot(orphan), "sg-a0000001", state="absent")  # the source itself is gone
    pair = only_pair(result)
    assert pair.error is None and pair.delete_ids == ("sg-b0000001",)
    assert pair.source_tags.empty


def test_absent_releases_an_adopted_default_group_without_deleting_it():
    src = source("sg-a0000001", "default", tags={TO: "sg-d0000001"})
    default = group("sg-d0000001", "default", vpc_id=VPC1, tags={FROM: "sg-a0000001"})
    pair = only_pair(plan(snapshot(src, default), "sg-a0000001", state="absent"))
    assert pair.delete_ids == () and pair.untag_ids == ("sg-d0000001",)


# -- quota ------------------------------------------------------------------------------------

def test_desired_rules_over_quota_fail_the_pair_before_any_change():
    many = rules(*[cidr(1000 + i, "10.0.0.0/8") for i in range(61)])
    src = source("sg-a0000001", "web", rules=many)
    result = plan(snapshot(src), "sg-a0000001")
    pair = only_pair(result)
    assert pair.error and "61" in pair.error and "60" in pair.error
    assert pair.rules == {}
    assert not pair.changed and not result.changed
    assert result.failed == [pair]


def test_quota_counts_preserved_rules_too():
    src = source("sg-a0000001", "web", rules=rules(*[cidr(1000 + i, "10.0.0.0/8") for i in range(59)]))
    mir = mirror("sg-b0000001", src, rules=rules(ref(1, "sg-e1b00001"), ref(2, "sg-e1b00002"), ALLOW_ALL_EGRESS))
    pair = only_pair(plan(snapshot(src, mir), "sg-a0000001"))
    assert pair.error and "61" in pair.error


def test_authorize_first_when_there_is_room():
    src = source("sg-a0000001", "web", rules=rules(HTTPS))
    mir = mirror("sg-b0000001", src, rules=rules(HTTP, ALLOW_ALL_EGRESS))
    pair = only_pair(plan(snapshot(src, mir), "sg-a0000001"))
    assert pair.rules[INGRESS].authorize and pair.rules[INGRESS].revoke
    assert pair.rules[INGRESS].revoke_first is False


def test_revoke_first_when_authorize_first_would_exceed_quota():
    shared = [cidr(1000 + i, "10.0.0.0/8") for i in range(59)]
    src = source("sg-a0000001", "web", rules=rules(*shared, HTTPS))
    mir = mirror("sg-b0000001", src, rules=rules(*shared, HTTP, ALLOW_ALL_EGRESS))
    pair = only_pair(plan(snapshot(src, mir), "sg-a0000001"))
    assert pair.error is None
    diff = pair.rules[INGRESS]
    assert diff.authorize == rules(HTTPS) and diff.revoke == rules(HTTP)
    assert diff.revoke_first is True


def test_quota_counts_address_families_apart_in_the_plan():
    v4 = [cidr(1000 + i, "10.0.0.0/8") for i in range(40)]
    v6 = [cidr6(1000 + i, "2001:db8::/32") for i in range(40)]
    pair = only_pair(plan(snapshot(source("sg-a0000001", "web", rules=rules(*v4, *v6))), "sg-a0000001"))
    assert pair.error is None and len(pair.rules[INGRESS].authorize) == 80


# -- errors --------------------------------------------------------------------------------------

def _error_of(snap, ref_, **options):
    pair = only_pair(plan(snap, ref_, **options))
    assert not pair.changed
    return pair.error or ""


def test_unknown_source_id_and_name():
    snap = snapshot(source("sg-a0000001", "web"))
    assert "sg-a0000009" in _error_of(snap, "sg-a0000009")
    assert "nosuch" in _error_of(snap, "nosuch")


def test_ambiguous_name_lists_both_groups():
    snap = snapshot(source("sg-a0000001", "web", vpc_id=LEGACY_VPC), source("sg-a0000002", "web", vpc_id=VPC2))
    error = _error_of(snap, "web")
    assert "ambiguous" in error and "sg-a0000001" in error and "sg-a0000002" in error


def test_a_name_prefers_the_one_group_that_declares_a_pair():
    snap = snapshot(source("sg-a0000001", "web", vpc_id=LEGACY_VPC), group("sg-a0000002", "web", vpc_id=VPC2))
    pair = only_pair(plan(snap, "web"))
    assert pair.error is None and pair.source_id == "sg-a0000001"


def test_malformed_link_tag_is_a_pair_error():
    error = _error_of(snapshot(source("sg-a0000001", "web", vpc="vpc-nothex!")), "sg-a0000001")
    assert "vpc-nothex!" in error


def test_untagged_source_without_vpc_id_is_an_error():
    assert "link tag" in _error_of(snapshot(source("sg-a0000001", "web", vpc=None)), "sg-a0000001")


def test_nonexistent_target_vpc():
    error = _error_of(snapshot(source("sg-a0000001", "web", vpc="vpc-99999999")), "sg-a0000001")
    assert "vpc-99999999" in error and "does not exist" in error


def test_target_vpc_is_the_source_vpc():
    error = _error_of(snapshot(source("sg-a0000001", "web", vpc=VPC1, vpc_id=VPC1)), "sg-a0000001")
    assert VPC1 in error and "own VPC" in error


def test_same_name_unmanaged_group_without_adopt_is_an_error():
    snap = snapshot(source("sg-a0000001", "web", rules=rules(SSH)), group("sg-e1b00001", "web", vpc_id=VPC1))
    error = _error_of(snap, "sg-a0000001")
    assert "sg-e1b00001" in error and "adopt" in error and "not managed" in error


def test_same_name_unmanaged_group_with_adopt_is_adopted():
    existing = group("sg-e1b00001", "web", vpc_id=VPC1, tags={"owner": "me"},
                     rules=rules(cidr(8080, "10.0.0.0/8"), ref(80, "sg-e1b00002"), ALLOW_ALL_EGRESS))
    src = source("sg-a0000001", "web", rules=rules(SSH))
    snap = snapshot(src, existing)
    result = plan(snap, "sg-a0000001", adopt=True)
    pair = only_pair(result)
    assert pair.error is None and pair.adopt and pair.create is None
    assert pair.mirror_id == "sg-e1b00001"
    assert pair.mirror_tags.set == {FROM: "sg-a0000001"} and pair.mirror_tags.unset == ()
    assert pair.rules[INGRESS].authorize == rules(SSH)
    assert pair.rules[INGRESS].revoke == rules(cidr(8080, "10.0.0.0/8"))  # unmanaged-group ref kept
    after, _ids = converge(snap, result)
    assert not plan(after, "sg-a0000001").changed


def test_same_name_group_mirroring_another_source_is_an_error():
    other = source("sg-a0000002", "web", vpc=VPC2)
    taken = mirror("sg-b0000002", other, vpc=VPC1)  # mirror of a source now pointing elsewhere
    error = _error_of(snapshot(source("sg-a0000001", "web", vpc_id=LEGACY_VPC), other, taken), "sg-a0000001", adopt=True)
    assert "sg-b0000002" in error and "sg-a0000002" in error


def test_two_sources_with_one_name_into_one_vpc_is_an_error():
    a = source("sg-a0000001", "web")
    b = source("sg-a0000002", "web", vpc_id=LEGACY_VPC)
    result = plan(snapshot(a, b), "sg-a0000001", "sg-a0000002")
    for pair in result.pairs:
        assert pair.error and "sg-a0000001" in pair.error and "sg-a0000002" in pair.error
    assert not result.changed


def test_one_bad_pair_does_not_stop_another():
    good = source("sg-a0000001", "web", rules=rules(SSH))
    bad = source("sg-a0000002", "api", vpc="vpc-99999999")
    result = plan(snapshot(good, bad), "sg-a0000002", "nosuch", "sg-a0000001")
    assert [p.error is not None for p in result.pairs] == [True, True, False]
    assert pair_of(result, "sg-a0000001").rules[INGRESS].authorize == rules(SSH)
    assert result.changed and len(result.failed) == 2


def test_source_requested_twice_is_planned_once():
    result = plan(snapshot(source("sg-a0000001", "web", rules=rules(SSH))), "web", "sg-a0000001")
    assert len(result.pairs) == 1


def test_reference_to_a_failing_mirror_is_skipped_in_any_order():
    """A mirror that fails its own plan is never created, so no pair may plan a rule pointing at it."""
    over_quota = rules(*[cidr(1000 + i, "10.0.0.0/8") for i in range(61)])
    a = source("sg-a0000001", "a", rules=rules(SSH, ref(80, "sg-a0000002")))
    b = source("sg-a0000002", "b", rules=over_quota)
    snap = snapshot(a, b)
    outcomes = []
    for order in (("sg-a0000001", "sg-a0000002"), ("sg-a0000002", "sg-a0000001")):
        result = plan(snap, *order)
        pa = pair_of(result, "sg-a0000001")
        assert pair_of(result, "sg-a0000002").error
        targets = {rule.target for rule in pa.rules.get(INGRESS, {}).authorize} if pa.rules else set()
        assert placeholder("sg-a0000002") not in targets, "order %s plans a rule to a mirror that is never created" % (order,)
        outcomes.append((pa.error is None, targets, len(pa.skipped_references)))
    assert outcomes[0] == outcomes[1]


# -- idempotence, vpc_id, tags ----------------------------------------------------------------------

def test_second_plan_over_converged_snapshot_is_empty():
    web = source("sg-a0000001", "web", rules=rules(
        (SSH, "ssh"), ref(80, "sg-a0000001"), ref(8080, "sg-a0000002"), ref(3306, "sg-0a0a0a0a"),
        cidr6(443, "2001:db8::/32"), prefix(443, "pl-12345678")))
    app = source("sg-a0000002", "app", vpc_id=LEGACY_VPC, rules=rules(
        ref(9000, "sg-a0000001"), cidr(443, "0.0.0.0/0", direction=EGRESS)))
    dflt = source("sg-a0000003", "default", rules=rules(ref(0, "sg-a0000003")))
    snap = snapshot(web, app, dflt, group("sg-0a0a0a0a", "db"), group("sg-e1b00001", "elb", vpc_id=VPC1))
    refs = ("sg-a0000001", "sg-a0000002", "sg-a0000003")
    first = plan(snap, *refs, tags={"team": "blue"})
    assert first.changed and not first.failed
    after, ids = converge(snap, first)
    second = plan(after, *refs, tags={"team": "blue"})
    assert not second.changed, [(p.source_ref, p.rules, p.mirror_tags, p.source_tags) for p in second.pairs if p.changed]
    assert all(p.create is None for p in second.pairs)
    # egress of the VPC source was mirrored, the Classic ones kept the default allow-all
    assert mirror_rules_after(after, "sg-a0000002", EGRESS) == rules(cidr(443, "0.0.0.0/0", direction=EGRESS))
    assert mirror_rules_after(after, "sg-a0000001", EGRESS) == rules(ALLOW_ALL_EGRESS)
    web_mirror_rules = mirror_rules_after(after, "sg-a0000001")
    assert ref(8080, ids[placeholder("sg-a0000002")]) in web_mirror_rules
    assert ref(80, ids[placeholder("sg-a0000001")]) in web_mirror_rules


def test_vpc_id_option_writes_the_link_tag_on_the_source():
    src = source("sg-a0000001", "web", vpc=None, rules=rules(SSH))
    snap = snapshot(src)
    result = plan(snap, "sg-a0000001", vpc_id=VPC1)
    pair = only_pair(result)
    assert pair.vpc_id == VPC1 and pair.create.vpc_id == VPC1
    assert pair.source_tags.set == {LINK: VPC1, TO: placeholder("sg-a0000001")}
    after, _ids = converge(snap, result)
    assert not plan(after, "sg-a0000001", vpc_id=VPC1).changed
    assert not plan(after, "sg-a0000001").changed  # the tag now says the same


def test_vpc_id_option_rewrites_the_spelling_already_present():
    src = source("sg-a0000001", "web", vpc=None, tags={GUIDE_LINK: VPC2})
    pair = only_pair(plan(snapshot(src), "sg-a0000001", vpc_id=VPC1))
    assert pair.source_tags.set.get(GUIDE_LINK) == VPC1 and LINK not in pair.source_tags.set


@pytest.mark.parametrize("tags, purge, expected_set, expected_unset", [
    ({"team": "blue"}, True, {"team": "blue"}, ("old",)),
    ({"team": "blue"}, False, {"team": "blue"}, ()),
    (None, True, {}, ()),
])
def test_user_tags_on_an_existing_mirror(tags, purge, expected_set, expected_unset):
    src = source("sg-a0000001", "web", tags={TO: "sg-b0000001"})
    mir = mirror("sg-b0000001", src, tags={"old": "1", "aws:cloudformation:stack-id": "x"})
    pair = only_pair(plan(snapshot(src, mir), "sg-a0000001", tags=tags, purge_tags=purge))
    assert pair.mirror_tags.set == expected_set
    assert pair.mirror_tags.unset == expected_unset
    assert pair.changed == bool(expected_set or expected_unset)


def test_user_tags_go_on_a_new_mirror_at_creation():
    pair = only_pair(plan(snapshot(source("sg-a0000001", "web")), "sg-a0000001", tags={"team": "blue"}))
    assert pair.create.tags == {FROM: "sg-a0000001", "team": "blue"}


def test_all_traffic_rule_kept_canonical_through_the_plan():
    everything = Rule(INGRESS, "-1", None, None, CIDR_IP, "10.0.0.0/8")
    pair = only_pair(plan(snapshot(source("sg-a0000001", "web", rules=rules(everything))), "sg-a0000001"))
    assert pair.rules[INGRESS].authorize == rules(everything)


# -- pruning orphan mirrors (prune=True) -------------------------------------------------------------

def _removals(result):
    return {gid: pair for pair in result.pairs if pair.removal for gid in pair.delete_ids + pair.untag_ids}


def test_orphans_are_left_alone_without_prune():
    orphan = mirror("sg-b0000001", source("sg-a0000001", "web"))  # its source is gone
    result = plan(snapshot(orphan))
    assert result.pairs == () and not result.changed


def test_prune_deletes_the_mirror_of_a_deleted_source():
    orphan = mirror("sg-b0000001", source("sg-a0000001", "web"))
    result = plan(snapshot(orphan), prune=True)
    removals = _removals(result)
    assert set(removals) == {"sg-b0000001"}
    assert removals["sg-b0000001"].orphan == "source_gone"
    assert removals["sg-b0000001"].delete_ids == ("sg-b0000001",)


def test_prune_deletes_the_mirror_of_an_untagged_source_and_untags_it():
    src = source("sg-a0000001", "web", vpc=None, tags={TO: "sg-b0000001"})
    snap = snapshot(src, mirror("sg-b0000001", src))
    result = plan(snap, prune=True)
    [pair] = result.pairs
    assert pair.orphan == "untagged" and pair.delete_ids == ("sg-b0000001",)
    assert pair.source_tags.unset == (TO,)
    after, _ids = converge(snap, result)
    assert "sg-b0000001" not in after.groups and TO not in after.groups["sg-a0000001"].tags
    assert not plan(after, prune=True).changed


def test_prune_after_retargeting_creates_the_new_mirror_and_deletes_the_old():
    src = source("sg-a0000001", "web", vpc=VPC2, rules=rules(SSH), tags={TO: "sg-b0000001"})
    old = mirror("sg-b0000001", src, vpc=VPC1, rules=rules(SSH, ALLOW_ALL_EGRESS))
    snap = snapshot(src, old)
    result = plan(snap, "sg-a0000001", prune=True)
    [pair] = [p for p in result.pairs if not p.removal]
    assert pair.create and pair.create.vpc_id == VPC2
    assert pair.source_tags.set == {TO: placeholder("sg-a0000001")}
    [removal] = [p for p in result.pairs if p.removal]
    assert removal.orphan == "retargeted" and removal.delete_ids == ("sg-b0000001",)
    assert removal.source_tags.empty  # the mirroredTo tag now names the new mirror
    after, ids = converge(snap, result)
    assert "sg-b0000001" not in after.groups
    assert after.groups["sg-a0000001"].tags[TO] == ids[placeholder("sg-a0000001")]
    assert not plan(after, "sg-a0000001", prune=True).changed


def test_prune_never_deletes_on_an_unreadable_link_tag():
    src = source("sg-a0000001", "web", vpc="vpc-typo", tags={TO: "sg-b0000001"})
    result = plan(snapshot(src, mirror("sg-b0000001", src)), prune=True)
    assert _removals(result) == {}


def test_prune_never_deletes_when_the_link_tag_names_a_vpc_that_does_not_exist():
    """A mistyped (well-formed) VPC id: the pair fails, and the working mirror must survive the run."""
    src = source("sg-a0000001", "web", vpc="vpc-99999999", rules=rules(SSH), tags={TO: "sg-b0000001"})
    snap = snapshot(src, mirror("sg-b0000001", src, rules=rules(SSH, ALLOW_ALL_EGRESS)))
    result = plan(snap, "sg-a0000001", prune=True)
    assert any(p.error and "vpc-99999999" in p.error for p in result.pairs)
    assert _removals(result) == {}


def test_prune_vpc_ids_limits_where_orphans_are_deleted():
    gone_a, gone_b = source("sg-a0000001", "a"), source("sg-a0000002", "b")
    snap = snapshot(mirror("sg-b0000001", gone_a, vpc=VPC1), mirror("sg-b0000002", gone_b, vpc=VPC2))
    assert set(_removals(plan(snap, prune=True, prune_vpc_ids=(VPC2,)))) == {"sg-b0000002"}


def test_prune_releases_an_orphan_default_group_instead_of_deleting_it():
    default = group("sg-d0000001", "default", vpc_id=VPC1, tags={FROM: "sg-a0000001"})
    [pair] = plan(snapshot(default), prune=True).pairs
    assert pair.delete_ids == () and pair.untag_ids == ("sg-d0000001",)
