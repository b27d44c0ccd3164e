"""The generated IAM policies, call by call: what they must allow and what they must not.

Each row is an API call the collection makes (or an attacker holding the mirror's
credentials could make), written as the authorizations EC2 performs for it -- an
action on a resource with the request context IAM sees (``ec2:Vpc``,
``aws:ResourceTag/...``, ``aws:RequestTag/...``, ``aws:TagKeys``,
``ec2:CreateAction``) -- and the decision the policy must give. The rows are
judged by ``tests/security/iam_eval.py``, a test evaluator for the subset of IAM
the generator writes (it raises on anything else).

The rows cover every mutating EC2 action the code calls (tied to the code by
``code_operations``), the escalation of issue 14 (tag any group as a mirror, then
revoke, authorize or delete it), link tags on any group, the source's other tags,
groups outside the target VPCs, untagged groups, and the opt-in statements.
moto cannot check any of this (it evaluates no condition and no resource ARN for
EC2, see docs/iam.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence

import pytest

from tests.security.iam_eval import Call, Request, Unsupported, condition_holds, decide, evaluate, explain
from tests.security.test_least_privilege import POLICY_PATH, code_operations
from tools import iam_policy as gen

ACCOUNT, OTHER_ACCOUNT, REGION, WEST = "111122223333", "444455556666", "us-east-1", "us-west-2"
MF, MT = gen.MIRRORED_FROM_TAG, gen.MIRRORED_TO_TAG
LINK, GUIDE_LINK = gen.LINK_TAG_KEYS

TARGET = "vpc-0a1b2c3d4e5f67890"  # the example's target VPC (tools/iam_policy.py EXAMPLE_ARGS)
DEFAULT_GROUP = "sg-0f1e2d3c4b5a69788"  # ... and its default group
OTHER_VPC = "vpc-0bbbbbbbbbbbbbbbb"  # same account and region, not a target
LEGACY_VPC = "vpc-0cccccccccccccccc"  # holds VPC sources
WEST_TARGET = "vpc-0dddddddddddddddd"  # cross-region target (same account)
X_TARGET = "vpc-0123456789abcdef0"  # cross-account target
X_OTHER_VPC = "vpc-0eeeeeeeeeeeeeeee"  # in the other account, not a target
INSTANCE = "i-0123456789abcdef0"


def vpc_arn(vpc_id: str, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:ec2:{region}:{account}:vpc/{vpc_id}"


@dataclass(frozen=True)
class Group:
    id: str
    vpc: Optional[str]  # None: an EC2-Classic group (no ec2:Vpc)
    tags: Dict[str, str] = field(default_factory=dict)
    account: str = ACCOUNT
    region: str = REGION

    @property
    def arn(self) -> str:
        return f"arn:aws:ec2:{self.region}:{self.account}:security-group/{self.id}"

    def context(self) -> dict:
        ctx = {f"aws:ResourceTag/{k}": v for k, v in self.tags.items()}
        ctx["ec2:SecurityGroupID"] = self.id
        if self.vpc:
            ctx["ec2:Vpc"] = vpc_arn(self.vpc, self.account, self.region)
        return ctx

    def tagged(self, **extra: str) -> "Group":
        return replace(self, tags={**self.tags, **extra})


def tags(**pairs: str) -> Dict[str, str]:
    """Tag dict from keyword names: mf, mt, link, guide_link are the collection's keys."""
    names = {"mf": MF, "mt": MT, "link": LINK, "guide_link": GUIDE_LINK}
    return {names.get(k, k): v for k, v in pairs.items()}


MIRROR = Group("sg-0aaaaaaaaaaaaaaa1", TARGET, tags(mf="sg-0c1a55100000000001"))
UNTAGGED_IN_TARGET = Group("sg-0aaaaaaaaaaaaaaa2", TARGET)  # a group the user made in the target VPC
DEFAULT_UNTAGGED = Group(DEFAULT_GROUP, TARGET)
DEFAULT_MIRROR = DEFAULT_UNTAGGED.tagged(**tags(mf="sg-0c1a55100000000000"))
OUTSIDE = Group("sg-0bbbbbbbbbbbbbbb1", OTHER_VPC)  # the victim of the escalation
OUTSIDE_TAGGED = OUTSIDE.tagged(**tags(mf="sg-0c1a55100000000001"))  # ... once someone wrote the mirror tag
SOURCE = Group("sg-0c1a55100000000001", None, tags(link=TARGET))  # EC2-Classic source
SOURCE_LINKED = SOURCE.tagged(**tags(mt=MIRROR.id))
VPC_SOURCE = Group("sg-0cccccccccccccccc1", LEGACY_VPC, tags(guide_link=TARGET))
BYSTANDER = Group("sg-0c1a55100000000009", None)  # any other Classic group
WEST_MIRROR = Group("sg-0ddddddddddddddd1", WEST_TARGET, tags(mf="sg-0c1a55100000000001"), region=WEST)
X_MIRROR = Group("sg-0eeeeeeeeeeeeeee1", X_TARGET, tags(mf=SOURCE.arn), OTHER_ACCOUNT, "eu-west-1")
X_OUTSIDE_TAGGED = Group("sg-0eeeeeeeeeeeeeee2", X_OTHER_VPC, tags(mf=SOURCE.arn), OTHER_ACCOUNT, "eu-west-1")
X_GROUP = Group("sg-0eeeeeeeeeeeeeee3", X_TARGET, {}, OTHER_ACCOUNT, "eu-west-1")

RULE_ACTIONS = gen.RULE_ACTIONS
ATTACH, DETACH, ENABLE = "ec2:AttachClassicLinkVpc", "ec2:DetachClassicLinkVpc", "ec2:EnableVpcClassicLink"


# --------------------------------------------------------------------------- calls as EC2 authorizes them


def on(group: Group, action: str) -> Call:
    return Call(f"{action} on {group.id}", (Request(action, group.arn, group.context()),))


def tag_request(group: Group, tagset: Dict[str, str], create_action: Optional[str] = None) -> Request:
    ctx = {**group.context(), "aws:TagKeys": list(tagset), **{f"aws:RequestTag/{k}": v for k, v in tagset.items()}}
    if create_action:
        ctx["ec2:CreateAction"] = create_action
    return Request("ec2:CreateTags", group.arn, ctx)


def create_tags(group: Group, tagset: Dict[str, str]) -> Call:
    return Call(f"CreateTags {sorted(tagset)} on {group.id}", (tag_request(group, tagset),))


def delete_tags(group: Group, keys: Optional[Sequence[str]]) -> Call:
    ctx = group.context()
    if keys is not None:  # Tags omitted: EC2 deletes every user tag, and the request names no key
        ctx["aws:TagKeys"] = list(keys)
    return Call(f"DeleteTags {keys} on {group.id}", (Request("ec2:DeleteTags", group.arn, ctx),))


def create_group(vpc_id: str, tagset: Dict[str, str], account: str = ACCOUNT, region: str = REGION) -> Call:
    """CreateSecurityGroup with TagSpecifications: the new group, the VPC, and CreateTags at creation."""
    new = Group("sg-0ffffffffffffffff", vpc_id, {}, account, region)
    request_tags = {f"aws:RequestTag/{k}": v for k, v in tagset.items()}
    group_ctx = {**request_tags, "aws:TagKeys": list(tagset)} if tagset else {}
    requests = [
        Request("ec2:CreateSecurityGroup", new.arn, group_ctx),
        Request("ec2:CreateSecurityGroup", vpc_arn(vpc_id, account, region), {"ec2:VpcID": vpc_id}),
    ]
    if tagset:
        requests.append(tag_request(new, tagset, "CreateSecurityGroup"))
    return Call(f"CreateSecurityGroup in {vpc_id} tagged {sorted(tagset)}", tuple(requests))


AO = gen.ADDRESSES_OF_TAG
LIST_ACTIONS = gen.ADDRESS_LIST_ACTIONS  # Modify, Delete, GetEntries


@dataclass(frozen=True)
class PrefixList:
    id: str
    tags: Dict[str, str] = field(default_factory=dict)
    account: str = ACCOUNT
    region: str = REGION

    @property
    def arn(self) -> str:
        return f"arn:aws:ec2:{self.region}:{self.account}:prefix-list/{self.id}"

    def context(self) -> dict:
        return {f"aws:ResourceTag/{k}": v for k, v in self.tags.items()}


ADDRESS_LIST = PrefixList("pl-0aaaaaaaaaaaaaaa1", {AO: SOURCE.arn})  # an address list of the example's scope
OFFICE_LIST = PrefixList("pl-0bbbbbbbbbbbbbbb1", {"Name": "office"})  # the user's own list
WEST_LIST = PrefixList("pl-0ccccccccccccccc1", {AO: SOURCE.arn}, region=WEST)  # a region with no target
X_LIST = PrefixList("pl-0eeeeeeeeeeeeeee1", {AO: SOURCE.arn}, OTHER_ACCOUNT, "eu-west-1")


def on_list(prefix_list: PrefixList, action: str) -> Call:
    return Call(f"{action} on {prefix_list.id}", (Request(action, prefix_list.arn, prefix_list.context()),))


def create_list(tagset: Dict[str, str], account: str = ACCOUNT, region: str = REGION) -> Call:
    """CreateManagedPrefixList with TagSpecifications: the new list, and CreateTags at creation."""
    new = PrefixList("pl-0fffffffffffffff1", {}, account, region)
    request_tags = {**{f"aws:RequestTag/{k}": v for k, v in tagset.items()}, "aws:TagKeys": list(tagset)} if tagset else {}
    requests = [Request("ec2:CreateManagedPrefixList", new.arn, request_tags)]
    if tagset:
        requests.append(Request("ec2:CreateTags", new.arn, {**request_tags, "ec2:CreateAction": "CreateManagedPrefixList"}))
    return Call(f"CreateManagedPrefixList in {account} {region} tagged {sorted(tagset)}", tuple(requests))


def tag_list(prefix_list: PrefixList, tagset: Dict[str, str]) -> Call:
    ctx = {**prefix_list.context(), "aws:TagKeys": list(tagset), **{f"aws:RequestTag/{k}": v for k, v in tagset.items()}}
    return Call(f"CreateTags {sorted(tagset)} on {prefix_list.id}", (Request("ec2:CreateTags", prefix_list.arn, ctx),))


def instance_arn(account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:ec2:{region}:{account}:instance/{INSTANCE}"


def attach(vpc_id: str, groups: Sequence[Group], region: str = REGION) -> Call:
    return Call(f"AttachClassicLinkVpc to {vpc_id} with {[g.id for g in groups]}", (
        Request(ATTACH, instance_arn(region=region), {"ec2:InstanceID": INSTANCE}),
        Request(ATTACH, vpc_arn(vpc_id, region=region), {"ec2:VpcID": vpc_id}),
        *(Request(ATTACH, g.arn, g.context()) for g in groups)))


def detach(vpc_id: str) -> Call:
    return Call(f"DetachClassicLinkVpc from {vpc_id}", (
        Request(DETACH, instance_arn(), {"ec2:InstanceID": INSTANCE}), Request(DETACH, vpc_arn(vpc_id), {"ec2:VpcID": vpc_id})))


def enable(vpc_id: str) -> Call:
    return Call(f"EnableVpcClassicLink {vpc_id}", (Request(ENABLE, vpc_arn(vpc_id), {"ec2:VpcID": vpc_id}),))


def describe(action: str) -> Call:
    return Call(action, (Request(action, "*", {}),))


def assume(account: str) -> Call:
    return Call(f"AssumeRole into {account}", (Request("sts:AssumeRole", f"arn:aws:iam::{account}:role/classiclink-mirror-target"),))


# --------------------------------------------------------------------------- the policies under test


def generated(*extra: str) -> Dict[str, dict]:
    args = gen.parser().parse_args([*gen.EXAMPLE_ARGS, *extra])
    return gen.policies(gen.deployment_from_args(args))


CROSS_ARGS = ("--target-vpc", vpc_arn(WEST_TARGET, region=WEST),
              "--target-vpc", vpc_arn(X_TARGET, OTHER_ACCOUNT, "eu-west-1"), "--external-id", "mirror-2024")
OPT_INS = ("--allow-adopt", "--allow-purge-tags", "--allow-link-tags")
WEST_ARN, X_ARN = vpc_arn(WEST_TARGET, region=WEST), vpc_arn(X_TARGET, OTHER_ACCOUNT, "eu-west-1")
# the targets option naming several targets writes them comma-joined, in the option's order (plan_groups.py)
LINK_LISTS = ("--allow-link-tags", "--link-tag-value", f"{TARGET},{WEST_ARN}", "--link-tag-value", f"{X_ARN},{TARGET},{WEST_ARN}")
MT2, MT20 = f"{MT}:2", f"{MT}:20"  # the record's continuation tags (targets.py record_key, MAX_RECORD_TAGS)
POLICIES = {
    "default": json.loads(POLICY_PATH.read_text()),  # the checked-in example (equal to the generator's, tested below)
    "opt-ins": generated(*OPT_INS)["source-policy.json"],
    "cross": generated(*CROSS_ARGS)["source-policy.json"],
    "cross-target": generated(*CROSS_ARGS)[f"target-policy-{OTHER_ACCOUNT}.json"],
    "link-lists": generated(*CROSS_ARGS, *LINK_LISTS)["source-policy.json"],
}


@dataclass(frozen=True)
class Case:
    policy: str
    call: Call
    allowed: bool
    why: str


def allow(policy: str, call: Call, why: str) -> Case:
    return Case(policy, call, True, why)


def deny(policy: str, call: Call, why: str) -> Case:
    return Case(policy, call, False, why)


CASES: List[Case] = [
    # ---- what every run does (default policy) ----
    *(allow("default", describe(a), "describes have no resource-level permissions") for a in gen.SOURCE_DESCRIBES),
    allow("default", create_group(TARGET, tags(mf=SOURCE.id)), "a mirror, tagged in the create call, in a target VPC"),
    allow("default", create_group(TARGET, tags(mf=SOURCE.id, team="web")), "... with the module's tags"),
    *(allow("default", on(MIRROR, a), "rules and deletion of a mirror in a target VPC") for a in RULE_ACTIONS),
    allow("default", create_tags(MIRROR, {"team": "web"}), "the module's tags on a mirror"),
    allow("default", create_tags(SOURCE, tags(mt=MIRROR.id)), "the source's mirroredTo tag (Classic source)"),
    allow("default", create_tags(VPC_SOURCE, tags(mt=MIRROR.id)), "the source's mirroredTo tag (VPC source)"),
    allow("default", delete_tags(SOURCE_LINKED, [MT]), "state: absent / prune remove the source's mirroredTo tag"),
    allow("default", create_tags(DEFAULT_UNTAGGED, tags(mf="sg-0c1a55100000000000")), "a source named default maps onto the listed default group"),
    allow("default", on(DEFAULT_MIRROR, "ec2:AuthorizeSecurityGroupIngress"), "the adopted default group is a mirror"),
    allow("default", delete_tags(DEFAULT_MIRROR, [MF]), "releasing the listed default group (state: absent, prune)"),
    allow("default", attach(TARGET, [MIRROR, DEFAULT_MIRROR]), "link an instance to the mirrors of its groups"),
    allow("default", detach(TARGET), "relink, stale link"),
    allow("default", enable(TARGET), "enable_classiclink on a target VPC"),
    # ---- the escalation of issue 14: write the mirror tag on any group, then own it ----
    deny("default", create_tags(OUTSIDE, tags(mf="sg-0c1a55100000000001")), "step 1: the mirror tag on a group outside the target VPCs"),
    deny("default", create_tags(BYSTANDER, tags(mf="sg-0c1a55100000000001")), "step 1: the mirror tag on a Classic group"),
    deny("default", create_tags(UNTAGGED_IN_TARGET, tags(mf=SOURCE.id)), "step 1: adopting a non-default group needs --allow-adopt"),
    deny("default", create_tags(MIRROR, tags(mf=VPC_SOURCE.id)), "re-pointing a mirror to another source"),
    deny("default", create_tags(DEFAULT_MIRROR, tags(mf=VPC_SOURCE.id)), "re-adopting a default group that is already a mirror"),
    *(deny("default", on(OUTSIDE_TAGGED, a), "step 2: a group outside the target VPCs, even with the mirror tag") for a in RULE_ACTIONS),
    deny("default", create_tags(OUTSIDE_TAGGED, {"team": "x"}), "tags on a mirror-tagged group outside the target VPCs"),
    deny("default", attach(TARGET, [OUTSIDE_TAGGED]), "linking to a mirror-tagged group outside the target VPCs"),
    # ---- untagged groups, sources ----
    *(deny("default", on(UNTAGGED_IN_TARGET, a), "an untagged group in a target VPC is never changed") for a in RULE_ACTIONS),
    *(deny("default", on(group, a), "a source is never changed") for group in (SOURCE, VPC_SOURCE)
      for a in ("ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup")),
    deny("default", create_tags(UNTAGGED_IN_TARGET, {"team": "x"}), "tags on an untagged group"),
    deny("default", attach(TARGET, [UNTAGGED_IN_TARGET]), "linking to a group that is not a mirror"),
    # ---- link tags on any group: the next run would mirror what the attacker chose ----
    *(deny("default", create_tags(group, {key: TARGET}), "link tags are written only with --allow-link-tags")
      for group in (BYSTANDER, OUTSIDE, MIRROR, VPC_SOURCE) for key in (LINK, GUIDE_LINK)),
    deny("default", create_tags(SOURCE, tags(mt=MIRROR.id, link=TARGET)), "vpc_id's link tag needs --allow-link-tags"),
    deny("default", create_group(TARGET, tags(mf=SOURCE.id, link=OTHER_VPC)), "a mirror created as a source"),
    allow("default", create_tags(BYSTANDER, tags(mt=MIRROR.id)),
          "DOCUMENTED LIMIT: IAM cannot tell a source from another group; mirroredTo only records, the code reads it only to remove it"),
    # ---- the record of several mirrors: mirroredTo and its continuations mirroredTo:2 ... :20 ----
    allow("default", create_tags(SOURCE, {MT: MIRROR.id, MT2: X_MIRROR.arn}), "a record spanning the base key and a continuation"),
    allow("default", create_tags(SOURCE_LINKED, {MT20: X_MIRROR.arn}), "the last continuation alone (only the chunk that changed)"),
    allow("default", delete_tags(SOURCE_LINKED.tagged(**{MT2: X_MIRROR.arn}), [MT2]), "a shorter record drops its continuation"),
    allow("default", delete_tags(SOURCE_LINKED.tagged(**{MT2: X_MIRROR.arn}), [MT, MT2]), "state: absent / prune drop the whole record"),
    deny("default", create_tags(SOURCE, {MT2: X_MIRROR.arn, "Name": "x"}), "a continuation with another key"),
    deny("default", create_tags(SOURCE, {f"{MT}2": X_MIRROR.arn}), "a key that only starts like the record's (no ':')"),
    deny("default", create_tags(SOURCE, {f"{MF}:2": X_MIRROR.arn}), "the mirror tag with a suffix is not the record"),
    deny("default", delete_tags(SOURCE_LINKED.tagged(**{MT2: X_MIRROR.arn}), [MT2, LINK]), "a continuation and the link tag"),
    deny("cross-target", create_tags(X_MIRROR, {MT2: SOURCE.arn}), "the record's continuation on a mirror (module tags exclude it)"),
    deny("default", create_group(TARGET, {MF: SOURCE.id, MT2: X_MIRROR.arn}), "... or in the create call"),
    # ---- a source's other tags ----
    deny("default", create_tags(SOURCE, tags(mt=MIRROR.id, Name="x")), "only the mirroredTo key on a source"),
    deny("default", create_tags(SOURCE, {"Name": "x"}), "any other key on a source"),
    deny("default", create_tags(SOURCE, tags(mf="sg-0c1a55100000000009")), "the mirror tag on a source"),
    deny("default", delete_tags(SOURCE_LINKED, [LINK]), "removing a source's link tag"),
    deny("default", delete_tags(SOURCE_LINKED, [MT, LINK]), "mirroredTo and another key"),
    deny("default", delete_tags(SOURCE_LINKED, None), "DeleteTags without keys removes every tag"),
    deny("default", delete_tags(SOURCE, [MT]), "a group that carries no mirroredTo tag"),
    # ---- where mirrors may be created ----
    deny("default", create_group(OTHER_VPC, tags(mf=SOURCE.id)), "a VPC that is not a target"),
    deny("default", create_group(TARGET, {}), "an untagged group"),
    deny("default", create_group(TARGET, {"team": "web"}), "a group without the mirror tag"),
    deny("default", create_group(TARGET, tags(mf=SOURCE.id), region=WEST), "the same VPC id in another region"),
    deny("default", create_group(X_TARGET, tags(mf=SOURCE.id), OTHER_ACCOUNT, "eu-west-1"), "another account"),
    # ---- DeleteTags: no ec2:Vpc key, so only what names its resources exactly is in the default policy ----
    deny("default", delete_tags(MIRROR, ["team"]), "purge_tags needs --allow-purge-tags"),
    deny("default", delete_tags(MIRROR, [MF]), "un-mirroring a group that is not a listed default group"),
    deny("default", delete_tags(DEFAULT_MIRROR, [MF, "team"]), "releasing removes the mirror tag only"),
    # ---- ClassicLink ----
    deny("default", attach(OTHER_VPC, []), "linking into a VPC that is not a target"),
    deny("default", detach(OTHER_VPC), "unlinking from a VPC that is not a target"),
    deny("default", enable(OTHER_VPC), "enabling ClassicLink elsewhere"),
    deny("default", assume(OTHER_ACCOUNT), "single-account policy: no role to assume"),
    # ---- address lists (references: addresses): prefix lists tagged addressesOf in the target scopes ----
    allow("default", create_list({AO: SOURCE.arn}), "an address list, tagged in the create call, in the target scope"),
    *(allow("default", on_list(ADDRESS_LIST, a), "keep an address list exact, read it, prune it") for a in LIST_ACTIONS),
    deny("default", create_list({}), "an untagged prefix list"),
    deny("default", create_list({AO: SOURCE.arn, "Name": "x"}), "only the addressesOf tag in the create call"),
    deny("default", create_list({AO: SOURCE.arn}, region=WEST), "a region with no target VPC"),
    deny("default", create_list({AO: SOURCE.arn}, OTHER_ACCOUNT, "eu-west-1"), "another account (its role's policy)"),
    *(deny("default", on_list(OFFICE_LIST, a), "the user's own prefix lists are never read, changed or deleted") for a in LIST_ACTIONS),
    *(deny("default", on_list(WEST_LIST, a), "address lists of a region with no target") for a in LIST_ACTIONS),
    deny("default", tag_list(OFFICE_LIST, {AO: SOURCE.arn}), "adopting the user's list as an address list (then changing it)"),
    # ---- opt-ins: what they add, and what they still refuse ----
    allow("opt-ins", create_tags(UNTAGGED_IN_TARGET, tags(mf=SOURCE.id)), "adopt: a same-name group of a target VPC"),
    deny("opt-ins", create_tags(OUTSIDE, tags(mf=SOURCE.id)), "adopt still stops at the target VPCs"),
    deny("opt-ins", create_tags(BYSTANDER, tags(mf=SOURCE.id)), "... and at Classic groups"),
    deny("opt-ins", create_tags(UNTAGGED_IN_TARGET, tags(mf=SOURCE.id, team="web")), "adopting with extra tags in one call (docs/iam.md)"),
    *(deny("opt-ins", on(OUTSIDE_TAGGED, a), "the escalation stays impossible with every opt-in") for a in RULE_ACTIONS),
    allow("opt-ins", delete_tags(MIRROR, ["team"]), "purge_tags on a mirror"),
    deny("opt-ins", delete_tags(MIRROR, [MF]), "purging never removes the mirror tag"),
    deny("opt-ins", delete_tags(MIRROR, None), "DeleteTags without keys"),
    deny("opt-ins", delete_tags(UNTAGGED_IN_TARGET, ["team"]), "purging only on mirror-tagged groups"),
    allow("opt-ins", delete_tags(OUTSIDE_TAGGED, ["team"]),
          "DOCUMENTED LIMIT: DeleteTags has no ec2:Vpc key, so purging reaches mirror-tagged groups outside the target VPCs"),
    allow("opt-ins", create_tags(SOURCE, tags(mt=MIRROR.id, link=TARGET)), "vpc_id: link tag naming a target VPC"),
    allow("opt-ins", create_tags(VPC_SOURCE, tags(guide_link=TARGET)), "either spelling"),
    allow("opt-ins", create_tags(BYSTANDER, tags(link=TARGET)),
          "DOCUMENTED LIMIT: with --allow-link-tags any source-account group can be declared a source of a target VPC"),
    deny("opt-ins", create_tags(SOURCE, tags(link=OTHER_VPC)), "a link tag naming a VPC that is not a target"),
    deny("opt-ins", create_tags(SOURCE, tags(link=TARGET, Name="x")), "a link tag with another key"),
    deny("opt-ins", create_tags(OUTSIDE, tags(mf=SOURCE.id, link=TARGET)), "the mirror tag with a link tag"),
    deny("opt-ins", create_tags(SOURCE, tags(link=f"{TARGET},{OTHER_VPC}")), "a comma-joined value with a VPC that is not a target"),
    deny("opt-ins", create_tags(SOURCE, tags(link=f"{TARGET},{TARGET}")), "several targets need --link-tag-value"),
    # ---- --link-tag-value: the targets option naming several targets (comma-joined, in the option's order) ----
    allow("link-lists", create_tags(SOURCE, tags(mt=MIRROR.id, link=f"{TARGET},{WEST_ARN}")), "targets: [TARGET, WEST_ARN]"),
    allow("link-lists", create_tags(SOURCE, {LINK: f"{X_ARN},{TARGET},{WEST_ARN}", GUIDE_LINK: f"{X_ARN},{TARGET},{WEST_ARN}"}),
          "a three-target list, both spellings"),
    allow("link-lists", create_tags(SOURCE, {LINK: f"{TARGET},{WEST_ARN}", MT: MIRROR.id, MT2: X_MIRROR.arn}),
          "the link tag with the record spanning a continuation"),
    *(allow("link-lists", create_tags(SOURCE, tags(link=value)), "each target alone (vpc_id) stays allowed")
      for value in (TARGET, WEST_ARN, X_ARN)),
    deny("link-lists", create_tags(SOURCE, tags(link=f"{WEST_ARN},{TARGET}")), "another order is another value: list it too"),
    deny("link-lists", create_tags(SOURCE, tags(link=f"{TARGET},{X_ARN}")), "a combination not listed"),
    deny("link-lists", create_tags(SOURCE, tags(link=f"{TARGET},{WEST_ARN},{OTHER_VPC}")), "a VPC that is not a target"),
    deny("link-lists", create_tags(SOURCE, tags(link=f"{TARGET},{WEST_ARN}", Name="x")), "another key"),
    # ---- several targets: another region of the source account, another account ----
    allow("cross", create_group(WEST_TARGET, tags(mf=SOURCE.arn), region=WEST), "a mirror in a same-account target in another region"),
    allow("cross", on(WEST_MIRROR, "ec2:RevokeSecurityGroupIngress"), "... managed there"),
    deny("cross", attach(WEST_TARGET, [WEST_MIRROR], region=WEST), "ClassicLink stays in the source's region"),
    allow("cross", attach(TARGET, [MIRROR]), "ClassicLink into the same-region target"),
    deny("cross", create_group(X_TARGET, tags(mf=SOURCE.arn), OTHER_ACCOUNT, "eu-west-1"), "the other account's mirrors: through its role only"),
    deny("cross", on(X_MIRROR, "ec2:RevokeSecurityGroupIngress"), "... idem"),
    allow("cross", assume(OTHER_ACCOUNT), "the target role of the other account"),
    deny("cross", assume("999988887777"), "no other role"),
    allow("cross-target", create_group(X_TARGET, tags(mf=SOURCE.arn), OTHER_ACCOUNT, "eu-west-1"), "the target role creates mirrors in its target VPC"),
    *(allow("cross-target", on(X_MIRROR, a), "... and manages them") for a in RULE_ACTIONS),
    allow("cross-target", create_tags(X_MIRROR, {"team": "web"}), "... with the module's tags"),
    allow("cross-target", describe("ec2:DescribeSecurityGroups"), "describes in the target account"),
    deny("cross-target", create_group(X_OTHER_VPC, tags(mf=SOURCE.arn), OTHER_ACCOUNT, "eu-west-1"), "not outside its target VPCs"),
    *(deny("cross-target", on(X_OUTSIDE_TAGGED, a), "the escalation, in the target account") for a in RULE_ACTIONS),
    deny("cross-target", create_tags(X_GROUP, tags(mf=SOURCE.arn)), "no adoption without --allow-adopt"),
    deny("cross-target", create_tags(X_GROUP, tags(mt=X_MIRROR.id)), "no source-side tags in the target account"),
    deny("cross-target", attach(X_TARGET, [X_MIRROR]), "no ClassicLink across accounts"),
    deny("cross-target", describe("ec2:DescribeInstances"), "only the target side's describes"),
    allow("cross-target", create_list({AO: SOURCE.arn}, OTHER_ACCOUNT, "eu-west-1"), "address lists in the target scope"),
    *(allow("cross-target", on_list(X_LIST, a), "... kept exact and pruned there") for a in LIST_ACTIONS),
    allow("cross-target", describe("ec2:DescribeManagedPrefixLists"), "finding them"),
    deny("cross-target", create_list({AO: SOURCE.arn}), "not in the source account"),
    deny("cross", create_list({AO: SOURCE.arn}, OTHER_ACCOUNT, "eu-west-1"), "the other account's lists: through its role only"),
    allow("cross", create_list({AO: SOURCE.arn}, region=WEST), "a same-account target in another region has its lists there"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.policy}:{'allow' if c.allowed else 'deny'}:{c.call.label}" for c in CASES])
def test_policy_decides_each_call_as_the_table_says(case: Case):
    allowed = decide(POLICIES[case.policy], case.call)[0]
    assert allowed is case.allowed, f"{case.why}\n{explain(POLICIES[case.policy], case.call)}"


def test_the_escalation_of_issue_14_is_impossible_with_the_default_policy():
    """Tag a group outside the target VPCs as a mirror, then revoke, authorize or delete: refused at each step,
    with the default policy and with every opt-in."""
    for name in ("default", "opt-ins"):
        policy = POLICIES[name]
        for victim in (OUTSIDE, BYSTANDER):
            assert not decide(policy, create_tags(victim, tags(mf=SOURCE.id)))[0], explain(policy, create_tags(victim, tags(mf=SOURCE.id)))
            owned = victim.tagged(**tags(mf=SOURCE.id))  # even if the tag got there some other way
            for action in RULE_ACTIONS:
                assert not decide(policy, on(owned, action))[0], explain(policy, on(owned, action))


def test_every_mutating_action_the_code_calls_has_allowed_and_denied_rows():
    mutating = {a for a in code_operations() if not a.startswith("ec2:Describe")}
    rows = [(case, request.action) for case in CASES for request in case.call.requests]
    allowed = {action for case, action in rows if case.allowed and case.policy == "default"}
    denied = {case.call.requests[0].action for case in CASES if not case.allowed and case.policy == "default"}
    assert mutating - allowed == set(), "no allowed row in the default policy for these calls"
    assert mutating - denied == set(), "no denied row in the default policy for these calls"
    describes = {a for a in code_operations() if a.startswith("ec2:Describe")}
    assert describes <= allowed


def test_trust_policy_lets_only_the_source_principal_assume_with_the_external_id():
    trust = generated(*CROSS_ARGS)[f"trust-policy-{OTHER_ACCOUNT}.json"]
    assert trust == {"Version": "2012-10-17", "Statement": [{
        "Sid": "AssumedByTheMirrorRunner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "mirror-2024"}}}]}
    named = generated(*CROSS_ARGS, "--source-principal", f"arn:aws:iam::{ACCOUNT}:role/mirror-runner")
    assert named[f"trust-policy-{OTHER_ACCOUNT}.json"]["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:role/mirror-runner"}


# --------------------------------------------------------------------------- the evaluator itself


def test_evaluator_follows_the_documented_iam_semantics():
    ctx = {"aws:TagKeys": ["a", "b"], "ec2:Vpc": vpc_arn(TARGET), "aws:ResourceTag/k": "v"}
    assert condition_holds("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b", "c"], ctx)
    assert not condition_holds("ForAllValues:StringEquals", "aws:TagKeys", ["a"], ctx)
    assert condition_holds("ForAllValues:StringEquals", "aws:TagKeys", ["x"], {})  # missing key: true
    assert condition_holds("ForAnyValue:StringEquals", "aws:TagKeys", ["a"], ctx)
    assert not condition_holds("ForAnyValue:StringEquals", "aws:TagKeys", ["a"], {})
    assert condition_holds("ForAllValues:StringNotEquals", "aws:TagKeys", ["c"], ctx)
    assert not condition_holds("ForAllValues:StringNotEquals", "aws:TagKeys", ["b"], ctx)
    assert condition_holds("Null", "aws:ResourceTag/k", "false", ctx) and condition_holds("Null", "aws:ResourceTag/x", "true", ctx)
    assert condition_holds("ArnEquals", "ec2:Vpc", [vpc_arn(OTHER_VPC), vpc_arn(TARGET)], ctx)
    assert condition_holds("ArnLike", "ec2:Vpc", "arn:aws:ec2:*:*:vpc/*", ctx)
    assert not condition_holds("ArnEquals", "ec2:Vpc", vpc_arn(TARGET), {})  # missing key: false
    assert condition_holds("StringEqualsIfExists", "aws:RequestTag/x", "y", ctx)
    assert condition_holds("StringNotEquals", "aws:RequestTag/x", "y", ctx)  # negated, missing: true
    assert condition_holds("StringEquals", "AWS:RESOURCETAG/k", "v", ctx)  # key names ignore case
    assert not condition_holds("StringEquals", "aws:ResourceTag/k", "V", ctx)  # values do not
    for operator in ("NumericEquals", "DateLessThan", "ForAllValues:StringEqualsIfExists", "IpAddress"):
        with pytest.raises(Unsupported):
            condition_holds(operator, "aws:TagKeys", ["a"], ctx)
    with pytest.raises(Unsupported):
        condition_holds("StringEquals", "aws:TagKeys", "a", ctx)  # multivalued key without a set qualifier
    deny_wins = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "ec2:Delete*", "Resource": "arn:aws:ec2:*:*:security-group/*"}]}
    assert evaluate(deny_wins, Request("ec2:DeleteSecurityGroup", MIRROR.arn)) == "deny"
    assert evaluate(deny_wins, Request("ec2:createtags", MIRROR.arn)) == "allow"  # actions ignore case
    assert evaluate({"Statement": []}, Request("ec2:CreateTags", MIRROR.arn)) == "implicit deny"
    with pytest.raises(Unsupported):
        evaluate({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}, Request("ec2:CreateTags", MIRROR.arn))
    resource_match = {"Statement": [{"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/*"}]}
    assert evaluate(resource_match, Request("ec2:CreateTags", MIRROR.arn)) == "allow"
    assert evaluate(resource_match, Request("ec2:CreateTags", X_MIRROR.arn)) == "implicit deny"
    assert evaluate(resource_match, Request("ec2:CreateTags", vpc_arn(TARGET))) == "implicit deny"


# --------------------------------------------------------------------------- parliament

# Every deployment shape the generator writes; parliament lints every file of each.
DEPLOYMENTS = {
    "example": (),
    "opt-ins": OPT_INS,
    "no-enable-classiclink": ("--no-enable-classiclink",),
    "cross": CROSS_ARGS,
    "cross+opt-ins": (*CROSS_ARGS, *OPT_INS),
    "cross+link-lists": (*CROSS_ARGS, *LINK_LISTS),
}
# (issue, Sid, action, resource type parliament wants in the same statement) -> why it stays (docs/iam.md).
SPLIT = ("parliament checks each statement alone; the other resource types of the call are allowed by "
         "another statement, with another condition that cannot be written in this one (docs/iam.md)")
EXPECTED_FINDINGS = {
    ("RESOURCE_MISMATCH", "CreateMirrorsInTargetVpcsOnly", "ec2:CreateSecurityGroup", "security-group"):
        SPLIT + ": the new group is allowed by CreateMirrorsTaggedAtCreation, only with the mirror tag in the request",
    ("RESOURCE_MISMATCH", "LinkInstancesToTargetVpcsOnly", "ec2:AttachClassicLinkVpc", "security-group"):
        SPLIT + ": the link's groups are allowed by LinkInstancesToMirrorsOnly, only mirrors of the target VPCs",
    ("RESOURCE_MISMATCH", "LinkInstancesToMirrorsOnly", "ec2:AttachClassicLinkVpc", "instance"):
        SPLIT + ": the instance is allowed by LinkInstancesToTargetVpcsOnly (an instance never carries the mirror tag)",
    ("RESOURCE_MISMATCH", "LinkInstancesToMirrorsOnly", "ec2:AttachClassicLinkVpc", "vpc"):
        SPLIT + ": the VPC is allowed by LinkInstancesToTargetVpcsOnly, target VPCs only",
    ("CREDENTIALS_EXPOSURE", "AssumeTargetRoles", "sts:AssumeRole", ""):
        "community auditor: AssumeRole returns credentials; that is its purpose, limited to the target roles",
}
# parliament lints identity policies: a trust policy has a Principal and, by definition, no Resource.
TRUST_FINDING = ("MALFORMED", "AssumedByTheMirrorRunner", "Statement contains neither Resource nor NotResource")


def parliament_findings(document: dict) -> List[tuple]:
    """parliament's findings on ``document`` as (issue, Sid, action or detail, resource type) tuples.

    Each statement is linted alone, so that a finding names its statement; the whole
    policy is linted too and must report the same findings (nothing policy-wide is lost)."""
    from parliament import analyze_policy_string

    def lint(doc: dict) -> list:
        return analyze_policy_string(json.dumps(doc), include_community_auditors=True).findings

    found, issues = [], []
    for st in document["Statement"]:
        sid = st.get("Sid")
        for finding in lint({"Version": document["Version"], "Statement": [st]}):
            issues.append(finding.issue)
            if finding.issue == "RESOURCE_MISMATCH":
                found += [(finding.issue, sid, item["action"], item["required_format"].split(":", 5)[5].split("/")[0])
                          for item in finding.detail]
            elif finding.issue == "CREDENTIALS_EXPOSURE":
                actions = {a.lower() for a in (finding.location or {}).get("actions", [])}
                found += [(finding.issue, sid, a, "") for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
                          if a.lower() in actions]
            else:
                found.append((finding.issue, sid, str(finding.detail), ""))
    assert sorted(f.issue for f in lint(document)) == sorted(issues), "policy-wide findings differ from the statements'"
    return found


@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_parliament_finds_nothing_unexplained_in_any_generated_policy(deployment):
    for name, document in generated(*DEPLOYMENTS[deployment]).items():
        if name.startswith("trust-policy-"):
            continue  # below
        unexplained = [f for f in parliament_findings(document) if f not in EXPECTED_FINDINGS]
        assert unexplained == [], f"{deployment}/{name}: explain these in docs/iam.md and EXPECTED_FINDINGS, or fix the generator"


def test_parliament_lints_the_trust_policies_as_the_statement_of_the_role():
    """Linted raw, a trust policy gets the one expected MALFORMED finding (no Resource); linted with the
    role it protects as Resource, its Principal, action and condition keys are checked: only the explained
    CREDENTIALS_EXPOSURE of sts:AssumeRole remains."""
    from parliament import analyze_policy_string

    for name, document in generated(*CROSS_ARGS).items():
        if not name.startswith("trust-policy-"):
            continue
        raw = analyze_policy_string(json.dumps(document), include_community_auditors=True).findings
        assert [(f.issue, document["Statement"][0]["Sid"], f.detail) for f in raw] == [TRUST_FINDING]
        account = name[len("trust-policy-"):-len(".json")]
        as_resource = {**document, "Statement": [{**st, "Resource": f"arn:aws:iam::{account}:role/classiclink-mirror-target"}
                                                 for st in document["Statement"]]}
        # the same community finding as on AssumeTargetRoles, nothing else (Principal, action, sts:ExternalId fit)
        findings = analyze_policy_string(json.dumps(as_resource), include_community_auditors=True).findings
        assert [f.issue for f in findings] == ["CREDENTIALS_EXPOSURE"], findings


def test_every_expected_parliament_finding_still_occurs():
    seen = {f for extra in DEPLOYMENTS.values() for document in generated(*extra).values()
            if "Principal" not in document["Statement"][0] for f in parliament_findings(document)}
    assert set(EXPECTED_FINDINGS) - seen == set(), "no longer reported: drop them from EXPECTED_FINDINGS and docs/iam.md"


def test_parliament_reports_what_issue_14_saw_on_the_old_policy_shape():
    """The three RESOURCE_MISMATCH findings the issue quotes are these statement splits, now explained."""
    from parliament import analyze_policy_string

    findings = analyze_policy_string(POLICY_PATH.read_text()).findings
    assert sorted(f.issue for f in findings) == ["RESOURCE_MISMATCH"] * 3


# --------------------------------------------------------------------------- the generator


def test_checked_in_example_is_the_generators_output():
    """docs/iam-policy.json is regenerated with `make iam-policy` (python -m tools.iam_policy --example)."""
    assert POLICY_PATH.read_text() == gen.render(gen.source_policy(gen.example_deployment()))


def test_generator_tag_keys_are_the_collections():
    """tools/iam_policy.py repeats the tag keys of plugins/module_utils/tags.py (read here from its syntax tree)."""
    import ast

    from tests.support.devpaths import REPO_ROOT

    tree = ast.parse((REPO_ROOT / "plugins" / "module_utils" / "tags.py").read_text())
    wanted = {"MIRRORED_FROM_TAG", "MIRRORED_TO_TAG", "LINK_TAG_KEYS"}
    constants = {target.id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                 for target in node.targets if isinstance(target, ast.Name) and target.id in wanted}
    assert (gen.MIRRORED_FROM_TAG, gen.MIRRORED_TO_TAG, gen.LINK_TAG_KEYS) == (
        constants["MIRRORED_FROM_TAG"], constants["MIRRORED_TO_TAG"], tuple(constants["LINK_TAG_KEYS"]))


def test_generator_address_list_tag_is_the_collections():
    from ansible_collections.classiclink.mirror.plugins.module_utils.addresses import ADDRESSES_OF_TAG

    assert gen.ADDRESSES_OF_TAG == ADDRESSES_OF_TAG


def test_generator_cli_writes_one_file_per_policy(tmp_path):
    import subprocess
    import sys

    from tests.support.devpaths import REPO_ROOT

    run = subprocess.run([sys.executable, "-m", "tools.iam_policy", *gen.EXAMPLE_ARGS, *CROSS_ARGS, "--out", str(tmp_path)],
                         cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "source-policy.json", f"target-policy-{OTHER_ACCOUNT}.json", f"trust-policy-{OTHER_ACCOUNT}.json"]
    assert json.loads((tmp_path / "source-policy.json").read_text()) == POLICIES["cross"]
    bad = subprocess.run([sys.executable, "-m", "tools.iam_policy", "--source-account", ACCOUNT, "--region", REGION,
                          "--target-vpc", "vpc-nothex"], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "vpc-nothex" in bad.stderr


@pytest.mark.parametrize("args, message", [
    ((), "at least one --target-vpc"),
    (("--target-vpc", "vpc-0a1b2c3d4e5f67890", "--default-group", "vpc-0bbbbbbbbbbbbbbbb=sg-0f1e2d3c4b5a69788"), "is not one of the --target-vpc"),
    (("--target-vpc", "vpc-0a1b2c3d4e5f67890", "--default-group", "sg-0f1e2d3c4b5a69788"), "TARGET-VPC=sg-"),
    (("--target-vpc", "arn:aws:ec2:us-east-1:1234:vpc/vpc-0a1b2c3d4e5f67890"), "invalid account"),
    (("--target-vpc", "arn:aws-cn:ec2:cn-north-1:444455556666:vpc/vpc-0a1b2c3d4e5f67890"), "partition"),
    (("--target-vpc", "arn:aws:ec2:eu-west-1:444455556666:vpc/vpc-0a1b2c3d4e5f67890", "--target-role-arn", "arn:aws:iam::1:role/x"),
     "{account}"),
    (("--target-vpc", "vpc-0a1b2c3d4e5f67890", "--link-tag-value", "vpc-0a1b2c3d4e5f67890"), "needs --allow-link-tags"),
    (("--target-vpc", "vpc-0a1b2c3d4e5f67890", "--allow-link-tags", "--link-tag-value", "vpc-0a1b2c3d4e5f67890,vpc-0bbbbbbbbbbbbbbbb"),
     "vpc/vpc-0bbbbbbbbbbbbbbbb not one of the --target-vpc"),
    (("--target-vpc", "vpc-0a1b2c3d4e5f67890", "--allow-link-tags", "--link-tag-value", "vpc-0a1b2c3d4e5f67890,"), "an empty entry"),
])
def test_generator_refuses_what_it_cannot_confine(args, message):
    with pytest.raises(gen.UsageError, match=re.escape(message)):
        gen.deployment_from_args(gen.parser().parse_args(["--source-account", ACCOUNT, "--region", REGION, *args]))


def test_link_tag_values_are_spelled_as_the_module_writes_them():
    """--link-tag-value entries are written like targets.py Target.text (bare id in the source's scope, else the
    ARN), in the given order, a repeated target once; each target alone is always allowed."""
    dep = gen.deployment_from_args(gen.parser().parse_args([
        *gen.EXAMPLE_ARGS, *CROSS_ARGS, "--allow-link-tags",
        "--link-tag-value", f"{WEST_ARN}, {vpc_arn(TARGET)},{WEST_ARN}"]))
    assert dep.link_tag_values == (f"{WEST_ARN},{TARGET}",)
    assert dep.link_values() == sorted([TARGET, WEST_ARN, X_ARN, f"{WEST_ARN},{TARGET}"])


def test_record_key_patterns_cover_every_key_the_collection_writes():
    """The generator's mirroredTo patterns match exactly the record keys of targets.py (base, :2 ... :MAX)."""
    from fnmatch import fnmatchcase

    from ansible_collections.classiclink.mirror.plugins.module_utils import targets

    keys = [targets.record_key(index) for index in range(1, targets.MAX_RECORD_TAGS + 1)]
    assert all(any(fnmatchcase(key, pattern) for pattern in gen.MIRRORED_TO_KEYS) for key in keys)
    assert targets.record_keys({key: "x" for key in keys}) == tuple(keys)
    for other in (MF, LINK, GUIDE_LINK, f"{MT}2", "Name"):
        assert not any(fnmatchcase(other, pattern) for pattern in gen.MIRRORED_TO_KEYS), other
