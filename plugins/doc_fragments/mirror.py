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
  role_arn:
    description:
      - An IAM role of the scope's account, assumed by the module before any EC2 call; every call of the run is then
        made with the role's temporary credentials (the module's own credentials only call C(sts:AssumeRole)).
      - Set per scope by the C(classiclink.mirror.mirror) playbook from the host variable C(mirror_role_arn) (the
        C(classiclink.mirror.scopes) inventory sets it), so that a scope's whole run is one module process.
      - When the role cannot be assumed the module fails naming the role, the account and the region.
    type: str
  role_external_id:
    description:
      - The external id the trust policy of O(role_arn) asks for.
    type: str
  role_session_name:
    description:
      - The session name of the O(role_arn) session, as CloudTrail shows it (characters other than letters, digits and
        C(+=,.@_-) become C(-); at most 64 characters).
    type: str
    default: classiclink-mirror
  account_id:
    description:
      - The account the scope is meant to be. The module fails before any EC2 call when its credentials (or
        O(role_arn)) belong to another account, naming both, so that a scope never changes the wrong account.
      - Without O(role_arn) this costs one C(sts:GetCallerIdentity) call.
    type: str
"""

    # Targets in other accounts and regions, several targets, address lists (classiclink_mirror_group, classiclink_mirror_info).
    TARGETS = r"""
options:
  targets:
    description:
      - The target VPCs of the given sources, overriding their link tags (and written to the link tag, like
        O(classiclink.mirror.classiclink_mirror_group#module:vpc_id), so that later runs read the same declaration).
        Mutually exclusive with O(classiclink.mirror.classiclink_mirror_group#module:vpc_id), which stays as the
        one-target shorthand.
      - Each entry is a VPC id (C(vpc-0123456789abcdef0)), a VPC of the source's own account and region, or a VPC ARN
        C(arn:aws:ec2:REGION:ACCOUNT:vpc/VPC-ID), a VPC of that account and region. An entry may itself hold several
        targets separated by commas, as the link tag does.
      - The link tag takes the same forms, several targets separated by commas. A malformed entry fails that source
        (never any other) with a message naming the tag, the entry and the accepted forms; an unreadable tag never
        makes a mirror an orphan.
      - A source gets one mirror per target, each in its own account and region. A mirror in the source's own account
        and region is tagged C(classiclinkmirror:mirroredFromClassicSecurityGroupId=<source id>) as before; a mirror
        elsewhere is tagged with the source's ARN, C(arn:aws:ec2:REGION:ACCOUNT:security-group/sg-...).
      - The source's C(classiclinkmirror:mirroredToVpcSecurityGroupId) tag is the record of all its mirrors, sorted and
        separated by commas - the bare id of a mirror in its own account and region, the group ARN of one elsewhere -
        continued in C(classiclinkmirror:mirroredToVpcSecurityGroupId:2), C(:3), ... when it exceeds 256 characters.
        One mirror in its own scope reads exactly as before. Removing a target from the link tag makes that mirror an
        orphan, found from this record even when no tag names its account or region any more (deleted with
        O(classiclink.mirror.classiclink_mirror_group#module:prune=true)).
      - Every account and region the run needs is read once (VPCs, mirrors, and the groups named like a source whose
        mirror is missing), shared by all pairs, several at once within O(concurrency). One that cannot be reached
        (role not assumable, region disabled, describe refused) fails its pairs only, naming account, region and role.
      - ClassicLink links an instance to a VPC of its own account and region only; mirrors in other accounts or regions
        are not linked by O(classiclink.mirror.classiclink_mirror_group#module:link_instances) (a source with several
        targets in its own scope links to the first one).
    type: list
    elements: str
    version_added: 0.1.0
  target_role_arn:
    description:
      - The IAM role to assume for a target in another account; C({account}) is replaced by the target's account id,
        for example C(arn:aws:iam::{account}:role/ClassicLinkMirror). It is assumed with the scope's credentials
        (those of O(role_arn) when set).
      - A target in another account without it fails that pair, naming O(target_role_arn) and the account, before any
        mutating call. A target in the same account and another region uses the scope's own credentials.
    type: str
    version_added: 0.1.0
  target_role_external_id:
    description:
      - The external id the trust policy of O(target_role_arn) asks for.
    type: str
    version_added: 0.1.0
  references:
    description:
      - What becomes of a group reference that no mirror can stand for in a target VPC (a self reference and a reference
        to another managed source mirrored into the same VPC always become mirror references).
      - V(drop) drops it and reports it in RV(classiclink.mirror.classiclink_mirror_group#module:groups[].skipped_references).
      - V(addresses) makes every other reference to a group of the source's account and region (unmanaged, or mirrored
        into another VPC) a reference to that group's B(address list) in the mirror's account and region - a
        customer-managed prefix list tagged C(classiclinkmirror:addressesOf=<group ARN>) whose entries are exactly the /32
        (IPv4) or /128 (IPv6) addresses of the group's members, that is every network interface carrying the group
        (instances, load balancers, endpoints...), per O(address_kind). For a mirror in another account or region, a
        self reference becomes the mirror reference plus the source's own address list, so that the source side's
        members keep access. References to the EC2-Classic load balancer group, to groups of other accounts, and to a
        managed group whose own mirror cannot be planned are still dropped and reported.
      - The lists are kept exact by every run (the true-up) - created with the first members (an IPv4 list always, an
        IPv6 list once a member has an IPv6 address), then one C(ModifyManagedPrefixList) per changed list (per 100
        entries added and removed) with C(CurrentVersion); the maximum entries are sized with headroom (half again
        the addresses, at least 10, in steps of 10) and grown, in a call of their own, when needed. They are created and
        updated before the mirrors' rules that refer to them, and reported in
        RV(classiclink.mirror.classiclink_mirror_group#module:address_lists).
      - A reference to a list counts as the list's maximum entries against
        O(classiclink.mirror.classiclink_mirror_group#module:rules_quota); a pair over the quota fails before any
        change (its lists are not created).
      - With O(classiclink.mirror.classiclink_mirror_group#module:prune=true), lists of this account and region's groups that
        no rule refers to any more (or duplicates) are deleted, after the rules referring to them were revoked; lists
        of other accounts' and regions' groups are left to their own runs. With V(drop) no list is read or changed
        (switching back to V(drop) revokes the list references from the mirrors; the lists stay until a run with
        V(addresses) and prune).
      - Reads, only when a pair refers to a list (or with prune) - per target scope one C(DescribeManagedPrefixLists) and
        one C(GetManagedPrefixListEntries) per list, per source scope one C(DescribeNetworkInterfaces) per 200
        referenced groups. The run also needs its own account (C(sts:GetCallerIdentity) unless O(account_id) or
        O(role_arn) gives it), since lists name their group by ARN.
    type: str
    choices: [drop, addresses]
    default: drop
    version_added: 0.1.0
  address_kind:
    description:
      - With O(references=addresses), which addresses of the members the address lists hold - V(private) (every private
        IPv4 address, primary and secondary) or V(public) (public IPv4 addresses, auto-assigned or Elastic IPs, what
        another region or the internet sees). IPv6 addresses are listed with both (IPv6 is not translated).
      - With V(public), members without a public IPv4 address are not in the list; each is reported in
        RV(classiclink.mirror.classiclink_mirror_group#module:address_lists[].members_without_public_address) with code
        V(no_public_address), and as a warning (not a failure).
    type: str
    choices: [private, public]
    default: private
    version_added: 0.1.0
"""

    # The guardrails option (classiclink_mirror_group, classiclink_mirror_info).
    GUARDRAILS = r"""
options:
  guardrails:
    description:
      - Rule patterns the migration does not carry into the mirrors (docs/howto-leave-old-mistakes-behind.md).
      - An ingress source rule matches a pattern when it lets all of the pattern's traffic in from part of its network
        (its protocol is the pattern's or all, its port range covers the pattern's, its CIDR overlaps the pattern's
        network). Group and prefix-list references and egress rules never match.
      - With O(guardrails[].action=withhold) the rule is not mirrored, is revoked from the mirror if present there (also
        with O(classiclink.mirror.classiclink_mirror_group#module:purge_rules=false)), and is reported in
        RV(classiclink.mirror.classiclink_mirror_group#module:groups[].withheld_rules); a source that keeps it is not
        drift. With O(guardrails[].action=fail) the pair fails before any change, with code V(guardrail).
      - Patterns are checked before any AWS call; a bad one fails the module naming the entry.
    type: list
    elements: dict
    suboptions:
      protocol:
        description: V(tcp), V(udp), V(icmp), V(icmpv6), a protocol number, or V(all).
        type: str
        default: all
      ports:
        description:
          - One port (V(22)) or a range (V(1024-65535)); tcp and udp only. Every port when omitted.
        type: str
      cidr:
        description: An IPv4 or IPv6 network, such as V(0.0.0.0/0) or V(::/0).
        type: str
        required: true
      action:
        description: What to do with a matching rule.
        type: str
        choices: [withhold, fail]
        default: withhold
"""
