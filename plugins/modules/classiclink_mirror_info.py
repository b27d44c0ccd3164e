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
  - Lists the managed source groups (those carrying a link tag) with their targets and any link-tag problem, the
    pairs (source, target) with the drift a run of M(classiclink.mirror.classiclink_mirror_group) would fix, the
    orphan mirrors (source gone, untagged or retargeted), and the member instances with their ClassicLink status and
    the action M(classiclink.mirror.classiclink_instance_link) would take.
  - Targets in other regions and accounts (VPC ARNs in the link tag, or O(targets)) are audited as the group module
    would mirror them - the same reading of every scope, the same plan. Each other account and region is read once
    (another account through O(target_role_arn)); the scopes the sources' mirroredTo records name are read too, so
    that a mirror whose target left the tag is reported as an orphan even when no tag names its region or account any
    more. A scope that cannot be read fails its pairs only (RV(pairs[].code) V(no_target_role) or
    V(unreachable_scope), with account, region and role in RV(pairs[].error)), and is listed in RV(scopes).
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
  usage_audit:
    description:
      - Report which mirrors are in use (RV(pairs[].mirror_in_use), RV(unused_mirrors), RV(mirrors_in_use) of
        RV(mirrors_total)) - a network interface carries them, a rule of a group that is not a mirror refers to them, or
        an instance is linked to them.
      - One C(DescribeNetworkInterfaces) call per 200 mirrors, in each account and region that holds mirrors.
    type: bool
    default: true
    version_added: 0.1.0
extends_documentation_fragment:
  - classiclink.mirror.mirror
  - classiclink.mirror.mirror.guardrails
  - classiclink.mirror.mirror.targets
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
notes:
  - O(targets), O(target_role_arn), O(target_role_external_id), O(references) and O(address_kind) are accepted with the
    meaning they have for M(classiclink.mirror.classiclink_mirror_group), so that one set of variables drives both
    modules. O(targets) stands for the link tag of every source the audit reports.
  - With O(references=addresses), the address lists and the members of the groups they list are read and planned as a
    run would (RV(address_lists)); the lists a run with O(prune=true) would delete as unused are not reported.
  - In another account or region, a mirror counts as in use (O(usage_audit)) when a network interface carries it; the
    groups there that are not mirrors are not read, so their references to a mirror are not seen.
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

- name: Audit sources mirrored into other accounts (the role is assumed in each target account)
  classiclink.mirror.classiclink_mirror_info:
    target_role_arn: "arn:aws:iam::{account}:role/ClassicLinkMirror"
  register: audit

- name: Name the pairs of each account and region that drifted
  ansible.builtin.debug:
    msg: "{{ item.source_group_name }} -> {{ item.target.account }} {{ item.target.region }} {{ item.vpc_id }}"
  loop: "{{ audit.pairs | rejectattr('in_sync') }}"
  loop_control:
    label: "{{ item.source_group_id }}"

- name: Only one target VPC, with pruning in mind
  classiclink.mirror.classiclink_mirror_info:
    vpc_ids: [vpc-0a1b2c3d4e5f60718]
    prune: true

- name: Name every pair that cannot be mirrored, with its reason code
  ansible.builtin.debug:
    msg: "{{ item.source_group_name }}: {{ item.code }} ({{ item.error }})"
  loop: "{{ audit.pairs | selectattr('code') }}"
  loop_control:
    label: "{{ item.source_group_id }}"

- name: Count the ingress rules a run would authorize, revoke and update
  ansible.builtin.debug:
    msg:
      authorize: "{{ audit.pairs | map(attribute='drift.ingress.authorize') | flatten | length }}"
      revoke: "{{ audit.pairs | map(attribute='drift.ingress.revoke') | flatten | length }}"
      update: "{{ audit.pairs | map(attribute='drift.ingress.update') | flatten | length }}"
"""

RETURN = r"""
drift:
  description:
    - Whether a run would change anything - rules, tags, mirrors to create, links to make or change; with O(prune=true),
      also orphan mirrors and stale links to remove.
    - Pairs that cannot be mirrored (RV(pairs[].error)) are not drift; they are reported with their RV(pairs[].code).
  returned: always
  type: bool
  sample: true
sources:
  description:
    - The groups carrying a link tag, including those whose link tag cannot be read, sorted by name.
    - Each problem carries a reason code in RV(sources[].code) beside the sentence in RV(sources[].problem). The codes come
      from one list shared by all three modules (the same code as in
      RV(classiclink.mirror.classiclink_mirror_group#module:groups[].code)).
  returned: always
  type: list
  elements: dict
  sample:
    - group_id: sg-0123456789abcdef0
      group_name: web-backend
      vpc_id: null
      target_vpc_id: vpc-0a1b2c3d4e5f60718
      mirror_group_id: sg-0fedcba9876543210
      problem: null
      code: null
  contains:
    group_id:
      description: Source group id.
      type: str
      sample: sg-0123456789abcdef0
    group_name:
      description: Source group name.
      type: str
      sample: web-backend
    vpc_id:
      description: The source's own VPC; null for an EC2-Classic group.
      type: str
      sample: null
    target_vpc_id:
      description:
        - The VPC its link tag names (the first one when it names several; see RV(sources[].targets)); null when the link
          tag cannot be read.
      type: str
      sample: vpc-0a1b2c3d4e5f60718
    targets:
      description:
        - Every target the link tag (or O(targets)) names, in its order, with account and region; empty when the link tag
          cannot be read.
      type: list
      elements: dict
      sample:
        - {account: null, region: us-east-1, vpc_id: vpc-0a1b2c3d4e5f60718}
        - {account: "111122223333", region: eu-west-1, vpc_id: vpc-0123456789abcdef0}
      contains:
        account:
          description: The target's account; null for a bare VPC id when no tag or option of the run holds an ARN (the run then does not read its own account).
          type: str
          sample: "111122223333"
        region:
          description: The target's region.
          type: str
          sample: eu-west-1
        vpc_id:
          description: The target VPC.
          type: str
          sample: vpc-0123456789abcdef0
    mirror_group_id:
      description: Its existing mirror in the (first) target VPC, or null (also when a run would create it).
      type: str
      sample: sg-0fedcba9876543210
    problem:
      description:
        - Why the source cannot be mirrored, for a person to read; null when it can. With several targets, the problems of
          every pair that fails, separated by V(; ).
      type: str
      sample: null
    code:
      description:
        - Why the source cannot be mirrored, as a pair code (see RV(classiclink.mirror.classiclink_mirror_group#module:groups[].code));
          null when it can.
        - V(bad_link_tag) - the link tag cannot be read (several link tags naming different VPCs, or a value that is not a VPC id).
        - V(not_found) - the target VPC does not exist.
        - V(same_vpc) - the source is already in the target VPC.
        - V(unreadable_rules) - EC2 returned a rule of the source that cannot be read.
        - V(name_clash) - two sources with one name map to one VPC.
        - V(name_taken) - a same-name group in the target VPC is not this source's mirror.
        - V(no_default_group) - the target VPC has no C(default) group.
        - V(quota) - the mirror would exceed the rules quota (60 per direction).
        - V(guardrail) - a source rule matches a guardrail whose action is V(fail).
        - V(no_target_role) - a target is in another account and O(target_role_arn) is not set (or does not fit it).
        - V(unreachable_scope) - a target's account or region could not be read (role not assumable, region disabled,
          describe refused).
        - V(bad_record) - the source's record of its mirrors would need more tags than allowed.
        - With several targets, the code of the first pair that fails.
        - The codes of a changing run only (V(dependency_failed), V(in_use), V(aws_error)) and of options this module does
          not have (V(ambiguous_name), V(is_mirror), V(no_link_tag), V(bad_vpc_id)) do not appear here.
      type: str
      choices: [bad_link_tag, not_found, same_vpc, unreadable_rules, name_clash, name_taken, no_default_group, quota, guardrail,
                no_target_role, unreachable_scope, bad_record]
      sample: null
pairs:
  description:
    - One entry per (source, target) - a source whose link tag names several VPCs has one entry per VPC, in any account
      and region - with what a run of M(classiclink.mirror.classiclink_mirror_group) would change (RV(pairs[].drift)).
    - Rule changes are keyed V(authorize), V(revoke) and V(update) in RV(pairs[].drift.ingress) and
      RV(pairs[].drift.egress). This rule-change vocabulary is the same in all three modules
      (RV(classiclink.mirror.classiclink_mirror_group#module:groups[].ingress)), in this audit, and in the
      P(classiclink.mirror.mirror_summary#filter) filter.
  returned: always
  type: list
  elements: dict
  sample:
    - source_group_id: sg-0123456789abcdef0
      source_group_name: web-backend
      vpc_id: vpc-0a1b2c3d4e5f60718
      target: {account: "111122223333", region: eu-west-1, vpc_id: vpc-0a1b2c3d4e5f60718}
      mirror_group_id: sg-0fedcba9876543210
      in_sync: false
      drift:
        create: false
        tags:
          mirror:
            set: {}
            removed: []
          source:
            set: {}
            removed: []
        ingress:
          authorize:
            - direction: ingress
              protocol: tcp
              from_port: 443
              to_port: 443
              cidr_ip: 10.0.0.0/8
          revoke: []
          update: []
        egress:
          authorize: []
          revoke: []
          update: []
      skipped_references: []
      error: null
      code: null
  contains:
    source_group_id:
      description: Source group id.
      type: str
      sample: sg-0123456789abcdef0
    source_group_name:
      description: Source group name.
      type: str
      sample: web-backend
    vpc_id:
      description: Target VPC.
      type: str
      sample: vpc-0a1b2c3d4e5f60718
    target:
      description:
        - Where the mirror is (or would be), as RV(classiclink.mirror.classiclink_mirror_group#module:groups[].target).
      type: dict
      sample: {account: "111122223333", region: eu-west-1, vpc_id: vpc-0a1b2c3d4e5f60718}
      contains:
        account:
          description: The target's account; null when the run did not need its own account (no ARN in any tag or option).
          type: str
          sample: "111122223333"
        region:
          description: The target's region.
          type: str
          sample: eu-west-1
        vpc_id:
          description: The target VPC.
          type: str
          sample: vpc-0a1b2c3d4e5f60718
    mirror_group_id:
      description:
        - Mirror id; a C(new-mirror-of-<source id>) placeholder when a run would create it; null when the pair cannot be
          mirrored and has no mirror.
      type: str
      sample: sg-0fedcba9876543210
    in_sync:
      description: Whether the pair needs nothing (false also for a pair that cannot be mirrored).
      type: bool
      sample: false
    drift:
      description:
        - What a run would change for this pair, in the terms of
          RV(classiclink.mirror.classiclink_mirror_group#module:groups) - whether the mirror would be created, the tag
          changes, and per direction the rules to V(authorize), V(revoke) and V(update).
        - Nothing to change for a pair that cannot be mirrored (see RV(pairs[].error)).
      type: dict
      sample:
        create: false
        tags:
          mirror:
            set: {}
            removed: []
          source:
            set: {}
            removed: []
        ingress:
          authorize: []
          revoke: []
          update: []
        egress:
          authorize: []
          revoke: []
          update: []
      contains:
        create:
          description: Whether a run would create the mirror.
          type: bool
          sample: false
        tags:
          description:
            - Tags a run would set and remove, on the mirror and on the source, as
              RV(classiclink.mirror.classiclink_mirror_group#module:groups[].tags).
          type: dict
          sample:
            mirror:
              set: {}
              removed: []
            source:
              set:
                classiclinkmirror:mirroredToVpcSecurityGroupId: sg-0fedcba9876543210
              removed: []
          contains:
            mirror:
              description: Tag changes of the existing mirror (a mirror to create gets its tags when it is created).
              type: dict
              sample:
                set: {}
                removed: []
              contains: &tag_change
                set:
                  description: Tags to set, key to value.
                  type: dict
                  sample:
                    classiclinkmirror:mirroredFromClassicSecurityGroupId: sg-0123456789abcdef0
                removed:
                  description: Tag keys to remove.
                  type: list
                  elements: str
                  sample: []
            source:
              description: Tag changes of the source (its C(classiclinkmirror:mirroredToVpcSecurityGroupId) tag).
              type: dict
              sample:
                set:
                  classiclinkmirror:mirroredToVpcSecurityGroupId: sg-0fedcba9876543210
                removed: []
              contains: *tag_change
        ingress:
          description:
            - Ingress rules a run would change on the mirror, keyed V(authorize), V(revoke) and V(update), exactly as
              RV(classiclink.mirror.classiclink_mirror_group#module:groups[].ingress) (without its C(revoke_first)).
          type: dict
          sample:
            authorize:
              - direction: ingress
                protocol: tcp
                from_port: 443
                to_port: 443
                cidr_ip: 10.0.0.0/8
            revoke: []
            update: []
          contains: &rule_changes
            authorize:
              description: Rules a run would authorize (add) on the mirror, one dict per rule and target.
              type: list
              elements: dict
              sample:
                - direction: ingress
                  protocol: tcp
                  from_port: 443
                  to_port: 443
                  cidr_ip: 10.0.0.0/8
              contains: &rule
                direction:
                  description: V(ingress) or V(egress).
                  type: str
                  sample: ingress
                protocol:
                  description: The protocol in canonical form, V(tcp), V(udp), V(icmp), V(icmpv6), another protocol number, or V(-1) for all.
                  type: str
                  sample: tcp
                from_port:
                  description: First port of the range (tcp, udp), or the ICMP type (V(-1) for all).
                  returned: when the protocol has ports or ICMP types
                  type: int
                  sample: 443
                to_port:
                  description: Last port of the range (tcp, udp), or the ICMP code (V(-1) for all).
                  returned: when the protocol has ports or ICMP types
                  type: int
                  sample: 443
                cidr_ip:
                  description: IPv4 CIDR block allowed.
                  returned: for an IPv4 rule
                  type: str
                  sample: 10.0.0.0/8
                cidr_ipv6:
                  description: IPv6 CIDR block allowed.
                  returned: for an IPv6 rule
                  type: str
                  sample: 2001:db8::/32
                prefix_list_id:
                  description: Managed prefix list allowed.
                  returned: for a prefix-list rule
                  type: str
                  sample: pl-0123456789abcdef0
                group_id:
                  description: Security group allowed (the mirror of the referenced source; a C(new-mirror-of-) placeholder when it would be created).
                  returned: for a group reference
                  type: str
                  sample: sg-0fedcba9876543210
                user_id:
                  description: Account that owns the group in C(group_id).
                  returned: for a group reference
                  type: str
                  sample: "123456789012"
                description:
                  description: Description of the rule (for V(update), the new description).
                  returned: when the rule has a description
                  type: str
                  sample: https from the office
            revoke:
              description: Rules a run would revoke from the mirror, same fields as RV(pairs[].drift.ingress.authorize).
              type: list
              elements: dict
              sample: []
              contains: *rule
            update:
              description:
                - Rules whose description alone differs, which a run would fix with the description-update call; each shows
                  the new description. Same fields as RV(pairs[].drift.ingress.authorize).
              type: list
              elements: dict
              sample: []
              contains: *rule
        egress:
          description:
            - Egress rules a run would change on the mirror, same keys and fields as RV(pairs[].drift.ingress) (empty lists
              for an EC2-Classic source, whose mirror keeps the VPC default egress).
          type: dict
          sample:
            authorize: []
            revoke: []
            update: []
          contains: *rule_changes
    mirror_in_use:
      description:
        - With O(usage_audit), whether the mirror is in use - a network interface carries it, a rule of a group that is
          not a mirror refers to it, or an instance is linked to it; null when the mirror does not exist yet or
          O(usage_audit=false).
      type: bool
      sample: true
    withheld_rules:
      description:
        - Source rules that O(guardrails) keep out of the mirror, as
          RV(classiclink.mirror.classiclink_mirror_group#module:groups[].withheld_rules). Not drift.
      type: list
      elements: dict
      sample:
        - {direction: ingress, protocol: tcp, from_port: 22, to_port: 22, cidr_ip: 0.0.0.0/0,
           pattern: {protocol: tcp, ports: "22", cidr: 0.0.0.0/0, action: withhold},
           reason: "matches guardrail tcp 22 from 0.0.0.0/0: not mirrored, and revoked from the mirror", code: guardrail}
      contains:
        pattern:
          description: The guardrail the rule matched (C(protocol), C(ports), C(cidr), C(action)).
          type: dict
          sample: {protocol: tcp, ports: "22", cidr: 0.0.0.0/0, action: withhold}
        reason:
          description: What happened to the rule, for a person.
          type: str
          sample: "matches guardrail tcp 22 from 0.0.0.0/0: not mirrored, and revoked from the mirror"
        code:
          description: Always V(guardrail).
          type: str
          sample: guardrail
    skipped_references:
      description:
        - Source rules whose group reference cannot be translated into the target VPC, as
          RV(classiclink.mirror.classiclink_mirror_group#module:groups[].skipped_references) - the rule's fields with
          C(reason) and C(code).
      type: list
      elements: dict
      sample:
        - direction: ingress
          protocol: tcp
          from_port: 5432
          to_port: 5432
          group_id: sg-0aaaaaaaaaaaaaaaa
          user_id: "123456789012"
          reason: group sg-0aaaaaaaaaaaaaaaa is not managed by classiclink.mirror (no link tag); tag it to mirror the reference
          code: unmanaged_reference
      contains:
        direction:
          description: V(ingress) or V(egress).
          type: str
          sample: ingress
        protocol:
          description: The protocol in canonical form, V(tcp), V(udp), V(icmp), V(icmpv6), another protocol number, or V(-1) for all.
          type: str
          sample: tcp
        from_port:
          description: First port of the range (tcp, udp), or the ICMP type.
          returned: when the protocol has ports or ICMP types
          type: int
          sample: 5432
        to_port:
          description: Last port of the range (tcp, udp), or the ICMP code.
          returned: when the protocol has ports or ICMP types
          type: int
          sample: 5432
        group_id:
          description: The group the source rule refers to.
          type: str
          sample: sg-0aaaaaaaaaaaaaaaa
        user_id:
          description: Account that owns that group (for an EC2-Classic load balancer, V(amazon-elb)).
          returned: when the rule names the owner
          type: str
          sample: "123456789012"
        description:
          description: Description of the source rule.
          returned: when the rule has a description
          type: str
          sample: postgres from the app
        reason:
          description: Why the reference is not mirrored, and what to do about it, for a person to read.
          type: str
          sample: group sg-0aaaaaaaaaaaaaaaa is not managed by classiclink.mirror (no link tag); tag it to mirror the reference
        code:
          description:
            - Why the reference is not mirrored, as one of the skipped reference codes below.
            - V(unmanaged_reference) - the referenced group carries no link tag.
            - V(other_target_reference) - the referenced group is mirrored into another VPC.
            - V(cross_account_reference) - the referenced group belongs to another account.
            - V(classic_elb_reference) - the EC2-Classic load balancer group has no VPC equivalent.
            - V(unplannable_reference) - the referenced group's mirror cannot be planned (its own pair fails).
          type: str
          choices: [unmanaged_reference, other_target_reference, cross_account_reference, classic_elb_reference, unplannable_reference]
          sample: unmanaged_reference
    error:
      description: Why the pair cannot be mirrored, for a person to read; null when it can.
      type: str
      sample: null
    code:
      description:
        - Why the pair cannot be mirrored, as a pair code (see RV(classiclink.mirror.classiclink_mirror_group#module:groups[].code));
          null when it can.
        - V(not_found) - the target VPC does not exist.
        - V(same_vpc) - the source is already in the target VPC.
        - V(unreadable_rules) - EC2 returned a rule of the source that cannot be read.
        - V(name_clash) - two sources with one name map to one VPC.
        - V(name_taken) - a same-name group in the target VPC is not this source's mirror.
        - V(no_default_group) - the target VPC has no C(default) group.
        - V(quota) - the mirror would exceed the rules quota (60 per direction).
        - V(guardrail) - a source rule matches a guardrail whose action is V(fail).
        - V(no_target_role) - the target is in another account and O(target_role_arn) is not set (or does not fit it); the
          message names O(target_role_arn) and the account.
        - V(unreachable_scope) - the target's account or region could not be read (role not assumable, region disabled,
          describe refused); the message names account, region and role.
        - V(bad_record) - the source's record of its mirrors would need more tags than allowed.
        - A source whose link tag cannot be read (V(bad_link_tag)) has no pair; see RV(sources[].code).
      type: str
      choices: [not_found, same_vpc, unreadable_rules, name_clash, name_taken, no_default_group, quota, guardrail, no_target_role,
                unreachable_scope, bad_record]
      sample: null
orphans:
  description:
    - Mirrors whose source is gone, untagged or now linked to another VPC (in O(vpc_ids) when it is set), in every account
      and region read - also those only the source's mirroredTo record still names. They are drift only with
      O(prune=true).
    - A source whose link tag cannot be read, or one of whose pairs fails, keeps its mirrors (none is an orphan).
  returned: always
  type: list
  elements: dict
  sample:
    - group_id: sg-0fedcba9876543210
      group_name: web-old
      vpc_id: vpc-0a1b2c3d4e5f60718
      mirrored_from: sg-0123456789abcdef0
      reason: retargeted
      target: {account: "111122223333", region: eu-west-1, vpc_id: vpc-0a1b2c3d4e5f60718}
  contains:
    group_id:
      description: Id of the orphan mirror.
      type: str
      sample: sg-0fedcba9876543210
    group_name:
      description: Name of the orphan mirror.
      type: str
      sample: web-old
    vpc_id:
      description: VPC of the orphan mirror.
      type: str
      sample: vpc-0a1b2c3d4e5f60718
    mirrored_from:
      description:
        - The source group id its C(classiclinkmirror:mirroredFromClassicSecurityGroupId) tag names (a mirror in another
          account or region names its source by ARN; this is the source's bare id).
      type: str
      sample: sg-0123456789abcdef0
    target:
      description: The orphan's account, region and VPC.
      type: dict
      sample: {account: "111122223333", region: eu-west-1, vpc_id: vpc-0a1b2c3d4e5f60718}
      contains:
        account:
          description: Its account; null when the run did not need its own account (no ARN in any tag).
          type: str
          sample: "111122223333"
        region:
          description: Its region.
          type: str
          sample: eu-west-1
        vpc_id:
          description: Its VPC.
          type: str
          sample: vpc-0a1b2c3d4e5f60718
    reason:
      description:
        - Why the mirror is an orphan, as RV(classiclink.mirror.classiclink_mirror_group#module:orphans[].reason).
        - V(source_gone) - the source group no longer exists.
        - V(untagged) - the source no longer carries a link tag.
        - V(retargeted) - the source's link tag now names another VPC.
      type: str
      choices: [source_gone, untagged, retargeted]
      sample: retargeted
instances:
  description:
    - Member instances (and linked ones) with their link and what a run of
      M(classiclink.mirror.classiclink_instance_link) would do, in the terms of its
      RV(classiclink.mirror.classiclink_instance_link#module:instances) (without C(previous); see RV(instances[].link)).
    - Empty with O(instances=false), and when the ClassicLink state could not be read (see RV(links_error)).
  returned: always
  type: list
  elements: dict
  sample:
    - instance_id: i-0123456789abcdef0
      state: running
      vpc_id: vpc-0a1b2c3d4e5f60718
      groups: [sg-0fedcba9876543210]
      link:
        vpc_id: vpc-0a1b2c3d4e5f60718
        groups: [sg-0fedcba9876543210]
      action: unchanged
      reason: null
      code: null
      aws_code: null
  contains:
    instance_id:
      description: Instance id.
      type: str
      sample: i-0123456789abcdef0
    state:
      description: Instance state (V(running), V(stopped), ...).
      type: str
      sample: running
    vpc_id:
      description: VPC of the desired link (for a stale link, of the current one); null when the instance has none.
      type: str
      sample: vpc-0a1b2c3d4e5f60718
    groups:
      description:
        - VPC group ids of the desired link, sorted (a C(new-mirror-of-<source id>) placeholder for a mirror a run would
          create first).
      type: list
      elements: str
      sample: [sg-0fedcba9876543210]
    link:
      description: The instance's current ClassicLink; null when it has none.
      type: dict
      sample:
        vpc_id: vpc-0a1b2c3d4e5f60718
        groups: [sg-0fedcba9876543210]
      contains:
        vpc_id:
          description: VPC the instance is linked to.
          type: str
          sample: vpc-0a1b2c3d4e5f60718
        groups:
          description: VPC group ids of the link, sorted.
          type: list
          elements: str
          sample: [sg-0fedcba9876543210]
    action:
      description:
        - What a run would do, as RV(classiclink.mirror.classiclink_instance_link#module:instances[].action).
        - V(linked), V(relinked) and V(unlinked) (a stale link, with O(prune=true)) are drift.
      type: str
      choices: [linked, relinked, unlinked, unchanged, skipped, error]
      sample: unchanged
    reason:
      description:
        - For a person to read - why the instance would be skipped or fail, why a stale link is kept or removed, or what a
          relink would replace; null otherwise.
      type: str
      sample: null
    code:
      description:
        - Why the instance would be skipped or fail, or keeps a stale link, as an instance code (see
          RV(classiclink.mirror.classiclink_instance_link#module:instances[].code)); null otherwise.
        - With V(skipped) - V(vpc_conflict) (the instance's managed groups map to more than one VPC), V(not_running) (only
          running instances can be linked), V(not_classic) (not an EC2-Classic instance), V(not_member) (the instance is in
          no managed group).
        - With V(unchanged) - V(stale_link_kept) (a stale link is kept until a run with pruning on).
        - With V(error) - V(not_found) (the target VPC does not exist), V(too_many_groups) (a ClassicLink takes at most five
          groups), V(mirror_missing) (the mirror of a member group does not exist and a run would not create it),
          V(classiclink_disabled) (ClassicLink is not enabled on the target VPC).
      type: str
      choices: [vpc_conflict, not_running, not_classic, not_member, stale_link_kept, not_found, too_many_groups, mirror_missing,
                classiclink_disabled]
      sample: null
    aws_code:
      description:
        - EC2's error code of a failed call. Always null here (the audit makes no ClassicLink call that could fail per
          instance); present so that an entry has the fields of
          RV(classiclink.mirror.classiclink_instance_link#module:instances).
      type: str
      sample: null
unused_mirrors:
  description:
    - Mirrors that exist and that nothing uses yet (see O(usage_audit)), in the order of RV(pairs). Empty when
      O(usage_audit=false).
  returned: always
  type: list
  elements: dict
  sample:
    - group_id: sg-0fedcba9876543210
      group_name: web-backend
      vpc_id: vpc-0a1b2c3d4e5f60718
      mirrored_from: sg-0123456789abcdef0
  contains:
    group_id:
      description: The mirror's id.
      type: str
      sample: sg-0fedcba9876543210
    group_name:
      description: Its name (the source's).
      type: str
      sample: web-backend
    vpc_id:
      description: The target VPC.
      type: str
      sample: vpc-0a1b2c3d4e5f60718
    mirrored_from:
      description: The source's id.
      type: str
      sample: sg-0123456789abcdef0
mirrors_in_use:
  description: How many of the RV(mirrors_total) existing mirrors are in use (0 when O(usage_audit=false)).
  returned: always
  type: int
  sample: 12
mirrors_total:
  description: How many mirrors of the pairs exist (0 when O(usage_audit=false)); the migration's progress is RV(mirrors_in_use) of this.
  returned: always
  type: int
  sample: 40
redundant_sources:
  description:
    - Groups of source ids whose rules are identical in canonical form (descriptions aside, a group's reference to
      itself counted as such) within one VPC; candidates to consolidate before they are mirrored.
  returned: always
  type: list
  elements: list
  sample: [["sg-0123456789abcdef0", "sg-0123456789abcdef1"]]
scopes:
  description:
    - The accounts and regions the audit read or tried to read - its own first, then every other scope a target or a
      source's mirroredTo record names - with the role used and why a scope could not be read.
  returned: always
  type: list
  elements: dict
  sample:
    - {account: "123456789012", region: us-east-1, home: true, read: true, role_arn: null, error: null, code: null}
    - account: "111122223333"
      region: eu-west-1
      home: false
      read: false
      role_arn: null
      error: >-
        account 111122223333, region eu-west-1: could not assume role arn:aws:iam::111122223333:role/ClassicLinkMirror
        (target_role_arn): AccessDenied: ...
      code: unreachable_scope
  contains:
    account:
      description: The account; null for the module's own when the run did not need it (no ARN in any tag or option).
      type: str
      sample: "111122223333"
    region:
      description: The region.
      type: str
      sample: eu-west-1
    home:
      description: Whether this is the module's own account and region.
      type: bool
      sample: false
    read:
      description: Whether the scope was read; its pairs fail (RV(pairs[].code)) when it was not.
      type: bool
      sample: true
    role_arn:
      description: The role assumed for it (O(role_arn) for the module's own scope, O(target_role_arn) for another account), or null.
      type: str
      sample: arn:aws:iam::111122223333:role/ClassicLinkMirror
    error:
      description: Why it could not be read (account, region and role named), or null.
      type: str
      sample: null
    code:
      description: V(no_target_role) or V(unreachable_scope) when it could not be read, else null.
      type: str
      choices: [no_target_role, unreachable_scope]
      sample: null
address_lists:
  description:
    - With O(references=addresses), what a run would do with each address list the mirrors' rules refer to, in every
      target scope, in the terms of RV(classiclink.mirror.classiclink_mirror_group#module:address_lists) (C(action),
      C(entries), C(added), C(removed), C(members_without_public_address), ...). A list a run would create is named by
      its placeholder C(new-address-list-<family>-of-<group ARN>). A list a run would change is drift.
    - Empty with O(references=drop).
  returned: always
  type: list
  elements: dict
  version_added: 0.1.0
  sample:
    - account: "111122223333"
      region: eu-west-1
      group_arn: arn:aws:ec2:us-east-1:111122223333:security-group/sg-0123456789abcdef0
      group_id: sg-0123456789abcdef0
      family: IPv4
      name: classiclinkmirror-addresses-sg-0123456789abcdef0-111122223333-us-east-1-ipv4
      prefix_list_id: pl-0123456789abcdef0
      action: modified
      changed: true
      max_entries: 10
      resized_to: null
      entries: [10.20.0.4/32, 10.20.0.9/32]
      entries_added: 1
      entries_removed: 0
      added: [10.20.0.9/32]
      removed: []
      reason: null
      members_without_public_address: []
      error: null
      code: null
      aws_code: null
links_error:
  description: Why the instances' ClassicLink state could not be read (for example on an account without EC2-Classic), or null.
  returned: always
  type: str
  sample: null
"""

from ansible_collections.classiclink.mirror.plugins.module_utils.aws_module import MirrorAWSModule

from ansible_collections.classiclink.mirror.plugins.module_utils.address_lists import plan_with_lists
from ansible_collections.classiclink.mirror.plugins.module_utils.audit import audit, audit_options, audit_refs
from ansible_collections.classiclink.mirror.plugins.module_utils.describe import scope_warnings
from ansible_collections.classiclink.mirror.plugins.module_utils.options import (
    COMMON_ARGS,
    GUARDRAIL_ARGS,
    TARGET_ARGS,
    check_common,
    check_targets,
    guardrails_of,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import MirrorOptions
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_groups import plan_pairs
from ansible_collections.classiclink.mirror.plugins.module_utils.report import address_lists_result
from ansible_collections.classiclink.mirror.plugins.module_utils.scopes_run import carried_groups, read_scopes

try:
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError  # an answer that cannot be parsed, after the retries
except ImportError:
    pass  # handled by AnsibleAWSModule


def scopes_result(run):
    """Every scope the audit read or tried to read: the home scope first."""
    snapshot = run.snapshot
    entries = [{"account": snapshot.home.account or None, "region": snapshot.home.region or None, "home": True, "read": True,
                "role_arn": run.scope.role_arn, "error": None, "code": None}]
    for target in sorted(set(run.others) | set(run.problems)):
        problem = run.problems.get(target)
        scope = run.others.get(target)
        entries.append({"account": target.account, "region": target.region, "home": False, "read": problem is None,
                        "role_arn": scope.role_arn if scope is not None else None,
                        "error": problem.message if problem else None, "code": problem.code if problem else None})
    return entries


def main():
    argument_spec = dict(
        vpc_ids=dict(type="list", elements="str"),
        prune=dict(type="bool", default=False),
        instances=dict(type="bool", default=True),
        usage_audit=dict(type="bool", default=True),
        **TARGET_ARGS,
        **GUARDRAIL_ARGS,
        **COMMON_ARGS,
    )
    module = MirrorAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    check_common(module)
    check_targets(module)
    params = module.params
    keys = tuple(params["link_tag_keys"])
    options = MirrorOptions(link_tag_keys=keys, guardrails=guardrails_of(module), references=params["references"],
                            address_kind=params["address_kind"])
    # The same reading as the group module's (home scope, targets option, other accounts and regions), for every source.
    run = read_scopes(module, options, [], "Could not describe the security groups, VPCs or instances of this region",
                      every_source=True, with_links=params["instances"], classic_vpc_id=params["classic_vpc_id"],
                      tolerate_link_errors=True, name_references=True)
    snapshot = run.snapshot
    carried = None
    if params["usage_audit"]:
        carried = carried_groups(module, run, [group.id for group in snapshot.mirrors()])
    for warning in scope_warnings(snapshot, run.problems):
        module.warn(warning)
    # Plan as a run of the group module over every source would, address lists included (read, then planned again).
    options = audit_options(run.options, params["vpc_ids"])
    refs = audit_refs(snapshot, keys, params["vpc_ids"])
    plan = plan_pairs(snapshot, refs, options)
    try:
        plan, lists = plan_with_lists(snapshot, refs, options, plan, run.scope, run.others, params["concurrency"])
    except (BotoCoreError, ClientError, ResponseParserError) as e:
        module.fail_json_aws(e, msg="Could not read the members (network interfaces) of the groups whose address lists the mirrors refer to")
    result = audit(snapshot, keys, params["vpc_ids"], params["prune"], params["instances"], interface_groups=carried,
                   options=options, plan=plan)
    result["address_lists"] = []
    if options.references == "addresses":
        result["address_lists"] = address_lists_result(lists.plans, lists.members, lists.current, snapshot.home)[0]
        result["drift"] = result["drift"] or lists.changed
        for problem in lists.problems.values():
            module.warn(problem.message)
    module.exit_json(changed=False, scopes=scopes_result(run), **result)


if __name__ == "__main__":
    main()
