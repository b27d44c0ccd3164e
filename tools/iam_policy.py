"""Generate the IAM policies of a classiclink.mirror deployment (docs/iam.md).

The policies are written for the target VPCs of one deployment, so that every
change the mirror may make is confined to them::

    python -m tools.iam_policy --source-account 111122223333 --region us-east-1 \\
        --target-vpc vpc-0a1b2c3d4e5f67890 \\
        --default-group vpc-0a1b2c3d4e5f67890=sg-0f1e2d3c4b5a69788 \\
        --target-vpc arn:aws:ec2:eu-west-1:444455556666:vpc/vpc-0123456789abcdef0 \\
        --out iam/

writes into ``iam/``:

* ``source-policy.json``: the identity policy of the principal that runs the
  modules or the role (describes, the source-side tags, ClassicLink, the
  mirrors in the target VPCs of its own account and the address lists of
  their regions, ``sts:AssumeRole`` on the target roles of other accounts);
* per other account ``A`` of a target VPC: ``target-policy-A.json`` (the
  mirrors in A's target VPCs, the address lists of their regions) and ``trust-policy-A.json`` (who may assume the
  role that carries it).

``make iam-policy IAM_ARGS="..."`` runs this; ``make iam-policy`` alone
regenerates the documented example ``docs/iam-policy.json`` (``--example``).

Target VPCs are VPC ids (in ``--source-account`` and ``--region``) or VPC
ARNs ``arn:PARTITION:ec2:REGION:ACCOUNT:vpc/VPC-ID``. What each statement
allows and prevents is explained in docs/iam.md; the table test
(tests/security/test_policy_table.py) checks it against the JSON written here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

# The tag keys of plugins/module_utils/tags.py (a test checks they are the same).
MIRRORED_FROM_TAG = "classiclinkmirror:mirroredFromClassicSecurityGroupId"
MIRRORED_TO_TAG = "classiclinkmirror:mirroredToVpcSecurityGroupId"
# The source's record spans the base key and its continuations <base>:2 ... <base>:20 when one value
# (256 characters) cannot name every mirror (plugins/module_utils/targets.py: record_key, MAX_RECORD_TAGS).
# StringLike patterns: the exact base key, and the base key followed by ":" and anything (tag keys cannot
# contain * or ?, so the first pattern matches the base key only).
MIRRORED_TO_KEYS = (MIRRORED_TO_TAG, MIRRORED_TO_TAG + ":*")
LINK_TAG_KEYS = ("classiclinkmirror:linkToVPC", "classicmirror:linkToVPC")
# The tag of an address list (plugins/module_utils/addresses.py; a test checks it is the same).
ADDRESSES_OF_TAG = "classiclinkmirror:addressesOf"

# What the code calls (tests/security/test_least_privilege.py compares with the code).
SOURCE_DESCRIBES = (
    "ec2:DescribeClassicLinkInstances",
    "ec2:DescribeInstances",
    "ec2:DescribeManagedPrefixLists",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcClassicLink",
    "ec2:DescribeVpcs",
)
TARGET_DESCRIBES = ("ec2:DescribeManagedPrefixLists", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs")
# Address lists (references: addresses): customer-managed prefix lists tagged addressesOf, in the target scopes.
ADDRESS_LIST_ACTIONS = ("ec2:DeleteManagedPrefixList", "ec2:GetManagedPrefixListEntries", "ec2:ModifyManagedPrefixList")
RULE_ACTIONS = (
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:DeleteSecurityGroup",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
    "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
)

DEFAULT_TARGET_ROLE_ARN = "arn:{partition}:iam::{account}:role/classiclink-mirror-target"
VERSION = "2012-10-17"

VPC_ID = re.compile(r"^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
GROUP_ID = re.compile(r"^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
ACCOUNT = re.compile(r"^[0-9]{12}$")
REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-[0-9]+$")
PARTITION = re.compile(r"^aws(?:-[a-z]+)*$")
VPC_ARN = re.compile(r"^arn:(?P<partition>[^:]+):ec2:(?P<region>[^:]+):(?P<account>[^:]+):vpc/(?P<vpc_id>.+)$")

# The documented example: docs/iam-policy.json is exactly what these arguments generate.
EXAMPLE_ARGS = (
    "--source-account", "111122223333",
    "--region", "us-east-1",
    "--target-vpc", "vpc-0a1b2c3d4e5f67890",
    "--default-group", "vpc-0a1b2c3d4e5f67890=sg-0f1e2d3c4b5a69788",
)
EXAMPLE_PATH = Path(__file__).resolve().parents[1] / "docs" / "iam-policy.json"


class UsageError(ValueError):
    """An argument the generator cannot turn into a policy."""


@dataclass(frozen=True, order=True)
class Vpc:
    partition: str
    region: str
    account: str
    vpc_id: str

    @property
    def arn(self) -> str:
        return "arn:%s:ec2:%s:%s:vpc/%s" % (self.partition, self.region, self.account, self.vpc_id)

    def group_arn(self, group_id: str) -> str:
        return "arn:%s:ec2:%s:%s:security-group/%s" % (self.partition, self.region, self.account, group_id)


@dataclass(frozen=True)
class Deployment:
    """Everything a deployment's policies depend on."""

    source_account: str
    region: str
    targets: Tuple[Vpc, ...]
    partition: str = "aws"
    default_groups: Tuple[Tuple[Vpc, str], ...] = ()  # (target VPC, its default group id)
    allow_adopt: bool = False
    allow_purge_tags: bool = False
    allow_link_tags: bool = False
    enable_classiclink: bool = True
    link_tag_keys: Tuple[str, ...] = LINK_TAG_KEYS
    target_role_arn: str = DEFAULT_TARGET_ROLE_ARN
    source_principal: Optional[str] = None  # default: the source account
    external_id: Optional[str] = None
    link_tag_values: Tuple[str, ...] = ()  # comma-joined target lists the targets option writes (--link-tag-value)

    def accounts(self) -> List[str]:
        """Accounts of the target VPCs, the source account first when it has targets."""
        others = sorted({vpc.account for vpc in self.targets} - {self.source_account})
        return ([self.source_account] if self.targets_in(self.source_account) else []) + others

    def targets_in(self, account: str) -> List[Vpc]:
        return sorted(vpc for vpc in self.targets if vpc.account == account)

    def classiclink_vpcs(self) -> List[Vpc]:
        """ClassicLink links an instance to a VPC of its own account and region."""
        return [vpc for vpc in self.targets_in(self.source_account) if vpc.region == self.region]

    def role_arn(self, account: str) -> str:
        return self.target_role_arn.replace("{partition}", self.partition).replace("{account}", account)

    def target_text(self, vpc: Vpc) -> str:
        """How a link tag names a target (targets.py Target.text): its id in the source's account and region, else its ARN."""
        return vpc.vpc_id if (vpc.account, vpc.region) == (self.source_account, self.region) else vpc.arn

    def link_values(self) -> List[str]:
        """The link tag values OptInWriteLinkTagsOnSources allows: each target alone, and the --link-tag-value lists."""
        return sorted({self.target_text(vpc) for vpc in self.targets} | set(self.link_tag_values))

    def principal(self) -> str:
        return self.source_principal or "arn:%s:iam::%s:root" % (self.partition, self.source_account)


# --------------------------------------------------------------------------- arguments


def parse_vpc(value: str, source_account: str, region: str, partition: str) -> Vpc:
    value = value.strip()
    if VPC_ID.match(value):
        return Vpc(partition, region, source_account, value)
    match = VPC_ARN.match(value)
    if not match:
        raise UsageError("target VPC %r: expected a VPC id (vpc- and 8 or 17 hex digits) or arn:PARTITION:ec2:REGION:ACCOUNT:vpc/VPC-ID" % value)
    vpc = Vpc(match["partition"], match["region"], match["account"], match["vpc_id"])
    problems = [what for what, ok in (
        ("partition", PARTITION.match(vpc.partition)), ("region", REGION.match(vpc.region)),
        ("account", ACCOUNT.match(vpc.account)), ("VPC id", VPC_ID.match(vpc.vpc_id))) if not ok]
    if problems:
        raise UsageError("target VPC %r: invalid %s" % (value, ", ".join(problems)))
    if vpc.partition != partition:
        raise UsageError("target VPC %r is in partition %s, not %s (--partition)" % (value, vpc.partition, partition))
    return vpc


def deployment_from_args(args: argparse.Namespace) -> Deployment:
    if not ACCOUNT.match(args.source_account or ""):
        raise UsageError("--source-account %r: expected a 12-digit account id" % args.source_account)
    if not REGION.match(args.region or ""):
        raise UsageError("--region %r: expected a region name such as us-east-1" % args.region)
    if not PARTITION.match(args.partition):
        raise UsageError("--partition %r: expected aws, aws-cn, aws-us-gov, ..." % args.partition)
    if not args.target_vpc:
        raise UsageError("at least one --target-vpc is needed: the policies confine every change to the target VPCs")
    targets = tuple(sorted({parse_vpc(v, args.source_account, args.region, args.partition) for v in args.target_vpc}))
    defaults: Dict[Vpc, str] = {}
    for item in args.default_group or ():
        vpc_part, sep, group_id = item.rpartition("=")
        if not sep or not GROUP_ID.match(group_id.strip()):
            raise UsageError("--default-group %r: expected TARGET-VPC=sg-..., the target VPC's default security group" % item)
        vpc = parse_vpc(vpc_part, args.source_account, args.region, args.partition)
        if vpc not in targets:
            raise UsageError("--default-group %r: %s is not one of the --target-vpc" % (item, vpc.arn))
        if defaults.get(vpc, group_id.strip()) != group_id.strip():
            raise UsageError("--default-group: two default groups for %s" % vpc.arn)
        defaults[vpc] = group_id.strip()
    link_values = []
    for item in args.link_tag_value or ():
        if not args.allow_link_tags:
            raise UsageError("--link-tag-value %r needs --allow-link-tags (the statement that writes link tags)" % item)
        entries = [entry.strip() for entry in item.split(",")]
        if not all(entries):
            raise UsageError("--link-tag-value %r: an empty entry; expected TARGET-VPC,TARGET-VPC,... (no spaces)" % item)
        vpcs = list(dict.fromkeys(parse_vpc(entry, args.source_account, args.region, args.partition) for entry in entries))
        outside = [vpc.arn for vpc in vpcs if vpc not in targets]
        if outside:
            raise UsageError("--link-tag-value %r: %s not one of the --target-vpc" % (item, ", ".join(outside)))
        # the module's spelling (targets.py): the id in the source's account and region, else the ARN, in the
        # given order, a repeated target once
        link_values.append(",".join(vpc.vpc_id if (vpc.account, vpc.region) == (args.source_account, args.region) else vpc.arn
                                    for vpc in vpcs))
    keys = tuple(args.link_tag_key) if args.link_tag_key else LINK_TAG_KEYS
    if "{account}" not in args.target_role_arn and any(vpc.account != args.source_account for vpc in targets):
        raise UsageError("--target-role-arn %r must contain {account} (one role per target account)" % args.target_role_arn)
    return Deployment(
        source_account=args.source_account,
        region=args.region,
        partition=args.partition,
        targets=targets,
        default_groups=tuple(sorted(defaults.items())),
        allow_adopt=args.allow_adopt,
        allow_purge_tags=args.allow_purge_tags,
        allow_link_tags=args.allow_link_tags,
        enable_classiclink=not args.no_enable_classiclink,
        link_tag_keys=keys,
        target_role_arn=args.target_role_arn,
        source_principal=args.source_principal,
        external_id=args.external_id,
        link_tag_values=tuple(link_values),
    )


# --------------------------------------------------------------------------- statements


def _one(values: Sequence[str]):
    """A single value as a string, several as a list (the usual IAM spelling)."""
    values = list(values)
    return values[0] if len(values) == 1 else values


def statement(sid: str, actions: Sequence[str], resources: Sequence[str], condition: Optional[dict] = None) -> dict:
    st = {"Sid": sid, "Effect": "Allow", "Action": _one(sorted(actions)), "Resource": _one(resources)}
    if condition:
        st["Condition"] = condition
    return st


def groups_of(partition: str, account: str, regions: Sequence[str]) -> List[str]:
    return ["arn:%s:ec2:%s:%s:security-group/*" % (partition, region, account) for region in sorted(set(regions))]


def lists_of(partition: str, account: str, regions: Sequence[str]) -> List[str]:
    return ["arn:%s:ec2:%s:%s:prefix-list/*" % (partition, region, account) for region in sorted(set(regions))]


def address_list_statements(dep: Deployment, account: str) -> List[dict]:
    """Address lists (``references: addresses``) in the target scopes of ``account``: created only
    tagged addressesOf, changed, read and deleted only while they carry that tag."""
    lists = lists_of(dep.partition, account, [vpc.region for vpc in dep.targets_in(account)])
    return [
        statement("CreateAddressListsTaggedAtCreation", ["ec2:CreateManagedPrefixList"], lists,
                  {"Null": {f"aws:RequestTag/{ADDRESSES_OF_TAG}": "false"}}),
        statement("TagAddressListsInTheCreateCall", ["ec2:CreateTags"], lists, {
            "StringEquals": {"ec2:CreateAction": "CreateManagedPrefixList"},
            "ForAllValues:StringEquals": {"aws:TagKeys": ADDRESSES_OF_TAG},
            "Null": {"aws:TagKeys": "false"},
        }),
        statement("ManageAddressLists", ADDRESS_LIST_ACTIONS, lists, {"Null": {f"aws:ResourceTag/{ADDRESSES_OF_TAG}": "false"}}),
    ]


def mirror_statements(dep: Deployment, account: str) -> List[dict]:
    """Create and manage mirrors in the target VPCs of ``account`` (any account: the policy is the same)."""
    vpcs = dep.targets_in(account)
    vpc_arns = [vpc.arn for vpc in vpcs]
    groups = groups_of(dep.partition, account, [vpc.region for vpc in vpcs])
    in_targets = {"ArnEquals": {"ec2:Vpc": _one(vpc_arns)}}
    is_mirror = {f"aws:ResourceTag/{MIRRORED_FROM_TAG}": "false"}
    relationship_keys = [MIRRORED_FROM_TAG, *MIRRORED_TO_KEYS, *dep.link_tag_keys]
    out = [
        statement("CreateMirrorsTaggedAtCreation", ["ec2:CreateSecurityGroup"], groups,
                  {"Null": {f"aws:RequestTag/{MIRRORED_FROM_TAG}": "false"}}),
        statement("CreateMirrorsInTargetVpcsOnly", ["ec2:CreateSecurityGroup"], vpc_arns),
        statement("TagMirrorsInTheCreateCall", ["ec2:CreateTags"], groups, {
            "StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"},
            "ForAllValues:StringNotLike": {"aws:TagKeys": [*MIRRORED_TO_KEYS, *dep.link_tag_keys]},
        }),
        statement("ManageMirrorsInTargetVpcs", RULE_ACTIONS, groups, {**in_targets, "Null": is_mirror}),
        statement("TagMirrorsInTargetVpcs", ["ec2:CreateTags"], groups, {
            **in_targets,
            "ForAllValues:StringNotLike": {"aws:TagKeys": relationship_keys},
            "Null": {"aws:TagKeys": "false", **is_mirror},
        }),
    ]
    defaults = [(vpc, group_id) for vpc, group_id in dep.default_groups if vpc.account == account]
    if defaults:
        default_arns = [vpc.group_arn(group_id) for vpc, group_id in defaults]
        out += [
            statement("AdoptDefaultGroupsOfTargetVpcs", ["ec2:CreateTags"], default_arns, {
                "ArnEquals": {"ec2:Vpc": _one(sorted({pair[0].arn for pair in defaults}))},
                "ForAllValues:StringEquals": {"aws:TagKeys": MIRRORED_FROM_TAG},
                "Null": {"aws:TagKeys": "false", f"aws:ResourceTag/{MIRRORED_FROM_TAG}": "true"},
            }),
            statement("ReleaseDefaultGroupsOfTargetVpcs", ["ec2:DeleteTags"], default_arns, {
                "ForAllValues:StringEquals": {"aws:TagKeys": MIRRORED_FROM_TAG},
                "Null": {"aws:TagKeys": "false"},
            }),
        ]
    if dep.allow_adopt:
        out.append(statement("OptInAdoptGroupsOfTargetVpcs", ["ec2:CreateTags"], groups, {
            **in_targets,
            "ForAllValues:StringEquals": {"aws:TagKeys": MIRRORED_FROM_TAG},
            "Null": {"aws:TagKeys": "false", f"aws:ResourceTag/{MIRRORED_FROM_TAG}": "true"},
        }))
    if dep.allow_purge_tags:
        out.append(statement("OptInPurgeUserTagsOfMirrors", ["ec2:DeleteTags"], groups, {
            "ForAllValues:StringNotLike": {"aws:TagKeys": relationship_keys},
            "Null": {"aws:TagKeys": "false", **is_mirror},
        }))
    return out


def source_statements(dep: Deployment) -> List[dict]:
    """The tags the collection writes on sources (groups of the source account in the run's region)."""
    sources = groups_of(dep.partition, dep.source_account, [dep.region])
    out = [
        # The record: the base key and its continuations (several mirrors in other scopes), nothing else.
        statement("WriteMirroredToTagOnSources", ["ec2:CreateTags"], sources, {
            "ForAllValues:StringLike": {"aws:TagKeys": list(MIRRORED_TO_KEYS)},
            "Null": {"aws:TagKeys": "false"},
        }),
        statement("RemoveMirroredToTagFromSources", ["ec2:DeleteTags"], sources, {
            "ForAllValues:StringLike": {"aws:TagKeys": list(MIRRORED_TO_KEYS)},
            "Null": {"aws:TagKeys": "false", f"aws:ResourceTag/{MIRRORED_TO_TAG}": "false"},
        }),
    ]
    if dep.allow_link_tags:
        # The link tag values a run writes: each target alone (vpc_id, a one-target targets option), and the
        # comma-joined lists of --link-tag-value (a targets option naming several), exactly as the module writes them.
        out.append(statement("OptInWriteLinkTagsOnSources", ["ec2:CreateTags"], sources, {
            "ForAllValues:StringLike": {"aws:TagKeys": [*MIRRORED_TO_KEYS, *dep.link_tag_keys]},
            "StringEqualsIfExists": {f"aws:RequestTag/{key}": _one(dep.link_values()) for key in dep.link_tag_keys},
            "Null": {"aws:TagKeys": "false"},
        }))
    return out


def classiclink_statements(dep: Deployment) -> List[dict]:
    vpcs = dep.classiclink_vpcs()
    if not vpcs:
        return []
    vpc_arns = [vpc.arn for vpc in vpcs]
    instances = "arn:%s:ec2:%s:%s:instance/*" % (dep.partition, dep.region, dep.source_account)
    out = [
        statement("LinkInstancesToTargetVpcsOnly", ["ec2:AttachClassicLinkVpc", "ec2:DetachClassicLinkVpc"], [instances, *vpc_arns]),
        statement("LinkInstancesToMirrorsOnly", ["ec2:AttachClassicLinkVpc"], groups_of(dep.partition, dep.source_account, [dep.region]), {
            "ArnEquals": {"ec2:Vpc": _one(vpc_arns)},
            "Null": {f"aws:ResourceTag/{MIRRORED_FROM_TAG}": "false"},
        }),
    ]
    if dep.enable_classiclink:
        out.append(statement("EnableClassicLinkOnTargetVpcs", ["ec2:EnableVpcClassicLink"], vpc_arns))
    return out


def policy(statements: Sequence[dict]) -> dict:
    return {"Version": VERSION, "Statement": list(statements)}


def source_policy(dep: Deployment) -> dict:
    statements = [statement("ReadRegion", SOURCE_DESCRIBES, ["*"])]
    if dep.targets_in(dep.source_account):
        statements += mirror_statements(dep, dep.source_account)
        statements += address_list_statements(dep, dep.source_account)
    statements += source_statements(dep)
    statements += classiclink_statements(dep)
    others = [account for account in dep.accounts() if account != dep.source_account]
    if others:
        statements.append(statement("AssumeTargetRoles", ["sts:AssumeRole"], [dep.role_arn(account) for account in others]))
    return policy(statements)


def target_policy(dep: Deployment, account: str) -> dict:
    return policy([statement("ReadTargetRegions", TARGET_DESCRIBES, ["*"]), *mirror_statements(dep, account),
                   *address_list_statements(dep, account)])


def trust_policy(dep: Deployment, account: str) -> dict:
    st = {"Sid": "AssumedByTheMirrorRunner", "Effect": "Allow", "Principal": {"AWS": dep.principal()}, "Action": "sts:AssumeRole"}
    if dep.external_id:
        st["Condition"] = {"StringEquals": {"sts:ExternalId": dep.external_id}}
    return policy([st])


def policies(dep: Deployment) -> Dict[str, dict]:
    """File name -> policy document, for every policy of the deployment."""
    out = {"source-policy.json": source_policy(dep)}
    for account in dep.accounts():
        if account != dep.source_account:
            out["target-policy-%s.json" % account] = target_policy(dep, account)
            out["trust-policy-%s.json" % account] = trust_policy(dep, account)
    return out


def render(document: dict) -> str:
    return json.dumps(document, indent=2) + "\n"


# --------------------------------------------------------------------------- command line


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.iam_policy",
        description="Write the IAM policies of a classiclink.mirror deployment (see docs/iam.md).")
    p.add_argument("--source-account", help="account of the sources and of the principal that runs the mirror")
    p.add_argument("--region", help="region of the run (sources, instances); bare --target-vpc ids are in it")
    p.add_argument("--target-vpc", action="append", default=[], metavar="VPC",
                   help="a target VPC: an id (source account, --region) or arn:PARTITION:ec2:REGION:ACCOUNT:vpc/VPC-ID; repeat for each")
    p.add_argument("--default-group", action="append", default=[], metavar="VPC=SG",
                   help="the default security group of a target VPC: a source named 'default' maps onto it (adopted, released)")
    p.add_argument("--allow-adopt", action="store_true",
                   help="opt-in: the module's adopt option (tag any untagged group of the target VPCs as a mirror)")
    p.add_argument("--allow-purge-tags", action="store_true",
                   help="opt-in: purge_tags on mirrors (DeleteTags has no ec2:Vpc key: not confined to the target VPCs)")
    p.add_argument("--allow-link-tags", action="store_true",
                   help="opt-in: the module's vpc_id and targets options write the link tag on sources (value: a target VPC, or a --link-tag-value)")
    p.add_argument("--link-tag-value", action="append", default=[], metavar="VPC,VPC,...",
                   help="with --allow-link-tags: a link tag value naming several targets, as the module's targets option "
                        "writes it (the --target-vpc entries in the option's order, comma-joined); repeat for each. "
                        "Each target alone is always allowed")
    p.add_argument("--no-enable-classiclink", action="store_true",
                   help="leave out EnableVpcClassicLink (enable_classiclink / mirror_enable_classiclink unused)")
    p.add_argument("--link-tag-key", action="append", default=[], metavar="KEY",
                   help="link tag keys (link_tag_keys); default: %s" % ", ".join(LINK_TAG_KEYS))
    p.add_argument("--partition", default="aws", help="ARN partition (default aws)")
    p.add_argument("--target-role-arn", default=DEFAULT_TARGET_ROLE_ARN,
                   help="role assumed in another account, {account} replaced (the module's target_role_arn); default %(default)s")
    p.add_argument("--source-principal", help="principal the target roles trust (default: the source account, arn:aws:iam::ACCOUNT:root)")
    p.add_argument("--external-id", help="sts:ExternalId the target roles require (the module's target_role_external_id)")
    p.add_argument("--out", type=Path, help="directory to write the policies into (default: print them)")
    p.add_argument("--example", action="store_true",
                   help="regenerate the documented example docs/iam-policy.json (%s)" % " ".join(EXAMPLE_ARGS))
    return p


def example_deployment() -> Deployment:
    return deployment_from_args(parser().parse_args(list(EXAMPLE_ARGS)))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.example:
            EXAMPLE_PATH.write_text(render(source_policy(example_deployment())))
            print("wrote %s" % EXAMPLE_PATH)
            return 0
        documents = policies(deployment_from_args(args))
    except UsageError as exc:
        print("iam_policy: %s" % exc, file=sys.stderr)
        return 2
    if args.out is None:
        for name, document in documents.items():
            print("# %s\n%s" % (name, render(document)), end="")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, document in documents.items():
        (args.out / name).write_text(render(document))
        print("wrote %s" % (args.out / name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
