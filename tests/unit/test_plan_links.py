# -*- coding: utf-8 -*-
"""The pure link planner (plan_links.py): which link each instance should have, and why not."""

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.classiclink.mirror.plugins.module_utils.model import CODES, Instance, Link
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_links import (
    ERROR,
    LINKED,
    RELINKED,
    SKIPPED,
    UNCHANGED,
    UNLINKED,
    LinkOptions,
    plan_links,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import placeholder

from .builders import VPC1, VPC2, linked_snapshot, mirror, source

WEB = source("sg-a0000001", "web")
APP = source("sg-a0000002", "app")
OTHER = source("sg-a0000003", "other", vpc=VPC2)
WEB_M = mirror("sg-b0000001", WEB)
APP_M = mirror("sg-b0000002", APP)


def world(*instances, links=(), classiclink=True, groups=(WEB, APP, OTHER, WEB_M, APP_M)):
    return linked_snapshot(*groups, instances=instances, links=links, classiclink=classiclink)


def classic(iid, *group_ids, state="running", vpc_id=None):
    return Instance(iid, state, tuple(sorted(group_ids)), vpc_id)


def only(snap, **options):
    [item] = plan_links(snap, None, LinkOptions(**options)).instances
    return item


def test_a_member_is_linked_to_the_mirrors_of_all_its_managed_groups():
    item = only(world(classic("i-1", WEB.id, APP.id)))
    assert (item.action, item.vpc_id, item.groups, item.code) == (LINKED, VPC1, (WEB_M.id, APP_M.id), None)


def test_a_link_as_desired_is_unchanged_and_a_different_one_is_relinked():
    assert only(world(classic("i-1", WEB.id), links=[Link("i-1", VPC1, (WEB_M.id,))])).action == UNCHANGED
    item = only(world(classic("i-1", WEB.id, APP.id), links=[Link("i-1", VPC1, (WEB_M.id,))]))
    assert item.action == RELINKED and WEB_M.id in item.reason


@pytest.mark.parametrize("instance, action, code", [
    (classic("i-1", WEB.id, OTHER.id), SKIPPED, "vpc_conflict"),
    (classic("i-1", WEB.id, state="stopped"), SKIPPED, "not_running"),
    (classic("i-1", WEB.id, vpc_id=VPC2), SKIPPED, "not_classic"),
])
def test_instances_that_cannot_be_linked_are_skipped_with_a_code(instance, action, code):
    item = only(world(instance))
    assert (item.action, item.code) == (action, code) and item.reason and code in CODES


def test_a_missing_mirror_is_an_error_unless_check_mode_assumes_the_mirror_step():
    snap = world(classic("i-1", WEB.id), groups=(WEB, APP))
    assert (only(snap).action, only(snap).code) == (ERROR, "mirror_missing")
    assumed = only(snap, assume_planned=True)
    assert assumed.action == LINKED and assumed.groups == (placeholder(WEB.id),)


def test_classiclink_disabled_is_an_error_unless_enabling_is_asked():
    snap = world(classic("i-1", WEB.id), classiclink=False)
    assert only(snap).code == "classiclink_disabled"
    result = plan_links(snap, None, LinkOptions(enable_classiclink=True))
    assert result.enable_vpcs == (VPC1,) and result.instances[0].action == LINKED and result.changed


def test_more_than_five_mirrors_is_an_error():
    sources = [source("sg-a00000%02d" % i, "s%d" % i) for i in range(10, 16)]
    mirrors = [mirror("sg-b00000%02d" % i, s) for i, s in zip(range(10, 16), sources)]
    item = only(world(classic("i-1", *[s.id for s in sources]), groups=tuple(sources + mirrors)))
    assert (item.action, item.code) == (ERROR, "too_many_groups")


def test_a_stale_link_is_kept_without_prune_and_removed_with_it():
    stale = world(classic("i-1"), links=[Link("i-1", VPC1, (WEB_M.id,))])
    kept = only(stale)
    assert (kept.action, kept.code) == (UNCHANGED, "stale_link_kept")
    assert only(stale, prune=True).action == UNLINKED


def test_absent_unlinks_and_unknown_instances_fail():
    snap = world(classic("i-1", WEB.id), links=[Link("i-1", VPC1, (WEB_M.id,))])
    [item] = plan_links(snap, ["i-1"], LinkOptions(state="absent")).instances
    assert item.action == UNLINKED
    [missing] = plan_links(snap, ["i-9"], LinkOptions()).instances
    assert (missing.action, missing.code) == (ERROR, "not_found")


def test_explicit_groups_must_name_one_vpcs_groups():
    snap = world(classic("i-1"))
    [item] = plan_links(snap, ["i-1"], LinkOptions(groups=("nope",))).instances
    assert (item.action, item.code) == (ERROR, "bad_groups")
    [item] = plan_links(snap, ["i-1"], LinkOptions(groups=(WEB_M.id, APP_M.id))).instances
    assert (item.action, item.groups) == (LINKED, (WEB_M.id, APP_M.id))


def test_the_plan_is_immutable():
    result = plan_links(world(classic("i-1", WEB.id)), None, LinkOptions())
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.instances[0].action = ERROR  # type: ignore[misc]
