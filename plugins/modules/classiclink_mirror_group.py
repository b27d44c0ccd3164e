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
  - Keeps a B(mirror) of each source security group in each of its target VPCs. The mirror has the source's name and
    description and is tagged C(classiclinkmirror:mirroredFromClassicSecurityGroupId=<source id>) (the source's
    group ARN for a mirror in another account or region); the source is tagged
    C(classiclinkmirror:mirroredToVpcSecurityGroupId=<mirror id>), its record of every mirror (comma-separated, the
    group ARN for a mirror elsewhere, continued in C(...:2), C(...:3) tags when longer than a tag value holds).
  - The target VPC is read from the source's link tag (C(classiclinkmirror:linkToVPC) or C(classicmirror:linkToVPC)),
    or given with O(vpc_id), which then also writes the link tag so that later runs read the same declaration.
  - Rules are compared in one canonical form (protocol names and numbers, CIDRs with host bits, IPv6, prefix lists,
    group references) with descriptions compared apart from the rules, so a description-only change is fixed
    with the description-update call, never by revoking and adding.
  - A reference to the source itself becomes a reference to its mirror; a reference to another managed source
    mirrored into the same VPC becomes a reference to that source's mirror, which is created first (empty) when
    missing, so reference cycles converge in one run. Any other group reference cannot be translated; with
    O(references=drop) (the default) it is dropped and reported in RV(groups[].skipped_references); with
    O(references=addresses) it becomes a reference to the referenced group's address list (RV(address_lists)).
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
      - The one-target shorthand of O(targets); mutually exclusive with it.
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
  usage_audit:
    description:
      - Also report which mirrors are in use (RV(groups[].mirror_in_use), RV(unused_mirrors)) - a network interface
        carries them, or a rule of a group that is not a mirror refers to them.
      - Reads only, one C(DescribeNetworkInterfaces) call per 200 mirrors in each mirror's own account and region,
        and the groups of the target VPCs (which a
        run without it does not read once every mirror exists). The audit does not read ClassicLinks; the
        role's summary counts a mirror that the run's links (O(link_instances=true)) use as in use.
    type: bool
    default: false
    version_added: 0.1.0
  link_instances:
    description:
      - Also link the member EC2-Classic instances to the mirrors of their groups, in the same run and from the same
        describes, as M(classiclink.mirror.classiclink_instance_link) does without O(classiclink.mirror.classiclink_instance_link#module:instance_ids)
        (every member of a managed group and every linked instance, limited to O(vpc_ids) when set).
      - The order is mirror, link, then prune (with O(prune=true)). Instances leave a retargeted mirror before it is
        deleted, and a stale ClassicLink is removed only with O(prune=true).
      - The role C(classiclink.mirror.mirror) runs a scope this way, in one module process.
      - Cannot be combined with O(vpc_id), O(targets) or O(state=absent).
    type: bool
    default: false
    version_added: 0.1.0
  enable_classiclink:
    description:
      - With O(link_instances=true), enable ClassicLink on a target VPC that does not have it.
    type: bool
    default: false
    version_added: 0.1.0
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
  - classiclink.mirror.mirror.guardrails
  - classiclink.mirror.mirror.targets
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description: Check mode plans from the same describes and reports exactly what a real run would change, with no mutating call.
  diff_mode:
    support: full
    description: Shows the mirror's rules and tags before and after, per group, and with O(references=addresses) each address
      list's entries before and after (naming the list, its group and its account and region).
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

- name: Show the ingress rules the dry run would authorize and revoke, and the references it cannot mirror
  ansible.builtin.debug:
    msg:
      authorize: "{{ dry_run.groups | map(attribute='ingress.authorize') | flatten }}"
      revoke: "{{ dry_run.groups | map(attribute='ingress.revoke') | flatten }}"
      unmanaged_references: "{{ dry_run.groups | map(attribute='skipped_references') | flatten | selectattr('code', '==', 'unmanaged_reference') }}"

- name: A whole scope in one call - mirror every tagged group, link the instances, delete orphans (the role's way)
  classiclink.mirror.classiclink_mirror_group:
    all_sources: true
    link_instances: true
    prune: true
    region: eu-west-1
    role_arn: arn:aws:iam::111122223333:role/classiclink-mirror
    account_id: "111122223333"

- name: Mirror into a VPC of another account and one of another region (the link tag can say the same)
  classiclink.mirror.classiclink_mirror_group:
    source_group: web-backend
    targets:
      - arn:aws:ec2:eu-west-1:444455556666:vpc/vpc-0a1b2c3d4e5f60718
      - arn:aws:ec2:us-west-2:111122223333:vpc/vpc-0f1e2d3c4b5a69788
    target_role_arn: arn:aws:iam::{account}:role/ClassicLinkMirror

- name: Every tagged group, its mirrors in every account and region its link tag names, orphans deleted
  classiclink.mirror.classiclink_mirror_group:
    all_sources: true
    target_role_arn: arn:aws:iam::{account}:role/ClassicLinkMirror
    prune: true

- name: Remove a mirror
  classiclink.mirror.classiclink_mirror_group:
    source_group: web-ssh
    state: absent
"""

RETURN = r"""
orphans:
  description:
    - Orphan mirrors seen by this run, in the module's own account and region and in every other scope the run read
      (the sources' targets, and the scopes their mirroredTo records name); only those in O(prune_vpc_ids), or else
      O(vpc_ids), when set. They are deleted only with O(prune=true); each one deleted then also has an entry in
      RV(groups) with RV(groups[].orphan) set.
    - A source whose link tag cannot be read, or whose pair failed in this run, never makes its mirror an orphan.
  returned: always
  type: list
  elements: dict
  sample:
    - group_id: sg-0fedcba9876543210
      group_name: web-old
      vpc_id: vpc-0a1b2c3d4e5f60718
      mirrored_from: sg-0123456789abcdef0
      reason: source_gone
      target: {account: "111122223333", region: eu-west-1, vpc_id: vpc-0a1b2c3d4e5f60718}
  contains:
    target:
      description:
        - Where the orphan mirror is, as RV(groups[].target). C(account) is null when the run did not need its own
          account (no ARN in any tag, record or option).
      type: dict
      version_added: 0.1.0
      contains:
        account:
          description: The mirror's account.
          type: str
          sample: "111122223333"
        region:
          description: The mirror's region.
          type: str
          sample: eu-west-1
        vpc_id:
          description: The mirror's VPC.
          type: str
          sample: vpc-0a1b2c3d4e5f60718
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
      description: The source group its C(classiclinkmirror:mirroredFromClassicSecurityGroupId) tag names (an id, or a group ARN for a mirror in another scope).
      type: str
      sample: sg-0123456789abcdef0
    reason:
      description:
        - Why the mirror is an orphan.
        - V(source_gone) - the source group no longer exists.
        - V(untagged) - the source no longer carries a link tag.
        - V(retargeted) - the source's link tag now names another VPC (or O(vpc_id) gave it another one in this run).
        - The same reasons as RV(groups[].orphan) and RV(classiclink.mirror.classiclink_mirror_info#module:orphans[].reason).
      type: str
      choices: [source_gone, untagged, retargeted]
      sample: source_gone
group_id:
  description:
    - Id of the mirror, when one source was given with O(source_group) (RV(groups[0].mirror_group_id)).
    - In check mode, a mirror that would be created is named by the placeholder C(new-mirror-of-<source id>).
  returned: when O(source_group) is set and the pair has a mirror
  type: str
  sample: sg-0fedcba9876543210
groups:
  description:
    - One entry per pair given, followed by the mirrors created (empty) only because another pair refers to them, then,
      with O(prune=true), one entry per orphan mirror deleted (in check mode, to delete).
    - Every failure carries a reason code in RV(groups[].code) (and EC2's own error code in RV(groups[].aws_code)) beside
      the sentence in RV(groups[].error); every skipped reference carries RV(groups[].skipped_references[].code) beside its
      C(reason). The codes come from one list shared by all three modules; a pair has the same code here and in
      RV(classiclink.mirror.classiclink_mirror_info#module:pairs[].code).
    - Rule changes are keyed V(authorize), V(revoke) and V(update) in RV(groups[].ingress) and RV(groups[].egress). This
      rule-change vocabulary is the same in all three modules, in the audit
      (RV(classiclink.mirror.classiclink_mirror_info#module:pairs[].drift)) and in the
      P(classiclink.mirror.mirror_summary#filter) filter.
  returned: always
  type: list
  elements: dict
  sample:
    - source_ref: web-backend
      source_group_id: sg-0123456789abcdef0
      source_group_name: web-backend
      vpc_id: vpc-0a1b2c3d4e5f60718
      mirror_group_id: sg-0fedcba9876543210
      created: false
      adopted: false
      deleted: []
      referenced_only: false
      orphan: null
      changed: true
      ingress:
        authorize:
          - direction: ingress
            protocol: tcp
            from_port: 443
            to_port: 443
            cidr_ip: 10.0.0.0/8
            description: https from the office
        revoke:
          - direction: ingress
            protocol: tcp
            from_port: 80
            to_port: 80
            cidr_ip: 0.0.0.0/0
        update: []
        revoke_first: false
      egress:
        authorize: []
        revoke: []
        update: []
        revoke_first: false
      tags:
        mirror:
          set: {}
          removed: []
        source:
          set: {}
          removed: []
      skipped_references:
        - direction: ingress
          protocol: tcp
          from_port: 5432
          to_port: 5432
          group_id: sg-0aaaaaaaaaaaaaaaa
          user_id: "123456789012"
          reason: group sg-0aaaaaaaaaaaaaaaa is not managed by classiclink.mirror (no link tag); tag it to mirror the reference
          code: unmanaged_reference
      warnings: []
      error: null
      code: null
      aws_code: null
  contains:
    source_ref:
      description: The source id or name as given (for a deleted orphan, the source id its mirroredFrom tag names).
      type: str
      sample: web-backend
    source_group_id:
      description: Id of the source group; null when O(source_group) named no group.
      type: str
      sample: sg-0123456789abcdef0
    target:
      description:
        - Where the mirror is - its account (null when the run did not need its own account, that is when no target
          or tag is an ARN), region and VPC (the same as RV(groups[].vpc_id)).
      type: dict
      returned: always
      version_added: 0.1.0
      sample: {account: "444455556666", region: eu-west-1, vpc_id: vpc-0a1b2c3d4e5f60718}
      contains:
        account:
          description: The target's account id.
          type: str
          sample: "444455556666"
        region:
          description: The target's region.
          type: str
          sample: eu-west-1
        vpc_id:
          description: The target VPC.
          type: str
          sample: vpc-0a1b2c3d4e5f60718
    source_group_name:
      description: Name of the source group; null when O(source_group) named no group.
      type: str
      sample: web-backend
    vpc_id:
      description: Target VPC of the pair; null when it could not be determined.
      type: str
      sample: vpc-0a1b2c3d4e5f60718
    mirror_group_id:
      description:
        - Id of the mirror; null when the pair has none.
        - In check mode, a mirror that would be created is named by the placeholder C(new-mirror-of-<source id>).
      type: str
      sample: sg-0fedcba9876543210
    created:
      description: Whether the mirror was (in check mode, would be) created.
      type: bool
      sample: false
    adopted:
      description: Whether an existing group (the VPC's C(default) group, or a same-name group with O(adopt=true)) became the mirror.
      type: bool
      sample: false
    deleted:
      description: Mirrors deleted by O(state=absent) or, for an orphan, by O(prune=true).
      type: list
      elements: str
      sample: []
    referenced_only:
      description: The mirror was created empty because another pair refers to it; its rules follow on its own run.
      type: bool
      sample: false
    orphan:
      description:
        - For an orphan mirror deleted by O(prune=true), why it was an orphan, else null.
        - One of V(source_gone), V(untagged) or V(retargeted), as in RV(orphans[].reason).
      type: str
      sample: null
    changed:
      description: Whether this pair changed (in check mode, would change).
      type: bool
      sample: true
    ingress:
      description:
        - The ingress rule changes of the mirror, keyed V(authorize), V(revoke) and V(update) (empty lists when nothing
          changes, or when the pair failed).
        - The same rule-change vocabulary as RV(classiclink.mirror.classiclink_mirror_info#module:pairs[].drift) and the
          P(classiclink.mirror.mirror_summary#filter) filter (which counts them as C(rules_added), C(rules_revoked) and C(rules_updated)).
      type: dict
      sample:
        authorize:
          - direction: ingress
            protocol: tcp
            from_port: 443
            to_port: 443
            cidr_ip: 10.0.0.0/8
            description: https from the office
        revoke: []
        update: []
        revoke_first: false
      contains: &rule_changes
        authorize:
          description: Rules authorized (added) on the mirror, one dict per rule and target.
          type: list
          elements: dict
          sample:
            - direction: ingress
              protocol: tcp
              from_port: 443
              to_port: 443
              cidr_ip: 10.0.0.0/8
              description: https from the office
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
              description:
                - Managed prefix list allowed. With O(references=addresses), the address list of a group (RV(address_lists));
                  in check mode a list to create is named by its C(new-address-list-) placeholder.
              returned: for a prefix-list rule
              type: str
              sample: pl-0123456789abcdef0
            group_id:
              description: Security group allowed (on a mirror, the mirror of the referenced source; a C(new-mirror-of-) placeholder in check mode).
              returned: for a group reference
              type: str
              sample: sg-0fedcba9876543210
            user_id:
              description: Account that owns the group in C(group_id).
              returned: for a group reference
              type: str
              sample: "123456789012"
            group_name:
              description: Name of the group in C(group_id), when the run knows it.
              returned: for a group reference whose name is known
              type: str
              sample: web-backend
            reason:
              description:
                - For a revoked reference that goes because the referenced mirror's source stopped being managed here (a
                  knock-on change), which source and why.
              returned: for such a revoked reference
              type: str
              sample: "refers to app (sg-0fedcba9876543211), the mirror of a group that stopped being managed: its source app
                (sg-0123456789abcdef1) is no longer managed (no valid link tag)"
            code:
              description: V(unmanaged_reference) beside RV(groups[].ingress.revoke[].reason).
              returned: with C(reason)
              type: str
              sample: unmanaged_reference
            description:
              description: Description of the rule (for V(update), the new description).
              returned: when the rule has a description
              type: str
              sample: https from the office
        revoke:
          description: Rules revoked from the mirror (rules the source does not have, with O(purge_rules=true)), same fields as RV(groups[].ingress.authorize).
          type: list
          elements: dict
          sample:
            - direction: ingress
              protocol: tcp
              from_port: 80
              to_port: 80
              cidr_ip: 0.0.0.0/0
          contains: *rule
        update:
          description:
            - Rules whose description alone changed, fixed with the description-update call (never by revoking and
              authorizing); each shows the new description. Same fields as RV(groups[].ingress.authorize).
          type: list
          elements: dict
          sample:
            - direction: ingress
              protocol: tcp
              from_port: 22
              to_port: 22
              cidr_ip: 10.1.0.0/16
              description: ssh from the bastions
          contains: *rule
        revoke_first:
          description: Whether the revokes ran before the authorizes, so that the mirror stays within O(rules_quota).
          type: bool
          sample: false
    egress:
      description:
        - The egress rule changes of the mirror, same keys and fields as RV(groups[].ingress).
        - Empty lists when egress is not mirrored (see O(egress)).
      type: dict
      sample:
        authorize: []
        revoke: []
        update: []
        revoke_first: false
      contains: *rule_changes
    tags:
      description: Tags set and removed by this run, on the mirror and on the source.
      type: dict
      sample:
        mirror:
          set:
            migration: wave-1
          removed: []
        source:
          set:
            classiclinkmirror:mirroredToVpcSecurityGroupId: sg-0fedcba9876543210
          removed: []
      contains:
        mirror:
          description:
            - Tag changes of an existing mirror (relationship tags and O(tags)). A mirror created by this run gets its tags
              when it is created; they show in the diff, not here.
          type: dict
          sample:
            set:
              migration: wave-1
            removed: []
          contains: &tag_change
            set:
              description: Tags set, key to value.
              type: dict
              sample:
                migration: wave-1
            removed:
              description: Tag keys removed.
              type: list
              elements: str
              sample: [owner]
        source:
          description:
            - Tag changes of the source, its C(classiclinkmirror:mirroredToVpcSecurityGroupId) tag and, with O(vpc_id), its link
              tag. With O(state=absent) the mirroredTo tag is removed.
          type: dict
          sample:
            set:
              classiclinkmirror:mirroredToVpcSecurityGroupId: sg-0fedcba9876543210
            removed: []
          contains: *tag_change
    withheld_rules:
      description:
        - Source rules that O(guardrails) keep out of the mirror (and revoke from it), each with the rule's fields, the
          C(pattern) it matched (C(protocol), C(ports), C(cidr), C(action)), a C(reason) and the code V(guardrail).
      type: list
      elements: dict
      sample:
        - direction: ingress
          protocol: tcp
          from_port: 22
          to_port: 22
          cidr_ip: 0.0.0.0/0
          pattern: {protocol: tcp, ports: "22", cidr: 0.0.0.0/0, action: withhold}
          reason: "matches guardrail tcp 22 from 0.0.0.0/0: not mirrored, and revoked from the mirror"
          code: guardrail
      contains:
        direction:
          description: V(ingress) (guardrails match ingress rules only).
          type: str
          sample: ingress
        protocol:
          description: The rule's protocol in canonical form.
          type: str
          sample: tcp
        from_port:
          description: First port (tcp, udp) or ICMP type.
          type: int
          returned: when the protocol has ports
          sample: 22
        to_port:
          description: Last port (tcp, udp) or ICMP code.
          type: int
          returned: when the protocol has ports
          sample: 22
        cidr_ip:
          description: The rule's IPv4 range.
          type: str
          returned: for an IPv4 rule
          sample: 0.0.0.0/0
        cidr_ipv6:
          description: The rule's IPv6 range.
          type: str
          returned: for an IPv6 rule
          sample: ::/0
        description:
          description: The source rule's description.
          type: str
          returned: when the rule has one
          sample: ssh from anywhere
        pattern:
          description: The guardrail the rule matched, in canonical form (C(protocol), C(ports), C(cidr), C(action)).
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
    mirror_in_use:
      description:
        - With O(usage_audit=true), whether the mirror is in use (a network interface carries it, or a rule of a group
          that is not a mirror refers to it); V(false) for a mirror this run creates (in check mode too); null otherwise.
      type: bool
      sample: false
    skipped_references:
      description:
        - Source rules that refer to a group whose reference cannot be translated into the target VPC. They are not put on
          the mirror; each is also a module warning (more than five in a run make one warning naming the first five).
        - The rule's fields (as in RV(groups[].ingress.authorize), C(group_id) being the group the source refers to), with
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
        group_name:
          description: Name of that group, when the run could read it, so that the reference reads C(name (sg-...)).
          returned: when known
          type: str
          sample: legacy-elb
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
            - V(classic_elb_reference) - the EC2-Classic load balancer group has no VPC equivalent (allow the VPC load
              balancer's group on the mirror by hand; such a rule is preserved).
            - V(unplannable_reference) - the referenced group's mirror cannot be planned (its own pair failed).
          type: str
          choices: [unmanaged_reference, other_target_reference, cross_account_reference, classic_elb_reference, unplannable_reference]
          sample: unmanaged_reference
    warnings:
      description: Warnings for this pair (also emitted as module warnings), for example a source description that differs from the mirror's.
      type: list
      elements: str
      sample: []
    error:
      description: Why this pair failed, for a person to read; null when it did not fail.
      type: str
      sample: null
    code:
      description:
        - Why this pair failed, as one of the pair codes below (from the collection's C(model.CODES)); null when it did not fail.
        - V(not_found) - a group or VPC does not exist (or was deleted during the run).
        - V(ambiguous_name) - a group name matches several groups.
        - V(is_mirror) - a mirror was given as a source.
        - V(no_link_tag) - the source declares no target VPC.
        - V(bad_link_tag) - the link tag cannot be read.
        - V(bad_vpc_id) - O(vpc_id) is malformed.
        - V(same_vpc) - the source is already in the target VPC.
        - V(name_clash) - two sources with one name map to one VPC.
        - V(name_taken) - a same-name group in the target VPC is not this source's mirror.
        - V(no_default_group) - the target VPC has no C(default) group.
        - V(unreadable_rules) - EC2 returned a rule that cannot be read.
        - V(quota) - the mirror would exceed O(rules_quota) (a reference to an address list counting as its maximum entries).
        - V(dependency_failed) - a mirror (or an address list, O(references=addresses)) this pair refers to could not be created.
        - V(in_use) - a mirror to delete is still in use.
        - V(aws_error) - an EC2 call failed; RV(groups[].aws_code) has EC2's error code.
        - V(no_target_role) - the target is in another account and O(target_role_arn) is not set (or does not fit it).
        - V(unreachable_scope) - the target's account or region could not be reached (role not assumable, region disabled,
          describe refused); the message names account, region and role.
        - V(bad_record) - the source's record of its mirrors would need more than 20 tags.
      type: str
      choices: [not_found, ambiguous_name, is_mirror, no_link_tag, bad_link_tag, bad_vpc_id, same_vpc, name_clash, name_taken,
                no_default_group, unreadable_rules, quota, dependency_failed, in_use, aws_error, no_target_role, unreachable_scope,
                bad_record]
      sample: null
    aws_code:
      description:
        - EC2's error code when RV(groups[].code) is V(aws_error), or when an EC2 call failed for another code (for example
          C(InvalidGroup.NotFound) with V(not_found), C(DependencyViolation) with V(in_use)); null otherwise.
      type: str
      sample: null
address_lists:
  description:
    - With O(references=addresses), one entry per address list of every target scope the run read - the lists the
      mirrors' rules refer to (created, trued up or unchanged) and, with O(prune=true), the unused lists deleted.
    - An address list is a customer-managed prefix list in the mirror's account and region, tagged
      C(classiclinkmirror:addressesOf=<group ARN>), whose entries are exactly the /32 (IPv4) or /128 (IPv6) addresses
      of the group's members (every network interface carrying the group), per O(address_kind).
    - In check mode a list to create is named by the placeholder C(new-address-list-<family>-of-<group ARN>), as in the
      rules of RV(groups[].ingress) that refer to it.
  returned: when O(references=addresses)
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
  contains:
    account:
      description: Account of the list (the mirror's).
      type: str
      sample: "111122223333"
    region:
      description: Region of the list (the mirror's).
      type: str
      sample: eu-west-1
    group_arn:
      description: The group whose members the list holds (its C(classiclinkmirror:addressesOf) tag).
      type: str
      sample: arn:aws:ec2:us-east-1:111122223333:security-group/sg-0123456789abcdef0
    group_id:
      description: That group's id.
      type: str
      sample: sg-0123456789abcdef0
    family:
      description: V(IPv4) or V(IPv6) (a prefix list holds one address family; the IPv6 list exists once a member has an IPv6 address).
      type: str
      choices: [IPv4, IPv6]
      sample: IPv4
    name:
      description: The list's name (for people; the tag is what identifies it).
      type: str
      sample: classiclinkmirror-addresses-sg-0123456789abcdef0-111122223333-us-east-1-ipv4
    prefix_list_id:
      description: The list's id (a placeholder for a list to create in check mode, or whose create failed).
      type: str
      sample: pl-0123456789abcdef0
    action:
      description:
        - What the run did (in check mode, would do) - V(created), V(modified) (entries added or removed in one
          C(ModifyManagedPrefixList) per 100 of each, with C(CurrentVersion), after a resize of its own when the list
          must grow), V(unchanged), or V(deleted) (O(prune=true), a list no rule refers to any more).
      type: str
      choices: [created, modified, unchanged, deleted]
      sample: modified
    changed:
      description: Whether the list changed (in check mode, would change); false when it failed.
      type: bool
      sample: true
    max_entries:
      description:
        - The list's size after the run (C(MaxEntries)) - half again as many as the addresses, at least 10, in steps of
          10, grown when needed and never shrunk. A rule referring to the list counts as this many rules against O(rules_quota).
      type: int
      sample: 10
    resized_to:
      description: The new C(MaxEntries) when the list grows this run, else null.
      type: int
      sample: null
    entries:
      description: The list's entries after the run (empty for a deleted list).
      type: list
      elements: str
      sample: [10.20.0.4/32, 10.20.0.9/32]
    entries_added:
      description: How many entries were added.
      type: int
      sample: 1
    entries_removed:
      description: How many entries were removed (for a deleted list, the entries it had).
      type: int
      sample: 0
    added:
      description: The entries added.
      type: list
      elements: str
      sample: [10.20.0.9/32]
    removed:
      description: The entries removed.
      type: list
      elements: str
      sample: []
    reason:
      description: For a deleted list, V(unused) (no rule refers to it) or V(duplicate) (a second list of the same group and family); else null.
      type: str
      sample: null
    members_without_public_address:
      description:
        - With O(address_kind=public), the members that have no public IPv4 address (they are not in the list), each
          also a module warning.
      type: list
      elements: dict
      sample:
        - interface_id: eni-0123456789abcdef0
          instance_id: i-0123456789abcdef0
          code: no_public_address
          reason: "instance i-0123456789abcdef0 (eni-0123456789abcdef0) has no public IPv4 address (address_kind public): it is not in the address list"
      contains:
        interface_id:
          description: The member's network interface.
          type: str
          sample: eni-0123456789abcdef0
        instance_id:
          description: Its instance, null for an interface of another kind (load balancer, endpoint...).
          type: str
          sample: i-0123456789abcdef0
        code:
          description: Always V(no_public_address).
          type: str
          choices: [no_public_address]
          sample: no_public_address
        reason:
          description: The same, for a person to read.
          type: str
          sample: "instance i-0123456789abcdef0 (eni-0123456789abcdef0) has no public IPv4 address (address_kind public): it is not in the address list"
    error:
      description:
        - Why the list failed, null when it did not. The module then fails, and pairs whose rules refer to a list that
          could not be created fail with V(dependency_failed).
      type: str
      sample: null
    code:
      description:
        - V(quota) (more than 1000 addresses, or an EC2 limit), V(not_found), V(in_use) (a list to delete is still
          referred to) or V(aws_error); null when it did not fail.
      type: str
      sample: null
    aws_code:
      description: EC2's error code, when an EC2 call failed; null otherwise.
      type: str
      sample: null
unused_mirrors:
  description:
    - With O(usage_audit=true), the mirrors that nothing uses yet (ClassicLinks are not read here), as
      RV(classiclink.mirror.classiclink_mirror_info#module:unused_mirrors).
  returned: when O(usage_audit=true)
  type: list
  elements: dict
  sample:
    - {group_id: sg-0fedcba9876543210, group_name: web-backend, vpc_id: vpc-0a1b2c3d4e5f60718, mirrored_from: sg-0123456789abcdef0}
  contains:
    group_id:
      description: The mirror's id (a placeholder in check mode for a mirror the run would create).
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
instances:
  description:
    - With O(link_instances=true), every instance considered, as
      RV(classiclink.mirror.classiclink_instance_link#module:instances) (real ids after a real run).
  returned: when O(link_instances=true) and the ClassicLink state could be read
  type: list
  elements: dict
  sample:
    - {instance_id: i-0123456789abcdef0, vpc_id: vpc-0a1b2c3d4e5f60718, groups: [sg-0fedcba9876543210], action: linked,
       reason: null, code: null, aws_code: null}
links_error:
  description:
    - With O(link_instances=true), why no instance was linked - the ClassicLink state could not be read (an account or
      region without EC2-Classic refuses those calls) or ClassicLink could not be enabled. The module then fails after
      mirroring.
  returned: when O(link_instances=true) and the links could not be made
  type: str
  sample: null
enabled_classiclink:
  description: With O(link_instances=true), the VPCs on which ClassicLink was (or, in check mode, would be) enabled.
  returned: when O(link_instances=true) and the ClassicLink state could be read
  type: list
  elements: str
  sample: []
mirrors_in_use:
  description: With O(usage_audit=true), how many of RV(mirrors_total) mirrors are in use.
  returned: when O(usage_audit=true)
  type: int
  sample: 12
mirrors_total:
  description: With O(usage_audit=true), how many mirrors the pairs have (created ones included after a real run).
  returned: when O(usage_audit=true)
  type: int
  sample: 40
"""

from ansible_collections.classiclink.mirror.plugins.module_utils.aws_module import MirrorAWSModule

from ansible_collections.classiclink.mirror.plugins.module_utils.address_lists import plan_with_lists
from ansible_collections.classiclink.mirror.plugins.module_utils.apply_groups import ScopedExecutor
from ansible_collections.classiclink.mirror.plugins.module_utils.apply_links import LinkExecutor
from ansible_collections.classiclink.mirror.plugins.module_utils.audit import add_usage, mirror_usage
from ansible_collections.classiclink.mirror.plugins.module_utils.describe import scope_warnings
from ansible_collections.classiclink.mirror.plugins.module_utils.options import (
    COMMON_ARGS,
    GUARDRAIL_ARGS,
    TARGET_ARGS,
    check_common,
    check_targets,
    guardrails_of,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import MirrorOptions, planned_mirrors
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_groups import plan_pairs
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_links import ERROR, LinkOptions, plan_links
from ansible_collections.classiclink.mirror.plugins.module_utils.report import address_lists_result, links_result, plan_result
from ansible_collections.classiclink.mirror.plugins.module_utils.scope import error_text
from ansible_collections.classiclink.mirror.plugins.module_utils.scopes_run import carried_groups, read_scopes

try:
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError  # an answer that cannot be parsed, after the retries
except ImportError:
    pass  # handled by AnsibleAWSModule


def usage_of(module, run, plan, entries):
    """Which mirrors are in use (network interfaces asked in each mirror's own scope); a mirror this run creates is not
    (nothing can carry it yet), in check mode too."""
    existing = sorted(set(pair.mirror.id for pair in plan.pairs if pair.mirror is not None and not pair.removal))
    usage = mirror_usage(run.snapshot, existing, carried_groups(module, run, existing))
    created = [entry["mirror_group_id"] for entry in entries if entry["created"]]
    usage.update((mirror_id, False) for mirror_id in created)
    return add_usage(entries, usage)


DROPPED_WARNED = 5  # dropped rules warned one by one; more make one warning naming the first five


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
        usage_audit=dict(type="bool", default=False),
        link_instances=dict(type="bool", default=False),
        enable_classiclink=dict(type="bool", default=False),
        **TARGET_ARGS,
        **GUARDRAIL_ARGS,
        **COMMON_ARGS,
    )
    module = MirrorAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("source_group", "source_groups", "all_sources"), ("vpc_id", "targets")],
        supports_check_mode=True,
    )
    check_common(module)
    check_targets(module)
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
        guardrails=guardrails_of(module),
        references=params["references"],
        address_kind=params["address_kind"],
    )

    link_instances = params["link_instances"]
    if link_instances and (options.vpc_id or params["targets"] is not None or params["state"] == "absent"):
        module.fail_json(msg="link_instances follows the link tags: it cannot be combined with vpc_id, targets or state=absent; "
                             "link with classiclink.mirror.classiclink_instance_link after this call")

    # Home scope, then every other account and region the sources need: read once, shared with the info module.
    # With usage_audit, every group of the target VPCs is read (a plain group's rule referring to a mirror puts it in use).
    run = read_scopes(module, options, refs, "Could not describe the security groups, VPCs%s of this region" % (
        ", instances or ClassicLinks" if link_instances else ""), all_sources=params["all_sources"], vpc_ids=params["vpc_ids"],
        every_source=params["all_sources"] or params["prune"], classic_vpc_id=params["classic_vpc_id"], name_references=True,
        with_links=link_instances, tolerate_link_errors=True, target_names_only=options.vpc_id is None and not params["usage_audit"])
    scope, snapshot, options, refs, others, problems_by_scope = run.scope, run.snapshot, run.options, run.refs, run.others, run.problems
    addresses = options.references == "addresses"

    # Mirror, link, prune: one snapshot, in that order (instances leave a retargeted mirror before it is deleted).
    plan = plan_pairs(snapshot, refs, options)
    try:
        # references=addresses: read the lists and the members the plan refers to, plan them, plan the pairs again.
        plan, lists = plan_with_lists(snapshot, refs, options, plan, scope, others, params["concurrency"])
    except (BotoCoreError, ClientError, ResponseParserError) as e:
        module.fail_json_aws(e, msg="Could not read the members (network interfaces) of the groups whose address lists the mirrors refer to")
    keyed_lists = lists.keyed(snapshot.home)
    executor = ScopedExecutor(scope, others, params["concurrency"])
    real = not module.check_mode
    if real and lists.changed:
        executor.apply_lists(keyed_lists)  # created and trued up before the rules that refer to them
    if real and plan.changed:
        executor.apply_converging(plan)
    links, link_outcome, problems, links_error = None, None, [], None
    if link_instances and snapshot.links_error:
        problems.append(snapshot.links_error)
        links_error = snapshot.links_error
    elif link_instances:
        links = plan_links(snapshot, None, LinkOptions(
            prune=options.prune, enable_classiclink=params["enable_classiclink"], link_tag_keys=options.link_tag_keys,
            vpc_ids=tuple(params["vpc_ids"] or ()) or None), planned_mirrors(plan, executor.outcome))
        if real and links.changed:
            try:
                link_outcome = LinkExecutor(scope, params["concurrency"]).apply(links)
            except (BotoCoreError, ClientError, ResponseParserError) as e:
                links_error = "Could not enable ClassicLink on %s: %s" % (", ".join(links.enable_vpcs), error_text(e))
                problems.append(links_error)
                links = None
    if real and (plan.changed or plan.records):
        executor.apply_removals(plan)
    if real and lists.changed:
        executor.delete_lists(keyed_lists)  # unused lists (prune), once no rule refers to them

    changed = plan.changed or lists.changed or bool(links and links.changed)
    result = plan_result(plan, executor.outcome if real else None)
    if addresses:
        result["address_lists"], list_diffs = address_lists_result(
            lists.plans, lists.members, lists.current, snapshot.home, executor.outcome if real else None,
            executor.list_problem if real else None)
        result["diff"].extend(list_diffs)
        for entry in result["address_lists"]:
            for member in entry["members_without_public_address"]:
                module.warn("address list %s: %s" % (entry["name"], member["reason"]))
        for problem in lists.problems.values():
            module.warn(problem.message)
    for warning in scope_warnings(snapshot, problems_by_scope):
        module.warn(warning)
    dropped = []
    for entry in result["groups"]:
        for warning in entry["warnings"]:
            module.warn(warning)
        dropped.extend("%s: rule dropped from the mirror: %s" % (entry["source_group_name"] or entry["source_ref"], skipped["reason"])
                       for skipped in entry["skipped_references"])
    if len(dropped) > DROPPED_WARNED:  # one warning for many: every rule is in groups[].skipped_references
        dropped = ["%d rules dropped from the mirrors (each with its reason in groups[].skipped_references), the first %d: %s" % (
            len(dropped), DROPPED_WARNED, "; ".join(dropped[:DROPPED_WARNED]))]
    for warning in dropped:
        module.warn(warning)
    if links is not None:
        linked = links_result(links, link_outcome)
        result["diff"].extend(linked.pop("diff"))
        result.update(linked)
    if links_error:
        result["links_error"] = links_error
    if params["usage_audit"]:
        result.update(usage_of(module, run, plan, result["groups"]))
    if params["source_group"] and result["groups"] and result["groups"][0]["mirror_group_id"]:
        result["group_id"] = result["groups"][0]["mirror_group_id"]
    if not module._diff:
        result.pop("diff")
    failures = [entry["error"] for entry in result["groups"] if entry["error"]]
    if failures:
        problems.append("%d of %d security group pairs failed: %s" % (len(failures), len(result["groups"]), "; ".join(failures)))
    instance_failures = ["%s: %s" % (item["instance_id"], item["reason"]) for item in result.get("instances", ()) if item["action"] == ERROR]
    list_failures = ["%s: %s" % (entry["name"], entry["error"]) for entry in result.get("address_lists", ()) if entry["error"]]
    if list_failures:
        problems.append("%d of %d address lists failed: %s" % (len(list_failures), len(result["address_lists"]), "; ".join(list_failures)))
    if instance_failures:
        problems.append("%d of %d instances failed: %s" % (len(instance_failures), len(result["instances"]), "; ".join(instance_failures)))
    if problems:
        module.fail_json(msg="; ".join(problems), changed=changed, **result)
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
