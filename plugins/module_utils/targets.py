# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Targets in other accounts and regions, several per source, and the tags that record them. Pure.

Where a mirror goes (issue 11)
------------------------------
A source's link tag (or the ``targets`` option, which overrides it) names one or
more targets, separated by commas. Each entry is

* a VPC id, ``vpc-0123456789abcdef0``: a VPC in the source's own account and
  region (what the tag always meant), or
* a VPC ARN, ``arn:aws:ec2:us-east-1:111122223333:vpc/vpc-0123456789abcdef0``:
  a VPC in that account and region. The partition is ``aws``, ``aws-cn`` or
  ``aws-us-gov`` and must fit the region (``cn-*`` regions are ``aws-cn``,
  ``us-gov-*`` regions ``aws-us-gov``, every other region ``aws``); a target is
  in the source's partition (no role reaches across partitions).

White space around entries is ignored, and so are empty entries (a trailing or
doubled comma is harmless), but a value with no entry at all is an error, not
"untagged": a link tag emptied by mistake must never turn mirrors into orphans
that ``prune`` deletes. Entries naming the same VPC (a bare id and the ARN of
the same VPC, or a repeated entry) collapse into one target; the first
spelling's position gives the order. A malformed entry fails the source with a
message naming the tag key, the entry and the accepted forms.

Which scope a mirror is in
--------------------------
A :class:`TargetScope` is (partition, account, region): one EC2 client, one
describe, one role. :func:`group_by_scope` groups work by it.

mirroredFrom (on a mirror)
--------------------------
The source's bare group id when the mirror is in the source's own scope (as
today), else the source's group ARN
``arn:aws:ec2:REGION:ACCOUNT:security-group/sg-...``. Read back with
:func:`read_mirrored_from`: a bare id means "in the mirror's own scope".

mirroredTo (on a source): the record of its mirrors
---------------------------------------------------
The source records every mirror it has, in every scope, so that a mirror whose
target was removed from the link tag is still found (and pruned) even when no
tag names that region or account any more.

* The value is the mirrors' locations separated by commas, sorted (so a
  converged run rewrites nothing): the bare group id for a mirror in the
  source's own scope, the group ARN for a mirror elsewhere. One same-scope
  mirror reads exactly as today (``sg-...``): the old single-id form is simply
  a one-entry record, and :func:`read_mirrored_to` reads both.
* EC2 tag values hold at most 256 characters (about 3 ARNs or 12 bare ids). A
  record that does not fit continues in ``<key>:2``, ``<key>:3``, ... (each
  value a comma-separated list of whole entries, packed in sorted order).
  Reading takes the union of the base key and every ``<key>:N`` key present,
  in any order and with gaps, so a record is never misread by a partial write;
  writing (:func:`plan_mirrored_to`) sets the chunks that differ and removes
  the continuation keys no longer needed, in one CreateTags and one DeleteTags.
  At most :data:`MAX_RECORD_TAGS` tags are used (20, i.e. at least 60 mirrors
  in other scopes); a record that needs more is an error, reported before any
  call. The continuation keys are relationship tags like the base key:
  ``purge_tags`` must never remove them (:func:`record_keys`).
* Entries that cannot be read are kept aside (:class:`MirrorRecord.unreadable`)
  and never deleted from the tag by reading alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.classiclink.mirror.plugins.module_utils.tags import (
    LINK_TAG_KEYS,
    MIRRORED_TO_TAG,
    TagChange,
    is_group_id,
    is_vpc_id,
)

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
DEFAULT_PARTITION = "aws"
ACCOUNT_PATTERN = re.compile(r"^[0-9]{12}$")
# us-east-1, eu-central-2, ap-southeast-4, il-central-1, cn-north-1, us-gov-west-1
REGION_PATTERN = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-[0-9]{1,2}$")
ARN_PATTERN = re.compile(r"^arn:([^:]*):([^:]*):([^:]*):([^:]*):(.*)$")
# IAM role ARN: arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME
ROLE_ARN_PATTERN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):role/(?:[\x21-\x7e]{0,510}/)?[A-Za-z0-9+=,.@_-]{1,64}$")
ACCOUNT_PLACEHOLDER = "{account}"

TAG_VALUE_MAX = 256  # EC2: tag values hold at most 256 characters
MAX_RECORD_TAGS = 20  # mirroredTo plus at most 19 continuation tags (EC2 allows 50 tags per resource)
RECORD_SEPARATOR = ","

ACCEPTED_FORMS = "a VPC id (vpc-0123456789abcdef0) or a VPC ARN (arn:aws:ec2:us-east-1:111122223333:vpc/vpc-0123456789abcdef0)"
TARGETS_OPTION = "targets"
ROLE_OPTION = "target_role_arn"


@dataclass(frozen=True, order=True)
class TargetScope:
    """Where a call lands: one partition, account and region (one client, one describe)."""

    partition: str
    account: str
    region: str

    @property
    def label(self) -> str:
        """For messages and ``--diff``: 'account 111122223333, region eu-west-1'."""
        return "account %s, region %s" % (self.account, self.region)


@dataclass(frozen=True)
class Target:
    """One VPC a source is mirrored into."""

    account: str
    region: str
    vpc_id: str
    partition: str = DEFAULT_PARTITION

    @property
    def scope(self) -> TargetScope:
        return TargetScope(self.partition, self.account, self.region)

    @property
    def arn(self) -> str:
        return vpc_arn(self.scope, self.vpc_id)

    def text(self, source: TargetScope) -> str:
        """How the target is written: its bare id in the source's scope, else its ARN."""
        return self.vpc_id if self.scope == source else self.arn


@dataclass(frozen=True, order=True)
class GroupLocation:
    """A security group anywhere: its scope and id (a mirror, a source, an orphan)."""

    scope: TargetScope
    group_id: str

    @property
    def account(self) -> str:
        return self.scope.account

    @property
    def region(self) -> str:
        return self.scope.region

    @property
    def arn(self) -> str:
        return group_arn(self.scope, self.group_id)

    def text(self, relative_to: TargetScope) -> str:
        """The bare id in ``relative_to``'s scope, else the ARN (the tags' spelling)."""
        return self.group_id if self.scope == relative_to else self.arn


@dataclass(frozen=True)
class Targets:
    """What a link tag or the ``targets`` option declares: targets, nothing, or an error."""

    targets: Tuple[Target, ...] = ()
    keys: Tuple[str, ...] = ()  # the link-tag keys present (empty for the option)
    error: Optional[str] = None

    @property
    def present(self) -> bool:
        return bool(self.keys) or bool(self.targets) or self.error is not None

    @property
    def scopes(self) -> Tuple[TargetScope, ...]:
        return tuple(sorted(set(target.scope for target in self.targets)))


# -- ARNs ------------------------------------------------------------------------


def partition_for_region(region: str) -> str:
    """The partition a region belongs to (by its name)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return DEFAULT_PARTITION


def is_account(value: str) -> bool:
    return bool(ACCOUNT_PATTERN.match(value or ""))


def is_region(value: str) -> bool:
    return bool(REGION_PATTERN.match(value or ""))


def vpc_arn(scope: TargetScope, vpc_id: str) -> str:
    return "arn:%s:ec2:%s:%s:vpc/%s" % (scope.partition, scope.region, scope.account, vpc_id)


def group_arn(scope: TargetScope, group_id: str) -> str:
    return "arn:%s:ec2:%s:%s:security-group/%s" % (scope.partition, scope.region, scope.account, group_id)


def _parse_ec2_arn(value: str, resource_type: str, id_check: Callable[[str], bool]) -> Tuple[Optional[Tuple[TargetScope, str]], Optional[str]]:
    """(scope, resource id), or why ``value`` is not an ARN of that EC2 resource type."""
    match = ARN_PATTERN.match(value)
    if not match:
        return None, "it is not an ARN"
    partition, service, region, account, resource = match.groups()
    if partition not in PARTITIONS:
        return None, "partition %r is not one of %s" % (partition, ", ".join(PARTITIONS))
    if service != "ec2":
        return None, "service %r is not ec2" % service
    if not is_region(region):
        return None, "region %r is not a region name" % region
    if partition_for_region(region) != partition:
        return None, "region %s is not in partition %s" % (region, partition)
    if not is_account(account):
        return None, "account %r is not 12 digits" % account
    prefix = resource_type + "/"
    if not resource.startswith(prefix):
        return None, "resource %r is not %s<id>" % (resource, prefix)
    resource_id = resource[len(prefix):]
    if not id_check(resource_id):
        return None, "%r is not a %s id" % (resource_id, resource_type)
    return (TargetScope(partition, account, region), resource_id), None


def parse_vpc_arn(value: str) -> Tuple[Optional[Target], Optional[str]]:
    """A VPC ARN -> (Target, None), or (None, why not)."""
    parsed, why = _parse_ec2_arn(value, "vpc", is_vpc_id)
    if parsed is None:
        return None, why
    scope, vpc_id = parsed
    return Target(scope.account, scope.region, vpc_id, scope.partition), None


def parse_group_arn(value: str) -> Tuple[Optional[GroupLocation], Optional[str]]:
    """A security-group ARN -> (GroupLocation, None), or (None, why not)."""
    parsed, why = _parse_ec2_arn(value, "security-group", is_group_id)
    if parsed is None:
        return None, why
    return GroupLocation(*parsed), None


# -- targets: the link tag and the option -----------------------------------------


def parse_target(entry: str, source: TargetScope) -> Tuple[Optional[Target], Optional[str]]:
    """One entry (already stripped) -> (Target, None), or (None, why it is not a target)."""
    if entry.startswith("arn:"):
        target, why = parse_vpc_arn(entry)
        if target is not None and target.partition != source.partition:
            return None, "it is in partition %s, the source in %s" % (target.partition, source.partition)
        return target, why
    if is_vpc_id(entry):
        return Target(source.account, source.region, entry, source.partition), None
    if entry.startswith("vpc-"):
        return None, "a VPC id is vpc- and 8 or 17 lower-case hex digits"
    return None, "it is neither a VPC id nor a VPC ARN"


def parse_targets(value: str, source: TargetScope, where: str) -> Tuple[Tuple[Target, ...], Optional[str]]:
    """A comma-separated value -> (targets, error). ``where`` names the tag or option in messages."""
    return _parse_entries((entry.strip() for entry in (value or "").split(",")), source, where, value)


def _parse_entries(entries: Iterable[str], source: TargetScope, where: str, raw: object) -> Tuple[Tuple[Target, ...], Optional[str]]:
    targets: List[Target] = []
    problems: List[str] = []
    for entry in entries:
        if not entry:
            continue
        target, why = parse_target(entry, source)
        if target is None:
            problems.append("%r (%s)" % (entry, why))
        elif target not in targets:
            targets.append(target)
    if problems:
        noun = "entry" if len(problems) == 1 else "entries"
        return (), "%s: %s %s %s not a target; the accepted forms are %s" % (
            where, noun, ", ".join(problems), "is" if len(problems) == 1 else "are", ACCEPTED_FORMS)
    if not targets:
        return (), "%s=%r names no target; the accepted forms are %s, several separated by commas" % (where, raw, ACCEPTED_FORMS)
    return tuple(targets), None


def read_targets(tags: Mapping[str, str], source: TargetScope, keys: Sequence[str] = LINK_TAG_KEYS, group: str = "") -> Targets:
    """The targets a source's link tag(s) declare; both spellings, when present, must agree
    (as sets of targets, so order and spelling - id or ARN - do not matter)."""
    present = tuple(key for key in keys if key in tags)
    if not present:
        return Targets()
    prefix = "security group %s: " % group if group else ""
    parsed = {}
    for key in present:
        targets, error = parse_targets(tags[key], source, "link tag %s" % key)
        if error:
            return Targets(keys=present, error=prefix + error + "; fix the tag value")
        parsed[key] = targets
    if len(set(frozenset(targets) for targets in parsed.values())) > 1:
        listed = ", ".join("%s=%s" % (key, tags[key]) for key in present)
        return Targets(keys=present, error="%slink tags name different targets (%s); keep one tag, or make them agree" % (prefix, listed))
    return Targets(targets=parsed[present[0]], keys=present)


def read_targets_option(values: Optional[Sequence[str]], source: TargetScope) -> Optional[Targets]:
    """The ``targets`` option (a list; an item may itself hold comma-separated entries).

    None when the option is not given (the link tag decides); it overrides the tag otherwise."""
    if values is None:
        return None
    entries = [entry.strip() for value in values for entry in str(value).split(",")]
    targets, error = _parse_entries(entries, source, "option %s" % TARGETS_OPTION, list(values))
    return Targets(targets=targets, error=error)


def group_by_scope(items: Iterable, scope_of: Callable) -> Dict[TargetScope, Tuple]:
    """Items grouped by ``scope_of(item)``, scopes sorted, items in their given order."""
    grouped: Dict[TargetScope, list] = {}
    for item in items:
        grouped.setdefault(scope_of(item), []).append(item)
    return {scope: tuple(grouped[scope]) for scope in sorted(grouped)}


# -- the role for another account ---------------------------------------------------


def role_arn_for(template: Optional[str], scope: TargetScope) -> Tuple[Optional[str], Optional[str]]:
    """``target_role_arn`` with ``{account}`` replaced -> (role ARN, None), or (None, why not).

    The role must be an IAM role ARN in the target's own account and partition
    (credentials of an assumed role act in the role's account)."""
    if not template:
        return None, ("the target VPC is in account %s (region %s), another account than the source's: "
                      "set %s (for example arn:%s:iam::{account}:role/ClassicLinkMirror)") % (scope.account, scope.region, ROLE_OPTION, scope.partition)
    arn = template.replace(ACCOUNT_PLACEHOLDER, scope.account)
    match = ROLE_ARN_PATTERN.match(arn)
    if not match:
        return None, ("%s=%r gives %r for account %s, which is not an IAM role ARN "
                      "(arn:%s:iam::ACCOUNT:role/NAME; {account} is replaced by the target's account)") % (
            ROLE_OPTION, template, arn, scope.account, scope.partition)
    partition, account = match.groups()
    if account != scope.account or partition != scope.partition:
        return None, "%s=%r gives %r, a role of account %s, but the target VPC is in account %s (partition %s); write {account} for the account" % (
            ROLE_OPTION, template, arn, account, scope.account, scope.partition)
    return arn, None


# -- mirroredFrom ----------------------------------------------------------------------


def mirrored_from_value(source: GroupLocation, mirror_scope: TargetScope) -> str:
    """The mirroredFrom tag of a mirror in ``mirror_scope``: bare id at home, else the ARN."""
    return source.text(mirror_scope)


def read_mirrored_from(value: Optional[str], mirror_scope: TargetScope) -> Optional[GroupLocation]:
    """A mirror's mirroredFrom tag -> the source's location (None when absent or unreadable)."""
    value = (value or "").strip()
    if is_group_id(value):
        return GroupLocation(mirror_scope, value)
    location, _why = parse_group_arn(value)
    return location


# -- mirroredTo: the source's record of its mirrors ---------------------------------------


@dataclass(frozen=True)
class MirrorRecord:
    """The mirrors a source's mirroredTo tag(s) name."""

    mirrors: Tuple[GroupLocation, ...] = ()  # sorted, distinct
    unreadable: Tuple[str, ...] = ()  # entries that are neither a group id nor a group ARN

    @property
    def scopes(self) -> Tuple[TargetScope, ...]:
        """Every scope the record names: described for orphans even when no tag names them."""
        return tuple(sorted(set(mirror.scope for mirror in self.mirrors)))


def record_key(index: int, base: str = MIRRORED_TO_TAG) -> str:
    """The key of the record's ``index``-th tag (1: the base key, then ``<base>:2``, ...)."""
    return base if index == 1 else "%s:%d" % (base, index)


def record_keys(tags: Mapping[str, str], base: str = MIRRORED_TO_TAG) -> Tuple[str, ...]:
    """The record's keys present in ``tags`` (the base key and any ``<base>:N``), in index order."""
    pattern = re.compile(r"^%s(?::([0-9]+))?$" % re.escape(base))
    found = []
    for key in tags:
        match = pattern.match(key)
        if match and (match.group(1) is None or int(match.group(1)) >= 2):
            found.append((int(match.group(1) or 1), key))
    return tuple(key for _index, key in sorted(found))


def read_mirrored_to(tags: Mapping[str, str], source: TargetScope, base: str = MIRRORED_TO_TAG) -> MirrorRecord:
    """A source's record, from the base key and every continuation key present (the old
    single-id tag reads as a one-mirror record)."""
    mirrors = set()
    unreadable = []
    for key in record_keys(tags, base):
        for entry in tags[key].split(RECORD_SEPARATOR):
            entry = entry.strip()
            if not entry:
                continue
            location = read_mirrored_from(entry, source)
            if location is None:
                unreadable.append(entry)
            else:
                mirrors.add(location)
    return MirrorRecord(tuple(sorted(mirrors, key=_record_order(source))), tuple(unreadable))


def _record_order(source: TargetScope) -> Callable[[GroupLocation], Tuple]:
    # Same-scope (bare) ids first, then by scope and id: short entries pack the first tag.
    return lambda location: (location.scope != source, location.scope, location.group_id)


def format_mirrored_to(mirrors: Iterable[GroupLocation], source: TargetScope, base: str = MIRRORED_TO_TAG) -> Tuple[Dict[str, str], Optional[str]]:
    """The record's tags for ``mirrors`` -> ({key: value}, None), or ({}, why it cannot be written).

    Sorted entries packed greedily into values of at most 256 characters; no mirror, no tag."""
    chunks: List[str] = []
    for location in sorted(set(mirrors), key=_record_order(source)):
        entry = location.text(source)
        if chunks and len(chunks[-1]) + len(RECORD_SEPARATOR) + len(entry) <= TAG_VALUE_MAX:
            chunks[-1] = chunks[-1] + RECORD_SEPARATOR + entry
        else:
            chunks.append(entry)
    if len(chunks) > MAX_RECORD_TAGS:
        return {}, "the record of this source's mirrors needs %d tags (%s, %s:2, ...), more than the %d allowed; mirror it into fewer targets" % (
            len(chunks), base, base, MAX_RECORD_TAGS)
    return {record_key(index + 1, base): chunk for index, chunk in enumerate(chunks)}, None


def plan_mirrored_to(current: Mapping[str, str], mirrors: Iterable[GroupLocation], source: TargetScope,
                     base: str = MIRRORED_TO_TAG) -> Tuple[TagChange, Optional[str]]:
    """The tag change that makes a source's record name exactly ``mirrors``: set the chunks that
    differ, remove the record keys no longer needed. A converged record gives an empty change.

    Entries the current record could not read are dropped by a rewrite (the mirrors are
    known from the run itself); an unchanged record keeps them."""
    wanted, error = format_mirrored_to(mirrors, source, base)
    if error:
        return TagChange({}), error
    now = read_mirrored_to(current, source, base)
    if now.mirrors == read_mirrored_to(wanted, source, base).mirrors and not now.unreadable:
        return TagChange({}), None  # same mirrors, perhaps spelled or packed otherwise: leave it
    to_set = {key: value for key, value in wanted.items() if current.get(key) != value}
    unset = tuple(key for key in record_keys(current, base) if key not in wanted)
    return TagChange(to_set, unset), None


def record_orphans(record: MirrorRecord, targets: Sequence[Target],
                   mirror_vpcs: Optional[Mapping[GroupLocation, Optional[str]]] = None) -> Tuple[GroupLocation, ...]:
    """The recorded mirrors that no current target wants.

    A mirror in a scope that no target names any more is an orphan whatever its VPC
    (found without describing anything there). A mirror in a scope that still has
    targets is an orphan when ``mirror_vpcs`` (the mirrors' VPCs as described) puts it
    in a VPC no target names; when its VPC is not known (not described, or gone) it is
    not reported. Call this only with targets that were read without error: a typo in
    a tag must never delete a mirror.
    """
    wanted_vpcs: Dict[TargetScope, set] = {}
    for target in targets:
        wanted_vpcs.setdefault(target.scope, set()).add(target.vpc_id)
    orphans = []
    for mirror in record.mirrors:
        if mirror.scope not in wanted_vpcs:
            orphans.append(mirror)
            continue
        vpc_id = (mirror_vpcs or {}).get(mirror)
        if vpc_id is not None and vpc_id not in wanted_vpcs[mirror.scope]:
            orphans.append(mirror)
    return tuple(orphans)
