#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: classiclink_mirror_info
short_description: Discover and audit mirrored security groups and ClassicLinks, without changing anything
version_added: 0.1.0
description:
  - Lists the managed source groups (those carrying a link tag) with their target VPC and any link-tag problem, the
    pairs (source, mirror) with the drift a run of M(classiclink.mirror.classiclink_mirror_group) would fix, the
    orphan mirrors (source gone, untagged or retargeted), and the member instances with their ClassicLink status and
    the action M(classiclink.mirror.classiclink_instance_link) would take.
  - RV(drift) is the audit answer. It is V(true) when a run would change anything.
  - Plans with the same code as the changing modules, from one set of describes, and makes no mutating call.
  - On an account without EC2-Classic, the ClassicLink calls are refused; the module then still reports the groups,
    and says why in RV(links_error).
author:
  - classiclink.mirror maintainers (@classiclink-mirror)
options:
  vpc_ids:
    description:
      - Only report sources, pairs, orphans and instances for these target VPCs. Default is every VPC.
    type: list
    elements: str
  prune:
    description:
      - Report stale links and orphans as drift, as a run with pruning on would remove them.
    type: bool
    default: false
  instances:
    description:
      - Also describe instances and ClassicLinks. Turn off for a groups-only audit.
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
    description: The module never changes anything.
  diff_mode:
    support: none
    description: Nothing to diff; see RV(pairs[].drift).
seealso:
  - module: classiclink.mirror.classiclink_mirror_group
  - module: classiclink.mirror.classiclink_instance_link
"""

EXAMPLES = r"""
- name: Audit the region
  classiclink.mirror.classiclink_mirror_info:
  register: audit

- name: Fail when the mirrors drifted
  ansible.builtin.assert:
    that: not audit.drift
    fail_msg: "Mirrors drifted: {{ audit.pairs | rejectattr('in_sync') | map(attribute='source_group_name') | list }}"

- name: Only one target VPC, with pruning in mind
  classiclink.mirror.classiclink_mirror_info:
    vpc_ids: [vpc-0a1b2c3d4e5f60718]
    prune: true
"""

RETURN = r"""
drift:
  description: Whether a run would change anything (rules, tags, mirrors to create, links; with O(prune), orphans and stale links).
  returned: always
  type: bool
sources:
  description: Groups carrying a link tag (and groups whose link tag cannot be read).
  returned: always
  type: list
  elements: dict
  contains:
    group_id:
      description: "Source group id."
      type: str
    group_name:
      description: "Source group name."
      type: str
    vpc_id:
      description: "The source's own VPC (null for EC2-Classic)."
      type: str
    target_vpc_id:
      description: "VPC named by the link tag."
      type: str
    mirror_group_id:
      description: "Existing mirror in the target VPC, or null."
      type: str
    problem:
      description: "Why the source cannot be mirrored, or null."
      type: str
pairs:
  description: One entry per mirrorable source, with what a run would change.
  returned: always
  type: list
  elements: dict
  contains:
    source_group_id:
      description: "Source group id."
      type: str
    source_group_name:
      description: "Source group name."
      type: str
    vpc_id:
      description: "Target VPC."
      type: str
    mirror_group_id:
      description: "Mirror id (a C(new-mirror-of-) placeholder when it would be created)."
      type: str
    in_sync:
      description: "Whether the pair needs nothing."
      type: bool
    drift:
      description: Per direction, the rules a run would C(add), C(revoke) and C(update), and whether the mirror would be created.
      type: dict
    skipped_references:
      description: "Source rules that cannot be translated, with reasons."
      type: list
      elements: dict
    error:
      description: "Why the pair cannot be mirrored, or null."
      type: str
orphans:
  description: Mirrors whose source is gone (C(source_gone)), untagged (C(untagged)) or now linked to another VPC (C(retargeted)).
  returned: always
  type: list
  elements: dict
instances:
  description: Member instances (and linked ones) with their link and what a run would do.
  returned: always
  type: list
  elements: dict
  contains:
    instance_id:
      description: "Instance id."
      type: str
    state:
      description: "Instance state."
      type: str
    vpc_id:
      description: "VPC of the desired link."
      type: str
    groups:
      description: "Groups of the desired link."
      type: list
      elements: str
    link:
      description: "Current link (vpc_id, groups) or null."
      type: dict
    action:
      description: "What a run would do (linked, relinked, unlinked, unchanged, skipped, error)."
      type: str
    reason:
      description: "Why, for skipped, error and stale links."
      type: str
links_error:
  description: Why instances' ClassicLink state could not be read (for example on an account without EC2-Classic), or null.
  returned: always
  type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.classiclink.mirror.plugins.module_utils.audit import audit
from ansible_collections.classiclink.mirror.plugins.module_utils.describe import load_snapshot
from ansible_collections.classiclink.mirror.plugins.module_utils.options import COMMON_ARGS, check_common
from ansible_collections.classiclink.mirror.plugins.module_utils.scope import Scope

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # handled by AnsibleAWSModule


def main():
    argument_spec = dict(
        vpc_ids=dict(type="list", elements="str"),
        prune=dict(type="bool", default=False),
        instances=dict(type="bool", default=True),
        **COMMON_ARGS,
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    check_common(module)
    params = module.params
    keys = tuple(params["link_tag_keys"])
    try:
        snapshot = load_snapshot(
            Scope.of_module(module), keys, with_links=params["instances"], classic_vpc_id=params["classic_vpc_id"], tolerate_link_errors=True
        )
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="Could not describe the security groups, VPCs or instances of this region")
    module.exit_json(changed=False, **audit(snapshot, keys, params["vpc_ids"], params["prune"], params["instances"]))


if __name__ == "__main__":
    main()
