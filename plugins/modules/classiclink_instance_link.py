#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: classiclink_instance_link
short_description: Link EC2-Classic instances to the mirrors of their security groups with ClassicLink
version_added: 0.1.0
description:
  - B(ClassicLink) let a running EC2-Classic instance join security groups of one VPC in the same region, so it could
    talk to that VPC's instances over private addresses during a migration. A link names one VPC and one to five of
    its groups; its groups cannot be changed in place, and it ends when the instance stops.
  - B(EC2-Classic was retired by AWS) (August 2023). On an account or region without EC2-Classic, the ClassicLink API
    calls are refused; this module then fails with the EC2 error per instance (or for the region), naming the
    instance or VPC, and changes nothing else. It stays useful for the accounts and test environments that still
    answer those calls, and for auditing and removing links.
  - By default the desired link of an instance is the mirrors (made by M(classiclink.mirror.classiclink_mirror_group))
    of B(all) its managed source groups, in the VPC their link tags name. An instance whose managed groups point at
    different VPCs cannot be linked and is skipped with the conflict as the reason. More than five groups is an error
    for that instance.
  - When the desired groups or VPC differ from the current link, the instance is detached and attached again.
    Instances that are not running are skipped.
  - Links of instances that are no longer in a managed group (stale links) are only removed with O(prune=true).
  - All instances of one call are planned from one set of describes. One failing instance does not stop the others;
    the module fails at the end naming every failure.
author:
  - classiclink.mirror maintainers (@classiclink-mirror)
options:
  instance_id:
    description:
      - One instance to link. Mutually exclusive with O(instance_ids).
    type: str
  instance_ids:
    description:
      - Several instances, planned from one shared snapshot.
      - When neither O(instance_id) nor O(instance_ids) is given, every instance of the region that is a member of a
        managed source group, or already linked, is considered.
    type: list
    elements: str
  vpc_id:
    description:
      - Only link to (or, with O(state=absent), only unlink from) this VPC.
      - Required with O(groups) given as names.
    type: str
  vpc_ids:
    description:
      - When no instance is named, only consider instances that are members of a managed group mirrored into one of
        these VPCs, or linked to one of them.
    type: list
    elements: str
  groups:
    description:
      - Explicit VPC group ids or names to link to, instead of the mirrors derived from the instance's groups.
    type: list
    elements: str
  state:
    description:
      - V(present) links (or relinks) the instances.
      - V(absent) detaches them.
    type: str
    choices: [present, absent]
    default: present
  prune:
    description:
      - Detach stale links (instance no longer in a managed group).
    type: bool
    default: false
  enable_classiclink:
    description:
      - Enable ClassicLink on a target VPC that does not have it. Without it, such a VPC is an error naming the VPC.
    type: bool
    default: false
extends_documentation_fragment:
  - classiclink.mirror.mirror
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description:
      - Reports the same actions a real run would take, with no mutating call.
      - A mirror that does not exist yet but whose target VPC does is taken as about to be created (a dry run of the
        mirror role creates none), and shown as C(new-mirror-of-<source id>).
  diff_mode:
    support: full
    description: Shows each changed instance's link before and after.
notes:
  - The moto-based tests of this collection emulate the ClassicLink calls; EC2-Classic instances are modelled as
    instances of the region's default VPC there.
seealso:
  - module: classiclink.mirror.classiclink_mirror_group
"""

EXAMPLES = r"""
- name: Link one instance to the mirrors of its groups
  classiclink.mirror.classiclink_instance_link:
    instance_id: i-0123456789abcdef0

- name: Link every member instance of the region and remove stale links
  classiclink.mirror.classiclink_instance_link:
    prune: true

- name: Link to explicit VPC groups
  classiclink.mirror.classiclink_instance_link:
    instance_id: i-0123456789abcdef0
    vpc_id: vpc-0a1b2c3d4e5f60718
    groups: [web, ssh]

- name: Unlink
  classiclink.mirror.classiclink_instance_link:
    instance_ids: [i-0123456789abcdef0]
    state: absent

- name: Link every member instance, then list those whose managed groups point at several VPCs
  classiclink.mirror.classiclink_instance_link:
  register: links

- name: Show the VPC conflicts
  ansible.builtin.debug:
    msg: "{{ links.instances | selectattr('code', '==', 'vpc_conflict') | map(attribute='instance_id') | list }}"
"""

RETURN = r"""
instances:
  description:
    - One entry per instance considered, in the order given (or sorted by id when no instance is named).
    - Every skipped or failed instance carries a reason code in RV(instances[].code) (and EC2's own error code in
      RV(instances[].aws_code) when a call failed) beside the sentence in RV(instances[].reason). The codes come from
      one list shared by all three modules; an instance has the same code here and in
      RV(classiclink.mirror.classiclink_mirror_info#module:instances[].code).
    - This module changes links, not rules. Rule changes are reported with one rule-change vocabulary, V(authorize),
      V(revoke) and V(update), which is the same in all three modules
      (RV(classiclink.mirror.classiclink_mirror_group#module:groups[].ingress)), in the audit
      (RV(classiclink.mirror.classiclink_mirror_info#module:pairs[].drift)) and in the
      P(classiclink.mirror.mirror_summary#filter) filter, which also reads this module's RV(instances).
  returned: always
  type: list
  elements: dict
  sample:
    - instance_id: i-0123456789abcdef0
      vpc_id: vpc-0a1b2c3d4e5f60718
      groups: [sg-0fedcba9876543210]
      action: linked
      reason: null
      code: null
      aws_code: null
    - instance_id: i-0fedcba9876543210
      vpc_id: vpc-0a1b2c3d4e5f60718
      groups: [sg-0fedcba9876543210]
      action: skipped
      reason: instance is stopped; only running instances can be linked
      code: not_running
      aws_code: null
  contains:
    instance_id:
      description: The instance.
      type: str
      sample: i-0123456789abcdef0
    vpc_id:
      description: VPC of the desired (or, for V(unlinked), the removed) link; null when the instance has none.
      type: str
      sample: vpc-0a1b2c3d4e5f60718
    groups:
      description:
        - VPC group ids of the desired (or removed) link, sorted.
        - In check mode, a mirror that would be created first is named C(new-mirror-of-<source id>).
      type: list
      elements: str
      sample: [sg-0fedcba9876543210]
    action:
      description:
        - What was (in check mode, would be) done.
        - V(linked) - attached; V(relinked) - detached and attached again with other groups or to another VPC;
          V(unlinked) - detached (O(state=absent), or a stale link with O(prune=true)); V(unchanged) - the link is
          already right (or a stale link is kept, code V(stale_link_kept)); V(skipped) - the instance cannot be linked
          (see RV(instances[].code)); V(error) - the instance failed (see RV(instances[].code)).
      type: str
      choices: [linked, relinked, unlinked, unchanged, skipped, error]
      sample: linked
    reason:
      description:
        - For a person to read - why an instance was skipped or failed, why a stale link is kept or removed, or what a
          relink replaced; null otherwise.
      type: str
      sample: null
    code:
      description:
        - Why the instance was skipped, failed, or kept a stale link, as one of the instance codes below (from the
          collection's C(model.CODES)); null for V(linked), V(relinked), V(unlinked) and an up-to-date V(unchanged).
        - With V(skipped) - V(vpc_conflict) (the instance's managed groups map to more than one VPC), V(not_running)
          (only running instances can be linked), V(not_classic) (not an EC2-Classic instance), V(not_member) (the
          instance is in no managed group).
        - With V(unchanged) - V(stale_link_kept) (the instance is no longer in a managed group, and its link is kept
          until O(prune=true)).
        - With V(error) - V(not_found) (the instance or the target VPC does not exist), V(too_many_groups) (a ClassicLink
          takes at most five groups), V(mirror_missing) (the mirror of a member group does not exist; run
          M(classiclink.mirror.classiclink_mirror_group) first), V(classiclink_disabled) (ClassicLink is not enabled on
          the target VPC; see O(enable_classiclink)), V(bad_groups) (O(groups) do not name one VPC's groups),
          V(aws_error) (an EC2 call failed; RV(instances[].aws_code) has EC2's error code).
      type: str
      choices: [vpc_conflict, not_running, not_classic, not_member, stale_link_kept, not_found, too_many_groups,
                mirror_missing, classiclink_disabled, bad_groups, aws_error]
      sample: null
    aws_code:
      description:
        - EC2's error code when a ClassicLink call failed (with V(aws_error), or V(not_found) for a group that is gone);
          null otherwise, and for a call that failed on the client side.
      type: str
      sample: null
    previous:
      description: The link before the run.
      returned: when the instance was linked before the run
      type: dict
      sample:
        vpc_id: vpc-0a1b2c3d4e5f60718
        groups: [sg-0fedcba9876543210]
      contains:
        vpc_id:
          description: VPC the instance was linked to.
          type: str
          sample: vpc-0a1b2c3d4e5f60718
        groups:
          description: VPC group ids of that link, sorted.
          type: list
          elements: str
          sample: [sg-0fedcba9876543210]
enabled_classiclink:
  description: VPCs on which ClassicLink was (in check mode, would be) enabled, with O(enable_classiclink=true).
  returned: always
  type: list
  elements: str
  sample: [vpc-0a1b2c3d4e5f60718]
"""

from ansible_collections.classiclink.mirror.plugins.module_utils.aws_module import MirrorAWSModule

from ansible_collections.classiclink.mirror.plugins.module_utils.apply_links import LinkExecutor
from ansible_collections.classiclink.mirror.plugins.module_utils.describe import load_snapshot, retirement_hint
from ansible_collections.classiclink.mirror.plugins.module_utils.options import COMMON_ARGS, check_common
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_links import ERROR, LinkOptions, plan_links
from ansible_collections.classiclink.mirror.plugins.module_utils.report import links_result
from ansible_collections.classiclink.mirror.plugins.module_utils.scope import Scope

try:
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError  # an answer that cannot be parsed, after the retries
except ImportError:
    pass  # handled by AnsibleAWSModule


def main():
    argument_spec = dict(
        instance_id=dict(type="str"),
        instance_ids=dict(type="list", elements="str"),
        vpc_id=dict(type="str"),
        groups=dict(type="list", elements="str"),
        vpc_ids=dict(type="list", elements="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        prune=dict(type="bool", default=False),
        enable_classiclink=dict(type="bool", default=False),
        **COMMON_ARGS,
    )
    module = MirrorAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("instance_id", "instance_ids")],
        supports_check_mode=True,
    )
    check_common(module)
    params = module.params
    instance_ids = [params["instance_id"]] if params["instance_id"] else params["instance_ids"]
    options = LinkOptions(
        state=params["state"],
        prune=params["prune"],
        vpc_id=params["vpc_id"],
        groups=tuple(params["groups"]) if params["groups"] is not None else None,
        enable_classiclink=params["enable_classiclink"],
        link_tag_keys=tuple(params["link_tag_keys"]),
        vpc_ids=tuple(params["vpc_ids"]) if params["vpc_ids"] else None,
        assume_planned=module.check_mode,
    )
    if options.groups is not None and not options.groups:
        module.fail_json(msg="groups is empty; a ClassicLink needs 1 to 5 VPC groups")

    scope = Scope.of_module(module)
    try:
        snapshot = load_snapshot(
            scope,
            options.link_tag_keys,
            source_refs=options.groups or (),
            with_links=True,
            instance_ids=instance_ids,
            classic_vpc_id=params["classic_vpc_id"],
            target_groups=options.groups is not None,
        )
    except (BotoCoreError, ClientError, ResponseParserError) as e:
        module.fail_json_aws(e, msg="Could not describe instances, VPCs or ClassicLinks of this region" + retirement_hint(e))

    plan = plan_links(snapshot, instance_ids, options)
    changed = plan.changed
    outcome = None
    if changed and not module.check_mode:
        try:
            outcome = LinkExecutor(scope, params["concurrency"]).apply(plan)
        except (BotoCoreError, ClientError, ResponseParserError) as e:
            module.fail_json_aws(e, msg="Could not enable ClassicLink on %s" % ", ".join(plan.enable_vpcs))

    result = dict(changed=changed, **links_result(plan, outcome))
    if not module._diff:
        result.pop("diff")
    results = result["instances"]
    failures = [item for item in results if item["action"] == ERROR]
    if failures:
        module.fail_json(
            msg="%d of %d instances failed: %s" % (
                len(failures), len(results), "; ".join("%s: %s" % (item["instance_id"], item["reason"]) for item in failures)),
            **result
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
