# -*- coding: utf-8 -*-
"""targets.py: link-tag targets in other accounts and regions, ARNs, mirroredFrom/mirroredTo, roles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.classiclink.mirror.plugins.module_utils.tags import GROUP_ID_PATTERN, MIRRORED_TO_TAG, plan_tags
from ansible_collections.classiclink.mirror.plugins.module_utils.targets import (
    ACCEPTED_FORMS,
    MAX_RECORD_TAGS,
    TAG_VALUE_MAX,
    GroupLocation,
    MirrorRecord,
    Target,
    TargetScope,
    format_mirrored_to,
    group_arn,
    group_by_scope,
    mirrored_from_value,
    parse_group_arn,
    parse_targets,
    parse_vpc_arn,
    partition_for_region,
    plan_mirrored_to,
    read_mirrored_from,
    read_mirrored_to,
    read_targets,
    read_targets_option,
    record_key,
    record_keys,
    record_orphans,
    role_arn_for,
    vpc_arn,
)

LINK = "classiclinkmirror:linkToVPC"
GUIDE = "classicmirror:linkToVPC"
HOME = TargetScope("aws", "111122223333", "us-east-1")
WEST = TargetScope("aws", "111122223333", "eu-west-1")
OTHER = TargetScope("aws", "444455556666", "us-east-1")
VPC = "vpc-0123456789abcdef0"
VPC8 = "vpc-1a2b3c4d"
SG = "sg-0123456789abcdef0"
SG8 = "sg-1a2b3c4d"


def arn(scope, vpc_id=VPC):
    return "arn:%s:ec2:%s:%s:vpc/%s" % (scope.partition, scope.region, scope.account, vpc_id)


# -- parsing targets ---------------------------------------------------------------------


def test_a_bare_vpc_id_is_in_the_sources_account_and_region():
    assert parse_targets(VPC, HOME, "t") == ((Target("111122223333", "us-east-1", VPC),), None)


@pytest.mark.parametrize("vpc_id", [VPC, VPC8])
def test_both_vpc_id_lengths_are_accepted(vpc_id):
    targets, error = parse_targets(vpc_id, HOME, "t")
    assert error is None and targets[0].vpc_id == vpc_id


def test_a_vpc_arn_names_account_and_region():
    targets, error = parse_targets(arn(OTHER), HOME, "t")
    assert error is None
    assert targets == (Target("444455556666", "us-east-1", VPC),)
    assert targets[0].scope == OTHER


def test_several_targets_white_space_and_empty_entries():
    value = " %s ,\n%s,, %s ," % (VPC8, arn(WEST), arn(OTHER, VPC8))
    targets, error = parse_targets(value, HOME, "t")
    assert error is None
    assert [t.scope for t in targets] == [HOME, WEST, OTHER]
    assert [t.vpc_id for t in targets] == [VPC8, VPC, VPC8]


def test_duplicates_collapse_and_the_first_spelling_keeps_its_place():
    value = "%s,%s,%s,%s" % (arn(WEST), VPC, arn(HOME), arn(WEST))
    targets, error = parse_targets(value, HOME, "t")
    assert error is None
    assert targets == (Target("111122223333", "eu-west-1", VPC), Target("111122223333", "us-east-1", VPC))


@pytest.mark.parametrize("value", ["", "   ", ",", " , ,"])
def test_a_value_without_any_entry_is_an_error_not_untagged(value):
    targets, error = parse_targets(value, HOME, "link tag %s" % LINK)
    assert targets == ()
    assert LINK in error and "names no target" in error and ACCEPTED_FORMS in error


@pytest.mark.parametrize(
    "entry, why",
    [
        ("vpc-123", "8 or 17"),
        ("vpc-0123456789ABCDEF0", "8 or 17"),
        ("vpc-0123456789abcdef", "8 or 17"),
        ("subnet-1a2b3c4d", "neither a VPC id nor a VPC ARN"),
        ("sg-1a2b3c4d", "neither"),
        ("arn:aws:ec2:us-east-1:111122223333:vpc/vpc-123", "not a vpc id"),
        ("arn:aws:ec2:us-east-1:11112222333:vpc/" + VPC, "12 digits"),
        ("arn:aws:ec2:us-east-1:1111222233334:vpc/" + VPC, "12 digits"),
        ("arn:aws:ec2:us-east-1:abcdabcdabcd:vpc/" + VPC, "12 digits"),
        ("arn:aws:ec2:useast1:111122223333:vpc/" + VPC, "not a region name"),
        ("arn:aws:ec2::111122223333:vpc/" + VPC, "not a region name"),
        ("arn:aws:ec2:US-EAST-1:111122223333:vpc/" + VPC, "not a region name"),
        ("arn:aws:iam:us-east-1:111122223333:vpc/" + VPC, "service 'iam'"),
        ("arn:aws:ec2:us-east-1:111122223333:subnet/" + VPC, "vpc/<id>"),
        ("arn:aws:ec2:us-east-1:111122223333:" + VPC, "vpc/<id>"),
        ("arn:aws:ec2:us-east-1:111122223333:security-group/" + SG, "vpc/<id>"),
        ("arn:azure:ec2:us-east-1:111122223333:vpc/" + VPC, "partition 'azure'"),
        ("arn:aws-cn:ec2:us-east-1:111122223333:vpc/" + VPC, "not in partition aws-cn"),
        ("arn:aws:ec2:cn-north-1:111122223333:vpc/" + VPC, "not in partition aws"),
        ("arn:aws:ec2:us-east-1", "not an ARN"),
        ("arn:aws:ec2:us-east-1:111122223333:vpc/" + VPC + " extra", "not a vpc id"),
    ],
)
def test_a_malformed_entry_names_the_tag_the_entry_and_the_accepted_forms(entry, why):
    targets, error = parse_targets("%s,%s" % (VPC8, entry), HOME, "link tag %s" % LINK)
    assert targets == ()
    assert "link tag %s" % LINK in error
    assert repr(entry.strip()) in error
    assert why in error
    assert "vpc-0123456789abcdef0" in error and "arn:aws:ec2:us-east-1:111122223333:vpc/vpc-0123456789abcdef0" in error


def test_every_malformed_entry_is_named():
    _targets, error = parse_targets("vpc-x, %s, vpc-y" % VPC, HOME, "t")
    assert "'vpc-x'" in error and "'vpc-y'" in error and "entries" in error


@pytest.mark.parametrize(
    "region, partition",
    [("us-east-1", "aws"), ("eu-central-2", "aws"), ("ap-southeast-4", "aws"), ("il-central-1", "aws"),
     ("cn-north-1", "aws-cn"), ("cn-northwest-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("us-gov-east-1", "aws-us-gov")],
)
def test_partitions_are_read_and_kept(region, partition):
    assert partition_for_region(region) == partition
    source = TargetScope(partition, "111122223333", region)
    targets, error = parse_targets(arn(TargetScope(partition, "444455556666", region)), source, "t")
    assert error is None and targets[0].partition == partition
    assert targets[0].arn.startswith("arn:%s:ec2:%s:" % (partition, region))
    bare, error = parse_targets(VPC, source, "t")
    assert error is None and bare[0].scope == source


def test_a_target_in_another_partition_than_the_source_is_refused():
    _targets, error = parse_targets(arn(TargetScope("aws-cn", "444455556666", "cn-north-1")), HOME, "t")
    assert "partition aws-cn" in error and "source in aws" in error


# -- the link tag and the option ------------------------------------------------------------


def test_read_targets_untagged():
    read = read_targets({"Name": "web"}, HOME)
    assert (read.targets, read.keys, read.error, read.present) == ((), (), None, False)


@pytest.mark.parametrize("key", [LINK, GUIDE])
def test_read_targets_either_spelling(key):
    read = read_targets({key: "%s, %s" % (VPC, arn(OTHER))}, HOME)
    assert read.error is None and read.keys == (key,) and len(read.targets) == 2
    assert read.scopes == (HOME, OTHER)


def test_both_spellings_must_name_the_same_targets_in_any_order_or_spelling():
    tags = {LINK: "%s,%s" % (VPC, arn(OTHER)), GUIDE: "%s , %s" % (arn(OTHER), arn(HOME))}
    read = read_targets(tags, HOME, group=SG)
    assert read.error is None and read.keys == (LINK, GUIDE)
    disagree = read_targets({LINK: VPC, GUIDE: VPC8}, HOME, group=SG)
    assert disagree.targets == () and "different targets" in disagree.error and SG in disagree.error


def test_read_targets_reports_the_key_of_a_bad_value():
    read = read_targets({LINK: VPC, GUIDE: "vpc-nope"}, HOME, group=SG)
    assert read.present and read.targets == ()
    assert GUIDE in read.error and "'vpc-nope'" in read.error and SG in read.error and "fix the tag value" in read.error


def test_an_empty_link_tag_is_an_error_that_keeps_mirrors():
    read = read_targets({LINK: " "}, HOME)
    assert read.present and read.error and "names no target" in read.error


def test_the_targets_option():
    assert read_targets_option(None, HOME) is None
    read = read_targets_option([VPC, " %s " % arn(OTHER), "%s,%s" % (arn(WEST), VPC)], HOME)
    assert read.error is None and [t.scope for t in read.targets] == [HOME, OTHER, WEST]
    bad = read_targets_option([VPC, "arn:aws:ec2:us-east-1:1:vpc/" + VPC], HOME)
    assert bad.targets == () and "option targets" in bad.error and ACCEPTED_FORMS in bad.error
    empty = read_targets_option([], HOME)
    assert empty.present and "option targets" in empty.error and "names no target" in empty.error


def test_target_text_is_bare_at_home_and_an_arn_elsewhere():
    assert Target("111122223333", "us-east-1", VPC).text(HOME) == VPC
    assert Target("444455556666", "us-east-1", VPC).text(HOME) == arn(OTHER)


# -- ARNs -----------------------------------------------------------------------------------------


def test_group_and_vpc_arns():
    assert group_arn(OTHER, SG) == "arn:aws:ec2:us-east-1:444455556666:security-group/" + SG
    assert vpc_arn(WEST, VPC) == "arn:aws:ec2:eu-west-1:111122223333:vpc/" + VPC
    assert parse_group_arn(group_arn(OTHER, SG)) == (GroupLocation(OTHER, SG), None)
    assert parse_vpc_arn(vpc_arn(WEST, VPC8)) == (Target("111122223333", "eu-west-1", VPC8), None)
    assert parse_group_arn(vpc_arn(WEST, VPC))[0] is None
    assert parse_vpc_arn(group_arn(WEST, SG))[0] is None
    location = GroupLocation(OTHER, SG)
    assert (location.account, location.region, location.arn) == ("444455556666", "us-east-1", group_arn(OTHER, SG))


@pytest.mark.parametrize("value", ["", "sg-1a2b3c4d", "arn:aws:ec2:us-east-1:444455556666:security-group/sg-xyz",
                                   "arn:aws:ec2:us-east-1:444455556666:security-group/" + SG + "/x"])
def test_bad_group_arns(value):
    location, why = parse_group_arn(value)
    assert location is None and why


# -- mirroredFrom -------------------------------------------------------------------------------


def test_mirrored_from_is_bare_at_home_and_the_arn_elsewhere():
    source = GroupLocation(HOME, SG)
    assert mirrored_from_value(source, HOME) == SG
    assert mirrored_from_value(source, WEST) == group_arn(HOME, SG)
    assert mirrored_from_value(source, OTHER) == group_arn(HOME, SG)


def test_read_mirrored_from():
    assert read_mirrored_from(SG8, WEST) == GroupLocation(WEST, SG8)  # bare: the mirror's own scope
    assert read_mirrored_from(" %s " % group_arn(HOME, SG), WEST) == GroupLocation(HOME, SG)
    for value in (None, "", "sg-nope", "arn:aws:ec2:us-east-1:1:security-group/" + SG, vpc_arn(HOME, VPC)):
        assert read_mirrored_from(value, WEST) is None


# -- mirroredTo ----------------------------------------------------------------------------------


def test_the_old_single_id_form_reads_as_a_one_mirror_record():
    record = read_mirrored_to({MIRRORED_TO_TAG: SG8}, HOME)
    assert record == MirrorRecord((GroupLocation(HOME, SG8),), ())
    assert record.scopes == (HOME,)


def test_one_home_mirror_is_written_exactly_as_today():
    assert format_mirrored_to([GroupLocation(HOME, SG8)], HOME) == ({MIRRORED_TO_TAG: SG8}, None)


def test_no_mirror_no_tag():
    assert format_mirrored_to([], HOME) == ({}, None)
    assert read_mirrored_to({}, HOME) == MirrorRecord()


def test_several_mirrors_bare_first_then_arns_sorted():
    mirrors = [GroupLocation(OTHER, SG), GroupLocation(HOME, SG8), GroupLocation(WEST, SG)]
    tags, error = format_mirrored_to(mirrors, HOME)
    assert error is None
    assert tags == {MIRRORED_TO_TAG: ",".join([SG8, group_arn(WEST, SG), group_arn(OTHER, SG)])}
    assert read_mirrored_to(tags, HOME).mirrors == (GroupLocation(HOME, SG8), GroupLocation(WEST, SG), GroupLocation(OTHER, SG))


def _many(count):
    return [GroupLocation(TargetScope("aws", "%012d" % (100000000000 + index), "ap-southeast-2"), SG) for index in range(count)]


def test_a_long_record_continues_in_numbered_tags_of_at_most_256_characters():
    tags, error = format_mirrored_to(_many(10), HOME)
    assert error is None
    assert list(tags) == [record_key(index) for index in range(1, len(tags) + 1)]
    assert len(tags) > 1 and tags.get(MIRRORED_TO_TAG + ":2")
    assert all(len(value) <= TAG_VALUE_MAX for value in tags.values())
    assert all(len(key) <= 128 for key in tags)
    assert set(read_mirrored_to(tags, HOME).mirrors) == set(_many(10))


def test_too_many_mirrors_to_record_is_an_error():
    tags, error = format_mirrored_to(_many(3 * MAX_RECORD_TAGS + 10), HOME)
    assert tags == {} and "more than the %d allowed" % MAX_RECORD_TAGS in error
    change, error = plan_mirrored_to({}, _many(3 * MAX_RECORD_TAGS + 10), HOME)
    assert change.empty and error


def test_reading_takes_every_continuation_key_with_gaps_and_ignores_look_alikes():
    tags = {
        MIRRORED_TO_TAG + ":3": group_arn(OTHER, SG),
        MIRRORED_TO_TAG: SG8,
        MIRRORED_TO_TAG + ":1": "sg-11111111",  # not a continuation (index 1 is the base key)
        MIRRORED_TO_TAG + ":x": "sg-22222222",
        MIRRORED_TO_TAG + "2": "sg-33333333",
    }
    assert record_keys(tags) == (MIRRORED_TO_TAG, MIRRORED_TO_TAG + ":3")
    assert read_mirrored_to(tags, HOME).mirrors == (GroupLocation(HOME, SG8), GroupLocation(OTHER, SG))


def test_unreadable_entries_are_kept_aside():
    record = read_mirrored_to({MIRRORED_TO_TAG: "%s, junk,,%s" % (SG8, "arn:aws:ec2:x")}, HOME)
    assert record.mirrors == (GroupLocation(HOME, SG8),)
    assert record.unreadable == ("junk", "arn:aws:ec2:x")


def test_plan_mirrored_to_converged_is_empty():
    mirrors = _many(10) + [GroupLocation(HOME, SG8)]
    tags, _error = format_mirrored_to(mirrors, HOME)
    change, error = plan_mirrored_to(dict(tags, Name="web"), list(reversed(mirrors)), HOME)
    assert error is None and change.empty


def test_plan_mirrored_to_leaves_an_equivalent_spelling_alone():
    current = {MIRRORED_TO_TAG: "%s , %s" % (group_arn(OTHER, SG), group_arn(HOME, SG8))}
    change, _error = plan_mirrored_to(current, [GroupLocation(HOME, SG8), GroupLocation(OTHER, SG)], HOME)
    assert change.empty


def test_plan_mirrored_to_shrinks_and_removes_stale_continuation_keys():
    current, _error = format_mirrored_to(_many(10), HOME)
    change, error = plan_mirrored_to(current, [GroupLocation(HOME, SG8)], HOME)
    assert error is None
    assert change.set == {MIRRORED_TO_TAG: SG8}
    assert set(change.unset) == set(current) - {MIRRORED_TO_TAG}


def test_plan_mirrored_to_removes_everything_when_no_mirror_is_left():
    current, _error = format_mirrored_to(_many(10), HOME)
    change, _error = plan_mirrored_to(dict(current, Name="x"), [], HOME)
    assert change.set == {} and set(change.unset) == set(current)


def test_plan_mirrored_to_rewrites_a_record_with_unreadable_entries():
    change, _error = plan_mirrored_to({MIRRORED_TO_TAG: SG8 + ",junk"}, [GroupLocation(HOME, SG8)], HOME)
    assert change.set == {MIRRORED_TO_TAG: SG8} and change.unset == ()


def test_purge_must_protect_the_continuation_keys():
    """The integration passes record_keys(...) as protected keys to plan_tags."""
    current, _error = format_mirrored_to(_many(10), HOME)
    change = plan_tags(current, {}, purge=True, protected=record_keys(current))
    assert change.unset == ()


# -- orphans from the record ------------------------------------------------------------------------


def test_a_mirror_in_a_scope_no_target_names_any_more_is_an_orphan():
    record = MirrorRecord((GroupLocation(HOME, SG8), GroupLocation(OTHER, SG)))
    targets = (Target("111122223333", "us-east-1", VPC),)
    assert record_orphans(record, targets) == (GroupLocation(OTHER, SG),)
    assert record_orphans(record, ()) == record.mirrors


def test_a_mirror_retargeted_within_its_scope_needs_its_vpc():
    home_mirror = GroupLocation(HOME, SG8)
    record = MirrorRecord((home_mirror,))
    targets = (Target("111122223333", "us-east-1", VPC),)
    assert record_orphans(record, targets) == ()  # VPC unknown: not reported
    assert record_orphans(record, targets, {home_mirror: VPC}) == ()
    assert record_orphans(record, targets, {home_mirror: VPC8}) == (home_mirror,)
    assert record_orphans(record, targets, {home_mirror: None}) == ()


def test_several_targets_in_one_scope():
    a, b = GroupLocation(WEST, SG), GroupLocation(WEST, SG8)
    targets = (Target("111122223333", "eu-west-1", VPC), Target("111122223333", "eu-west-1", VPC8))
    assert record_orphans(MirrorRecord((a, b)), targets, {a: VPC, b: VPC8}) == ()
    assert record_orphans(MirrorRecord((a, b)), targets[:1], {a: VPC, b: VPC8}) == (b,)


# -- scopes and roles ----------------------------------------------------------------------------------


def test_group_by_scope_sorts_scopes_and_keeps_item_order():
    items = [("a", WEST), ("b", HOME), ("c", WEST), ("d", OTHER)]
    grouped = group_by_scope(items, lambda item: item[1])
    assert list(grouped) == sorted([WEST, HOME, OTHER])
    assert [name for name, _scope in grouped[WEST]] == ["a", "c"]
    assert group_by_scope([], lambda item: item) == {}
    assert TargetScope("aws", "444455556666", "eu-west-1").label == "account 444455556666, region eu-west-1"


def test_role_arn_for_replaces_the_account():
    assert role_arn_for("arn:aws:iam::{account}:role/Mirror", OTHER) == ("arn:aws:iam::444455556666:role/Mirror", None)
    assert role_arn_for("arn:aws:iam::{account}:role/path/to/Mirror", OTHER)[0] == "arn:aws:iam::444455556666:role/path/to/Mirror"
    assert role_arn_for("arn:aws:iam::444455556666:role/Fixed", OTHER) == ("arn:aws:iam::444455556666:role/Fixed", None)
    cn = TargetScope("aws-cn", "444455556666", "cn-north-1")
    assert role_arn_for("arn:aws-cn:iam::{account}:role/Mirror", cn)[0] == "arn:aws-cn:iam::444455556666:role/Mirror"


@pytest.mark.parametrize(
    "template, words",
    [
        (None, ["target_role_arn", "444455556666", "us-east-1"]),
        ("", ["target_role_arn", "444455556666"]),
        ("arn:aws:iam::{account}:user/Mirror", ["target_role_arn", "not an IAM role ARN", "444455556666"]),
        ("Mirror", ["target_role_arn", "not an IAM role ARN"]),
        ("arn:aws:iam::{account}:role/", ["not an IAM role ARN"]),
        ("arn:aws:iam::{account}:role/bad name", ["not an IAM role ARN"]),
        ("arn:aws:iam::111122223333:role/Fixed", ["target_role_arn", "account 111122223333", "444455556666", "{account}"]),
        ("arn:aws-cn:iam::{account}:role/Mirror", ["target_role_arn", "partition aws"]),
        ("arn:aws:iam::{account}{account}:role/Mirror", ["not an IAM role ARN"]),
    ],
)
def test_role_arn_for_errors_name_the_option(template, words):
    role, error = role_arn_for(template, OTHER)
    assert role is None
    for word in words:
        assert word in error


def test_role_templates_with_other_braces_are_left_alone():
    role, error = role_arn_for("arn:aws:iam::{account}:role/{x}", OTHER)
    assert role is None and "not an IAM role ARN" in error


# -- property-based round trips -------------------------------------------------------------------------

HEX = "0123456789abcdef"
accounts = st.text("0123456789", min_size=12, max_size=12)
regions = st.sampled_from(["us-east-1", "us-west-2", "eu-west-1", "eu-central-2", "ap-southeast-4", "sa-east-1", "il-central-1"])
scopes = st.builds(TargetScope, st.just("aws"), accounts, regions)
vpc_ids = st.one_of(st.text(HEX, min_size=8, max_size=8), st.text(HEX, min_size=17, max_size=17)).map(lambda h: "vpc-" + h)
group_ids = st.one_of(st.text(HEX, min_size=8, max_size=8), st.text(HEX, min_size=17, max_size=17)).map(lambda h: "sg-" + h)
locations = st.builds(GroupLocation, scopes, group_ids)


@given(source=scopes, targets=st.lists(st.builds(lambda scope, vpc_id: Target(scope.account, scope.region, vpc_id), scopes, vpc_ids), min_size=1, max_size=8),
       spaces=st.sampled_from(["", " ", "  ", "\t"]))
@settings(max_examples=150, deadline=None)
def test_targets_round_trip_through_their_tag_spelling(source, targets, spaces):
    value = ",".join(spaces + target.text(source) + spaces for target in targets)
    parsed, error = parse_targets(value, source, "t")
    assert error is None
    assert parsed == tuple(dict.fromkeys(targets))


@given(location=locations, mirror_scope=scopes)
@settings(max_examples=150, deadline=None)
def test_mirrored_from_round_trips(location, mirror_scope):
    assert read_mirrored_from(mirrored_from_value(location, mirror_scope), mirror_scope) == location
    assert parse_group_arn(location.arn) == (location, None)


@given(source=scopes, mirrors=st.lists(locations, max_size=70))
@settings(max_examples=100, deadline=None)
def test_mirrored_to_round_trips_and_converges(source, mirrors):
    tags, error = format_mirrored_to(mirrors, source)
    if error:
        assert len(set(mirrors)) > 3 * MAX_RECORD_TAGS
        return
    assert all(len(value) <= TAG_VALUE_MAX for value in tags.values())
    assert set(read_mirrored_to(tags, source).mirrors) == set(mirrors)
    change, error = plan_mirrored_to(tags, mirrors, source)
    assert error is None and change.empty
    for value in tags.values():
        for entry in value.split(","):
            assert GROUP_ID_PATTERN.match(entry) or entry.startswith("arn:aws:ec2:")


@given(source=scopes, before=st.lists(locations, max_size=30), after=st.lists(locations, max_size=30))
@settings(max_examples=100, deadline=None)
def test_plan_mirrored_to_applied_gives_the_wanted_record(source, before, after):
    current, _error = format_mirrored_to(before, source)
    current = dict(current, Name="keep")
    change, error = plan_mirrored_to(current, after, source)
    assert error is None
    applied = {key: value for key, value in current.items() if key not in change.unset}
    applied.update(change.set)
    assert set(read_mirrored_to(applied, source).mirrors) == set(after)
    assert applied["Name"] == "keep"
    assert plan_mirrored_to(applied, after, source)[0].empty
