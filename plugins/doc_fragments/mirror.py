# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options every classiclink.mirror module shares.
    DOCUMENTATION = r"""
options:
  link_tag_keys:
    description:
      - Tag keys that declare a source group's target VPC (the link tag).
      - The first key is the one written when M(classiclink.mirror.classiclink_mirror_group) sets a link tag on a group that has none.
      - A group carrying several of these keys with different values is an error for that group.
    type: list
    elements: str
    default: ['classiclinkmirror:linkToVPC', 'classicmirror:linkToVPC']
  classic_vpc_id:
    description:
      - A VPC whose security groups and instances are treated as EC2-Classic ones, or V(default) for the region's
        default VPC.
      - For test environments, where EC2-Classic is emulated by a VPC (the collection's own tests use moto's default
        VPC). On a real account leave it unset; groups without a VPC are EC2-Classic groups.
      - An EC2-Classic source has no egress rules (by default its mirror keeps the VPC default egress), and
        prefix-list rules on its mirror are preserved; only EC2-Classic instances can be linked.
    type: str
  concurrency:
    description:
      - How many independent groups or instances are changed at the same time.
      - EC2 throttles mutating calls per account; throttled calls are retried with jittered backoff.
      - Against real EC2, where each call takes tens of milliseconds, 8 to 16 shortens large runs (see the collection's
        docs/performance.md).
    type: int
    default: 8
"""
