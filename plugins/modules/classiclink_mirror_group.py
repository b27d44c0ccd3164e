#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: classiclink_mirror_group
short_description: Mirror security groups into a target VPC and keep their rules in one-way sync
version_added: 0.1.0
description:
  - Keeps a B(mirror) of each source security group in a target VPC. The mirror has the source's name and
    description and is tagged C(classiclinkmirror:mirroredFromClassicSecurityGroupId=<source id>); the source
    is tagged C(classiclinkmirror:mirroredToVpcSecurityGroupId=<mirror id>).
  - The target VPC is read from the source's link tag (C(classiclinkmirror:linkToVPC) or C(classicmirror:linkToVPC)),
    or given with O(vpc_id), which then also writes the link tag so that later runs read the same declaration.
  - Rules are compared in one canonical form (protocol names and numbers, CIDRs with host bits, IPv6, prefix lists,
    group references) with descriptions compared apart from the rules, so a description-only change is fixed
    with the description-update call, never by revoking and adding.
  - A reference to the source itself becomes a reference to its mirror; a reference to another managed source
    mirrored into the same VPC becomes a reference to that source's mirror, which is created first (empty) when
    missing, so reference cycles converge in one run. Any other group reference cannot be translated; it is dropped
    and reported in RV(groups[].skipped_references).
  - Rules on the mirror that refer to VPC groups that are not mirrors (for example a VPC load balancer's group added
    by hand) are preserved. Everything else that the source does not have is revoked, so manual changes to a mirror are
    undone.
  - Groups in the target VPC that do not carry the mirroredFrom tag are never modified, except the VPC's
    C(default) group (the mirror of a source named C(default)) and a same-name group with O(adopt=true).
  - All pairs of one call are planned from one set of describes and applied together; one failing pair does not
    stop the others, and the module fails at the end naming every failure.
author:
  - classiclink.mirror maintainers (@classiclink-mirror)
options:
  source_group:
    description:
      - Id or name of one source security group. A name must match exactly one group that is not a mirror.
      - Mutually exclusive with O(source_groups).
    type: str
  source_groups:
    description:
      - Ids or names of several source groups, planned and applied in one call from one shared snapshot.
      - Mutually exclusive with O(source_group).
    type: list
    elements: str
  all_sources:
    description:
      - Mirror every managed source of the region, that is every group that carries a link tag (and is not a mirror).
      - All of them are planned and applied in one call from one shared snapshot. This is what the C(mirror) role does.
      - Mutually exclusive with O(source_group) and O(source_groups).
    type: bool
    default: false
  vpc_ids:
    description:
      - With O(all_sources), only the sources whose link tag names one of these VPCs.
      - Also the default of O(prune_vpc_ids).
    type: list
    elements: str
  vpc_id:
    description:
      - Target VPC for the given sources. Default is each source's link tag.
      - When set, the source's link tag is set to this value too.
    type: str
  state:
    description:
      - V(present) creates or updates the mirrors.
      - V(absent) deletes the mirror (only a group whose mirroredFrom tag names the source) and removes the
        mirroredTo tag from the source. The source's link tag is left alone; remove it too, or the next run of
        the mirror role creates the mirror again. A C(default) group mirror is released (untagged), not deleted.
    type: str
    choices: [present, absent]
    default: present
  purge_rules:
    description:
      - Revoke rules on the mirror that the source does not have.
      - References to VPC groups that are not mirrors are never revoked.
    type: bool
    default: true
  egress:
    description:
      - V(auto) mirrors egress rules when the source is a VPC group, and leaves the mirror's egress alone for an
        EC2-Classic source (which has no egress rules, so the mirror keeps the VPC default allow-all egress).
      - V(yes) always mirrors egress; V(no) never touches the mirror's egress rules.
    type: str
    choices: [auto, 'yes', 'no']
    default: auto
  adopt:
    description:
      - Manage an existing same-name group in the target VPC that is not tagged as a mirror, by tagging it as the mirror.
      - Without it, such a group is an error for that pair and is left untouched.
    type: bool
    default: false
  rules_quota:
    description:
      - Rules allowed per group and direction (the EC2 quota, 60 by default; counted per address family, a group or
        prefix-list reference counting once for each).
      - A pair whose desired rules exceed it fails before anything is changed. When adding first would exceed it,
        rules are revoked first for that group.
    type: int
    default: 60
  prune:
    description:
      - Also delete orphan mirrors of the region, after the given sources are converged. An orphan is a mirror whose
        source no longer exists, no longer carries a link tag, or whose link tag now names another VPC (retargeting).
      - A source whose link tag cannot be read does not make its mirror an orphan.
      - A mirror still in use (C(DependencyViolation)) is reported as an error for that mirror, the rest goes on.
      - With O(prune=true), O(source_group) and O(source_groups) may be omitted.
    type: bool
    default: false
  prune_vpc_ids:
    description:
      - Only prune orphan mirrors in these VPCs. Default is O(vpc_ids), or else every VPC of the region.
    type: list
    elements: str
  tags:
    description:
      - Extra tags for the mirrors. The mirror-relationship tags are always set and never purged.
    type: dict
    aliases: ['resource_tags']
  purge_tags:
    description:
      - Remove mirror tags not in O(tags) (never C(aws:) tags nor the relationship tags). Only when O(tags) is set.
    type: bool
    default: true
extends_documentation_fragment:
  - classiclink.mirror.mirror
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description: Check mode plans from the same describes and reports exactly what a real run would change, with no mutating call.
  diff_mode:
    support: full
    description: Shows the mirror's rules and tags before and after, per group.
notes:
  - Security group descriptions cannot be changed in EC2. When a source's description differs from its mirror's,
    the module warns and keeps the mirror.
  - The IAM permissions needed are listed in the collection's C(docs/) folder.
seealso:
  - module: classiclink.mirror.classiclink_instance_link
  - module: amazon.aws.ec2_security_group
"""

EXAMPLES = r"""
- name: Mirror one tagged group into the VPC its link tag names
  classiclink.mirror.classiclink_mirror_group:
    source_group: web-backend

- name: Declare the target VPC and mirror in one step (writes the link tag)
  classiclink.mirror.classiclink_mirror_group:
    source_group: sg-0123456789abcdef0
    vpc_id: vpc-0a1b2c3d4e5f60718

- name: Mirror several groups from one snapshot, with extra tags on the mirrors
  classiclink.mirror.classiclink_mirror_group:
    source_groups:
      - web-backend
      - web-ssh
    tags:
      migration: wave-1

- name: Dry run with diff
  classiclink.mirror.classiclink_mirror_group:
    source_groups: [web-backend, web-ssh]
  check_mode: true
  diff: true
  register: dry_run

- name: Remove a mirror
  classiclink.mirror.classiclink_mirror_group:
    source_group: web-ssh
    state: absent
"""

RETURN = r"""
orphans:
  description:
    - Orphan mirrors seen by this run (deleted when O(prune=true)), each with C(group_id), C(group_name), C(vpc_id),
      C(mirrored_from) and C(reason) (V(source_gone), V(untagged) or V(retargeted)).
  returned: always
  type: list
  elements: dict
group_id:
  description: Id of the mirror, when one source was given (a placeholder C(new-mirror-of-<source id>) in check mode).
  returned: when O(source_group) is set and the pair has a mirror
  type: str
  sample: sg-0fedcba9876543210
groups:
  description: One entry per pair, in the order given, followed by mirrors created only because another pair refers to them.
  returned: always
  type: list
  elements: dict
  contains:
    source_ref:
      description: The id or name as given.
      type: str
    source_group_id:
      description: Id of the source group.
      type: str
    source_group_name:
      description: Name of the source group.
      type: str
    vpc_id:
      description: Target VPC.
      type: str
    mirror_group_id:
      description: Id of the mirror (placeholder in check mode when it would be created).
      type: str
    created:
      description: Whether the mirror was (or would be) created.
      type: bool
    adopted:
      description: Whether an existing group (the VPC default group, or with O(adopt)) became the mirror.
      type: bool
    deleted:
      description: Mirrors deleted by O(state=absent).
      type: list
      elements: str
    orphan:
      description: For a mirror deleted by O(prune), why it was an orphan (V(source_gone), V(untagged), V(retargeted)).
      type: str
    referenced_only:
      description: The mirror was created empty because another pair refers to it; its rules follow on its own run.
      type: bool
    changed:
      description: Whether this pair changed.
      type: bool
    ingress:
      description: Ingress changes, each rule as a dict (direction, protocol, from_port, to_port, one of cidr_ip,
        cidr_ipv6, prefix_list_id or group_id (with user_id), description).
      type: dict
      contains:
        added:
          description: Rules authorized.
          type: list
          elements: dict
        revoked:
          description: Rules revoked.
          type: list
          elements: dict
        updated:
          description: Rules whose description was updated (new description shown).
          type: list
          elements: dict
        revoke_first:
          description: Whether revokes ran before authorizes to stay within O(rules_quota).
          type: bool
    egress:
      description: Egress changes, same shape as RV(groups[].ingress).
      type: dict
    tags:
      description: Tags set and removed on the mirror and on the source.
      type: dict
    skipped_references:
      description: Source rules that refer to groups that cannot be translated, each with a C(reason).
      type: list
      elements: dict
    warnings:
      description: Warnings for this pair (also emitted as module warnings).
      type: list
      elements: str
    error:
      description: Why this pair failed; null when it did not.
      type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.classiclink.mirror.plugins.module_utils.apply_groups import apply_plan
from ansible_collections.classiclink.mirror.plugins.module_utils.describe import load_snapshot
from ansible_collections.classiclink.mirror.plugins.module_utils.options import COMMON_ARGS, check_common
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import MirrorOptions, declared_sources
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_groups import plan_pairs
from ansible_collections.classiclink.mirror.plugins.module_utils.report import plan_result
from ansible_collections.classiclink.mirror.plugins.module_utils.scope import Scope

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # handled by AnsibleAWSModule


def main():
    argument_spec = dict(
        source_group=dict(type="str"),
        source_groups=dict(type="list", elements="str"),
        all_sources=dict(type="bool", default=False),
        vpc_ids=dict(type="list", elements="str"),
        vpc_id=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        purge_rules=dict(type="bool", default=True),
        egress=dict(type="str", choices=["auto", "yes", "no"], default="auto"),
        adopt=dict(type="bool", default=False),
        rules_quota=dict(type="int", default=60),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        prune=dict(type="bool", default=False),
        prune_vpc_ids=dict(type="list", elements="str"),
        **COMMON_ARGS,
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("source_group", "source_groups", "all_sources")],
        supports_check_mode=True,
    )
    check_common(module)
    params = module.params
    if params["rules_quota"] < 1:
        module.fail_json(msg="rules_quota must be 1 or more, got %d" % params["rules_quota"])
    refs = [params["source_group"]] if params["source_group"] else list(params["source_groups"] or [])
    if not refs and not params["prune"] and not params["all_sources"]:
        module.fail_json(msg="no source group given; set source_group, source_groups, all_sources or prune")
    options = MirrorOptions(
        state=params["state"],
        purge_rules=params["purge_rules"],
        egress=params["egress"],
        tags=params["tags"],
        purge_tags=params["purge_tags"],
        adopt=params["adopt"],
        link_tag_keys=tuple(params["link_tag_keys"]),
        rules_quota=params["rules_quota"],
        vpc_id=params["vpc_id"].strip() if params["vpc_id"] else None,
        prune=params["prune"],
        prune_vpc_ids=tuple(params["prune_vpc_ids"] or params["vpc_ids"] or ()) or None,
    )

    scope = Scope.of_module(module)
    try:
        snapshot = load_snapshot(scope, options.link_tag_keys, refs, classic_vpc_id=params["classic_vpc_id"])
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="Could not describe the security groups and VPCs of this region")
    if params["all_sources"]:
        refs = [group.id for group in declared_sources(snapshot, options.link_tag_keys, params["vpc_ids"])]

    plan = plan_pairs(snapshot, refs, options)
    changed = plan.changed
    outcome = None
    if changed and not module.check_mode:
        outcome = apply_plan(scope, plan, params["concurrency"])

    result = plan_result(plan, outcome)
    for entry in result["groups"]:
        for warning in entry["warnings"]:
            module.warn(warning)
        for skipped in entry["skipped_references"]:
            module.warn("%s: rule dropped from the mirror: %s" % (entry["source_group_name"] or entry["source_ref"], skipped["reason"]))
    if params["source_group"] and result["groups"] and result["groups"][0]["mirror_group_id"]:
        result["group_id"] = result["groups"][0]["mirror_group_id"]
    if not module._diff:
        result.pop("diff")
    failures = [entry for entry in result["groups"] if entry["error"]]
    if failures:
        module.fail_json(
            msg="%d of %d security group pairs failed: %s" % (len(failures), len(result["groups"]), "; ".join(entry["error"] for entry in failures)),
            changed=changed,
            **result
        )
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
