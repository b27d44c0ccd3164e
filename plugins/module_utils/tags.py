# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Tag keys and tag reading: the one place that knows how a pair is declared.

The user declares a pair by tagging the source group with the target VPC id.
The 2016 Lambda read ``classiclinkmirror:linkToVPC`` while its guide told users
to write ``classicmirror:linkToVPC``; both are accepted by default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple

LINK_TAG_KEYS = ("classiclinkmirror:linkToVPC", "classicmirror:linkToVPC")
MIRRORED_FROM_TAG = "classiclinkmirror:mirroredFromClassicSecurityGroupId"
MIRRORED_TO_TAG = "classiclinkmirror:mirroredToVpcSecurityGroupId"
RELATIONSHIP_TAGS = (MIRRORED_FROM_TAG, MIRRORED_TO_TAG)

VPC_ID_PATTERN = re.compile(r"^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
GROUP_ID_PATTERN = re.compile(r"^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$")


def is_vpc_id(value: str) -> bool:
    return bool(VPC_ID_PATTERN.match(value or ""))


def is_group_id(value: str) -> bool:
    return bool(GROUP_ID_PATTERN.match(value or ""))


@dataclass(frozen=True)
class LinkTag:
    """What a source's link tag(s) declare: a VPC id, nothing, or an error."""

    vpc_id: Optional[str] = None
    keys: Tuple[str, ...] = ()  # the link-tag keys present on the group
    error: Optional[str] = None

    @property
    def present(self) -> bool:
        return bool(self.keys)


def read_link_tag(tags: Mapping[str, str], keys: Sequence[str] = LINK_TAG_KEYS, group: str = "") -> LinkTag:
    """Read the target VPC from a source's tags; both spellings must agree."""
    present = tuple(key for key in keys if key in tags)
    if not present:
        return LinkTag()
    values = {key: tags[key].strip() for key in present}
    distinct = sorted(set(values.values()))
    if len(distinct) > 1:
        listed = ", ".join("%s=%s" % (key, values[key]) for key in present)
        return LinkTag(keys=present, error="security group %s has link tags naming different VPCs (%s); keep one tag, or make them agree" % (group, listed))
    vpc_id = distinct[0]
    if not is_vpc_id(vpc_id):
        return LinkTag(
            keys=present,
            error="security group %s: link tag %s=%r is not a VPC id (expected vpc- and 8 or 17 hex digits); fix the tag value"
            % (group, present[0], tags[present[0]]),
        )
    return LinkTag(vpc_id=vpc_id, keys=present)


@dataclass(frozen=True)
class TagChange:
    """Tags to set and keys to remove on one resource."""

    set: Dict[str, str]
    unset: Tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.set or self.unset)


NO_TAG_CHANGE = TagChange({})


def plan_tags(
    current: Mapping[str, str],
    wanted: Mapping[str, str],
    purge: bool = False,
    protected: Iterable[str] = RELATIONSHIP_TAGS,
) -> TagChange:
    """amazon.aws semantics: set what differs; with ``purge`` remove the rest, except
    ``aws:`` keys and ``protected`` keys.

    Not amazon.aws's ``compare_aws_tags`` on purpose: the planners import nothing from
    amazon.aws (a unit test runs them with it unimportable), and this adds the
    protected relationship tags. The AWS edge (describe, apply) uses amazon.aws's
    tag-list helpers."""
    to_set = {key: value for key, value in wanted.items() if current.get(key) != value}
    keep = set(protected)
    unset: Tuple[str, ...] = ()
    if purge:
        unset = tuple(sorted(key for key in current if key not in wanted and key not in keep and not key.startswith("aws:")))
    return TagChange(to_set, unset)
