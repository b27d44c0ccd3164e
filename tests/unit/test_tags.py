# -*- coding: utf-8 -*-
"""tags.py (link-tag reading, tag planning) and snapshot.group_from_description."""

from __future__ import annotations

import pytest

from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    CIDR_IP,
    EGRESS,
    GROUP,
    INGRESS,
    Rule,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.describe import group_from_description
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import (
    MIRRORED_FROM_TAG,
    MIRRORED_TO_TAG,
    plan_tags,
    read_link_tag,
)

from .builders import GUIDE_LINK, LINK, OTHER_ACCOUNT, OWNER, cidr, ref


@pytest.mark.parametrize("key", [LINK, GUIDE_LINK])
def test_both_link_tag_spellings_are_read(key):
    link = read_link_tag({key: "vpc-1a2b3c4d"})
    assert (link.vpc_id, link.error, link.present) == ("vpc-1a2b3c4d", None, True)


def test_untagged_group_declares_nothing():
    link = read_link_tag({"Name": "web"})
    assert (link.vpc_id, link.error, link.present) == (None, None, False)


def test_white_space_around_the_vpc_id_is_trimmed():
    assert read_link_tag({LINK: "  vpc-1a2b3c4d\n"}).vpc_id == "vpc-1a2b3c4d"


@pytest.mark.parametrize("vpc_id", ["vpc-1a2b3c4d", "vpc-0123456789abcdef0"])
def test_8_and_17_hex_digit_vpc_ids(vpc_id):
    assert read_link_tag({LINK: vpc_id}).vpc_id == vpc_id


def test_both_spellings_agreeing_is_fine():
    link = read_link_tag({LINK: "vpc-1a2b3c4d", GUIDE_LINK: " vpc-1a2b3c4d "})
    assert link.vpc_id == "vpc-1a2b3c4d" and link.error is None
    assert set(link.keys) == {LINK, GUIDE_LINK}


def test_both_spellings_disagreeing_is_an_error_naming_both():
    link = read_link_tag({LINK: "vpc-1a2b3c4d", GUIDE_LINK: "vpc-99999999"}, group="web (sg-12345678)")
    assert link.vpc_id is None
    assert link.error
    for text in (LINK, GUIDE_LINK, "vpc-1a2b3c4d", "vpc-99999999", "sg-12345678"):
        assert text in link.error


@pytest.mark.parametrize("value", ["vpc-123", "vpc-1a2b3c4g", "1a2b3c4d", "vpc-0123456789abcdef", "", "vpc-1a2b3c4d vpc-1a2b3c4d"])
def test_malformed_vpc_id_is_an_error(value):
    link = read_link_tag({LINK: value}, group="web (sg-12345678)")
    assert link.vpc_id is None
    assert link.error and "sg-12345678" in link.error and LINK in link.error


def test_link_tag_keys_are_configurable():
    assert read_link_tag({LINK: "vpc-1a2b3c4d"}, keys=("custom:vpc",)).present is False
    assert read_link_tag({"custom:vpc": "vpc-1a2b3c4d"}, keys=("custom:vpc",)).vpc_id == "vpc-1a2b3c4d"


# -- plan_tags ------------------------------------------------------------------

def test_plan_tags_sets_only_what_differs():
    change = plan_tags({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"})
    assert change.set == {"b": "3", "c": "4"} and change.unset == ()


def test_plan_tags_without_purge_removes_nothing():
    assert plan_tags({"a": "1", "x": "9"}, {"a": "1"}, purge=False).empty


def test_plan_tags_purge_spares_aws_keys_and_relationship_tags():
    current = {
        "a": "1", "stale": "x",
        "aws:cloudformation:stack-name": "s",
        MIRRORED_FROM_TAG: "sg-12345678", MIRRORED_TO_TAG: "sg-87654321",
    }
    change = plan_tags(current, {"a": "1"}, purge=True)
    assert change.set == {}
    assert change.unset == ("stale",)


# -- group_from_description --------------------------------------------------------

def test_group_from_description_flattens_both_directions():
    raw = {
        "GroupId": "sg-12345678", "GroupName": "web", "Description": "web servers",
        "OwnerId": OWNER, "VpcId": "vpc-1a2b3c4d",
        "Tags": [{"Key": LINK, "Value": "vpc-99999999"}, {"Key": "Name", "Value": "web"}],
        "IpPermissions": [
            {"IpProtocol": "6", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "10.9.9.9/8", "Description": "ssh"}],
             "UserIdGroupPairs": [{"GroupId": "sg-12345678"}, {"GroupId": "sg-0e1b0000", "UserId": OTHER_ACCOUNT}]},
        ],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    }
    group = group_from_description(raw)
    assert (group.id, group.name, group.description, group.vpc_id, group.owner_id) == (
        "sg-12345678", "web", "web servers", "vpc-1a2b3c4d", OWNER)
    assert group.tags == {LINK: "vpc-99999999", "Name": "web"}
    assert group.rules_error is None
    assert group.rules == {
        (cidr(22, "10.0.0.0/8")): "ssh",
        ref(22, "sg-12345678"): None,
        ref(22, "sg-0e1b0000", OTHER_ACCOUNT): None,
        Rule(EGRESS, "-1", None, None, CIDR_IP, "0.0.0.0/0"): None,
    }


def test_group_from_description_classic_group():
    group = group_from_description({"GroupId": "sg-12345678", "GroupName": "web", "OwnerId": OWNER,
                                    "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                                       "UserIdGroupPairs": [{"GroupId": "sg-843f59ed", "UserId": "amazon-elb",
                                                                             "GroupName": "amazon-elb-sg"}]}]})
    assert group.vpc_id is None and group.tags == {}
    assert group.rules == {Rule(INGRESS, "tcp", 80, 80, GROUP, "sg-843f59ed", "amazon-elb"): None}


def test_group_from_description_records_an_unreadable_rule():
    group = group_from_description({"GroupId": "sg-12345678", "GroupName": "web", "OwnerId": OWNER,
                                    "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 90, "ToPort": 80,
                                                       "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]})
    assert group.rules_error and "sg-12345678" in group.rules_error
