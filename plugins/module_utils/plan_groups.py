# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Plan the groups: Snapshot + options -> what each pair needs. Pure: no boto3, no AnsibleModule.

The plan is at once the check-mode answer, the ``--diff``, the module's return
value and the executor's input, so check mode and a real run cannot disagree.
A mirror that does not exist yet is named by a placeholder id
(:func:`placeholder`) wherever rules refer to it; the executor swaps in the
real id once it has created the group. That is what lets a reference cycle
(A allows B, B allows A) converge in one pass.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Tuple

from ansible_collections.classiclink.mirror.plugins.module_utils.addresses import IPV4, list_placeholder, weighted_quota_count
from ansible_collections.classiclink.mirror.plugins.module_utils.guardrails import FAIL, GUARDRAIL, WITHHOLD, first_match
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import (
    CLASSIC_ELB_OWNER,
    DEFAULT_GROUP_NAME,
    NEW_GROUP_RULES,
    CreateMirror,
    MirrorOptions,
    PairPlan,
    Plan,
    SourceRecord,
    WantedList,
    current_record,
    find_orphans,
    GroupIndex,
    managed_targets,
    placeholder,
    record_change,
    removal_pair,
    source_targets,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.rules import (
    DIRECTIONS,
    GROUP,
    PREFIX_LIST,
    Rule,
    RuleDiff,
    RuleSet,
    apply_diff,
    describe_rule,
    diff_rules,
    in_direction,
    rule_text,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.model import Problem, SecurityGroup, Snapshot
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import (
    MIRRORED_FROM_TAG,
    MIRRORED_TO_TAG,
    NO_TAG_CHANGE,
    is_group_id,
    is_vpc_id,
    plan_tags,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.targets import (
    TAG_VALUE_MAX,
    GroupLocation,
    Target,
    TargetScope,
    group_arn,
    mirrored_from_value,
)

ADDRESSES = "addresses"  # the references option's value that makes address lists
# Skipped-reference codes that references=addresses turns into address-list references.
LISTABLE_CODES = ("unmanaged_reference", "other_target_reference")


class _Planner:
    def __init__(self, snapshot: Snapshot, options: MirrorOptions):
        self.snapshot = snapshot
        self.options = options
        self.index = GroupIndex(snapshot)
        self.home = snapshot.home
        # (source id, target VPC) -> latest plan of its pair (batch and referenced-only)
        self.pairs: Dict[Tuple[str, Optional[str]], PairPlan] = {}
        # Ids that are (or will be) managed mirrors: rules referring to anything else are preserved.
        self.mirror_ids = set(group.id for group in snapshot.mirrors())
        self.managed = managed_targets(snapshot, options.link_tag_keys)  # source id -> target VPCs
        self.sources_by_name: Optional[Dict[Tuple[str, str], List[str]]] = None  # (VPC, name) -> source ids
        # references=addresses: (target scope, group ARN, family) -> the list, and the pairs (source, VPC) referring to it
        self.wanted: Dict[Tuple[TargetScope, str, str], WantedList] = {}
        self.wanting: Dict[Tuple[TargetScope, str, str], set] = {}

    # -- sources and targets -------------------------------------------------

    def resolve_source(self, ref: str) -> Tuple[Optional[SecurityGroup], Optional[Problem]]:
        ref = ref.strip()
        if is_group_id(ref):
            group = self.snapshot.groups.get(ref)
            if group is not None and not self.snapshot.is_home_group(group.id):
                group = None  # a group of a target scope is never a source of this run
            if group is None:
                return None, Problem("not_found", "source security group %s does not exist in this region; check the id and the region" % ref)
            if group.mirrored_from:
                return None, Problem("is_mirror", "security group %s is a mirror managed by classiclink.mirror (of %s); pass its source %s instead" % (
                    group.label, group.mirrored_from, group.mirrored_from))
            return group, None
        candidates = [group for group in self.snapshot.groups_named(ref) if not group.mirrored_from]
        if not candidates:
            return None, Problem("not_found", "no source security group named %r in this region; check the name and the region, or pass the group id" % ref)
        if len(candidates) > 1:
            # Prefer the group that declares a pair, and never a group of the target VPC itself.
            tagged = [group for group in candidates if source_targets(self.snapshot, group, self.options.link_tag_keys).keys]
            outside = [group for group in candidates if self.options.vpc_id is None or group.vpc_id != self.options.vpc_id]
            for narrowed in (tagged, outside):
                if len(narrowed) == 1:
                    return narrowed[0], None
            listed = ", ".join("%s in %s" % (group.id, group.vpc_id or "EC2-Classic") for group in candidates)
            return None, Problem("ambiguous_name", "security group name %r is ambiguous (%s); pass the group id instead" % (ref, listed))
        return candidates[0], None

    def declared_targets(self, source: SecurityGroup) -> Tuple[Tuple[Target, ...], Optional[Problem]]:
        """The targets of a source (the targets option, vpc_id, or its link tag), or a Problem saying what to fix."""
        home = self.home
        if self.options.targets is not None:
            if self.options.targets.error:
                return (), Problem("bad_vpc_id", self.options.targets.error)
            return self.options.targets.targets, None
        vpc_id = self.options.vpc_id
        if vpc_id is not None:
            if not is_vpc_id(vpc_id):
                return (), Problem("bad_vpc_id", "vpc_id %r is not a VPC id (expected vpc- and 8 or 17 hex digits)" % vpc_id)
            return (Target(home.account, home.region, vpc_id, home.partition),), None
        link = source_targets(self.snapshot, source, self.options.link_tag_keys)
        if link.error:
            return (), Problem("bad_link_tag", link.error)
        if not link.keys:
            return (), Problem("no_link_tag", "security group %s has no link tag; tag it %s=<target VPC id or ARN> or pass vpc_id or targets" % (
                source.label, self.options.link_tag_keys[0]))
        return link.targets, None

    def where(self, scope: TargetScope) -> str:
        """'this region', or 'account A, region R' for another scope (messages)."""
        return "this region" if scope == self.home else "%s" % scope.label

    def check_target(self, source: SecurityGroup, target: Target) -> Optional[Problem]:
        """Why ``target`` cannot take a mirror of ``source`` (None: it can)."""
        if target.scope in self.options.scope_problems:
            return self.options.scope_problems[target.scope]
        from_option = self.options.vpc_id is not None or self.options.targets is not None
        fix = "fix the link tag" if not from_option else "pass another target"
        origin = "target VPC" if not from_option else ("vpc_id" if self.options.vpc_id is not None else "target")
        where = self.where(target.scope)
        if target.vpc_id not in self.snapshot.vpcs or self.snapshot.scope_of_vpc(target.vpc_id) != target.scope:
            return Problem("not_found", "%s %s of security group %s does not exist in %s; check the %s, create the VPC, or %s" % (
                origin, target.vpc_id, source.label, where, "region" if target.scope == self.home else "account and region", fix))
        if target.vpc_id == source.vpc_id:
            return Problem("same_vpc", "security group %s is already in VPC %s (the %s): it cannot be mirrored into its own VPC; %s" % (
                source.label, target.vpc_id, origin, fix))
        return None

    def target_of(self, source: SecurityGroup) -> Tuple[Optional[str], Optional[Problem]]:
        """The one VPC a source mirrors into (the first target), or a Problem (kept for single-target callers)."""
        targets, problem = self.declared_targets(source)
        if problem:
            return None, problem
        return targets[0].vpc_id, self.check_target(source, targets[0])

    def locate_mirror(self, source: SecurityGroup, vpc_id: str) -> Tuple[Optional[SecurityGroup], bool, Optional[Problem]]:
        """(existing mirror or None, adopt it?, problem)."""
        mirror = self.index.mirror_of(source.id, vpc_id)
        if mirror is not None:
            return mirror, False, None
        for group in self.index.in_vpc(vpc_id):
            if group.name != source.name:
                continue
            if group.mirrored_from:
                return None, False, Problem("name_taken", (
                    "security group %s: group %s in %s is already the mirror of %s; two sources named %r cannot mirror into one VPC, "
                    "rename one or retarget it (if %s no longer declares the pair, prune its mirror)"
                    % (source.label, group.label, vpc_id, group.mirrored_from, source.name, group.mirrored_from)))
            if source.name == DEFAULT_GROUP_NAME or self.options.adopt:
                return group, True, None
            return None, False, Problem("name_taken", (
                "group %s already exists in %s and is not managed by classiclink.mirror; rename it, or set adopt to manage it as the mirror of %s"
                % (group.label, vpc_id, source.label)))
        if source.name == DEFAULT_GROUP_NAME:
            return None, False, Problem("no_default_group", "VPC %s has no default security group to map %s onto" % (vpc_id, source.label))
        return None, False, None

    def name_clash(self, source: SecurityGroup, vpc_id: str) -> Optional[Problem]:
        if self.sources_by_name is None:  # built once the batch's targets are settled
            self.sources_by_name = {}
            for sid, vids in self.managed.items():
                for vid in vids:
                    self.sources_by_name.setdefault((vid, self.snapshot.groups[sid].name), []).append(sid)
        twins = [sid for sid in self.sources_by_name.get((vpc_id, source.name), []) if sid != source.id]
        if twins:
            return Problem("name_clash", "sources %s and %s are both named %r and both map to %s; group names are unique in a VPC, retarget or rename one" % (
                source.id, ", ".join(sorted(twins)), source.name, vpc_id))
        return None

    # -- pairs ---------------------------------------------------------------

    def open_pair(self, ref: str, source: SecurityGroup, vpc_id: str, referenced_only: bool = False) -> PairPlan:
        """Find or plan the mirror of ``source`` in ``vpc_id`` (no rules yet)."""
        problem = Problem("unreadable_rules", source.rules_error) if source.rules_error else self.name_clash(source, vpc_id)
        mirror, adopt = None, False
        if problem is None:
            mirror, adopt, problem = self.locate_mirror(source, vpc_id)
        if problem is not None:
            return self.keep(failed(PairPlan(source_ref=ref, source=source, vpc_id=vpc_id, referenced_only=referenced_only,
                                             scope=self.scope_field(vpc_id)), problem))
        scope = self.snapshot.scope_of_vpc(vpc_id)
        origin = mirrored_from_value(GroupLocation(self.home, source.id), scope)
        wanted_tags = {MIRRORED_FROM_TAG: origin}
        wanted_tags.update(self.options.tags or {})
        warnings: Tuple[str, ...] = ()
        if mirror is None:
            mirror_id = placeholder(source.id, vpc_id if len(self.managed.get(source.id, ())) > 1 else None)
            self.mirror_ids.add(mirror_id)
            create, mirror_tags, before = CreateMirror(source.name, source.description, vpc_id, wanted_tags), NO_TAG_CHANGE, dict(NEW_GROUP_RULES)
        else:
            mirror_id, create, before = mirror.id, None, dict(mirror.rules)
            purge = self.options.purge_tags and self.options.tags is not None and not referenced_only
            mirror_tags = plan_tags(mirror.tags, wanted_tags if not referenced_only else {MIRRORED_FROM_TAG: origin}, purge)
            if mirror.description != source.description and source.name != DEFAULT_GROUP_NAME:
                warnings = (
                    "mirror %s keeps description %r while source %s now has %r: EC2 descriptions cannot be changed; delete the mirror to recreate it"
                    % (mirror.label, mirror.description, source.label, source.description),)
        wanted_source_tags = {MIRRORED_TO_TAG: mirror_id}
        if self.options.vpc_id and not referenced_only:
            for key in self.link_keys(source):
                wanted_source_tags[key] = self.options.vpc_id
        return self.keep(PairPlan(
            source_ref=ref, source=source, vpc_id=vpc_id, referenced_only=referenced_only, scope=self.scope_field(vpc_id),
            mirror=mirror, mirror_id=mirror_id, create=create, adopt=adopt, mirror_tags=mirror_tags,
            source_tags=plan_tags(source.tags, wanted_source_tags),
            before=before, after=dict(before), warnings=warnings,
        ))

    def link_keys(self, source: SecurityGroup) -> Tuple[str, ...]:
        """The link-tag keys to (re)write on a source: those it has, else the first key."""
        return source_targets(self.snapshot, source, self.options.link_tag_keys).keys or tuple(self.options.link_tag_keys[:1])

    def scope_field(self, vpc_id: Optional[str]) -> Optional[TargetScope]:
        """A pair's ``scope``: None in the home scope (the single-scope plan is unchanged)."""
        scope = self.snapshot.scope_of_vpc(vpc_id) if vpc_id else self.home
        return None if scope == self.home else scope

    def keep(self, pair: PairPlan) -> PairPlan:
        """Record the latest plan of a source's pair."""
        self.pairs[(pair.source.id, pair.vpc_id)] = pair
        return pair

    def mirror_reference(self, target: str, vpc_id: str) -> Tuple[Optional[str], Optional[Problem]]:
        """Mirror id for a reference to managed source ``target`` (planning its mirror if needed)."""
        pair = self.pairs.get((target, vpc_id))
        if pair is None:
            pair = self.open_pair(target, self.snapshot.groups[target], vpc_id, referenced_only=True)
        if pair.error:
            return None, Problem("unplannable_reference", "the mirror of %s cannot be planned: %s" % (target, pair.error))
        return pair.mirror_id, None

    def translate(self, pair: PairPlan, rules: RuleSet) -> Tuple[RuleSet, Tuple[dict, ...]]:
        """Source rules -> (desired mirror rules, untranslatable references with their reason)."""
        source, vpc_id = pair.source, pair.vpc_id
        owner = pair.scope.account if pair.scope is not None else source.owner_id  # the mirror's account
        desired: RuleSet = {}
        skipped: List[dict] = []
        addresses = self.options.references == ADDRESSES
        for rule, description in rules.items():
            if rule.kind != GROUP:
                desired[rule] = description
                continue
            problem = None
            listed: List[Rule] = []
            if rule.target == source.id:
                mirror_id = pair.mirror_id
                if addresses and pair.scope is not None:
                    # The mirror is in another account or region: the source side's members keep access by address.
                    listed = self.list_rules(pair, rule, source.id)
            elif vpc_id in self.managed.get(rule.target, ()) and rule.target in self.snapshot.groups:
                mirror_id, problem = self.mirror_reference(rule.target, vpc_id)
            else:
                mirror_id, problem = None, self.skip_reason(rule, source, vpc_id)
                if addresses and problem.code in LISTABLE_CODES:
                    listed, problem = self.list_rules(pair, rule, rule.target), None
            for list_rule in listed:
                desired[list_rule] = description
            if mirror_id:
                desired[rule.with_target(mirror_id, owner)] = description
            elif listed:
                continue
            else:
                entry = describe_rule(rule, description)
                entry.update(reason=problem.message, code=problem.code)
                skipped.append(entry)
        return desired, tuple(skipped)

    def list_rules(self, pair: PairPlan, rule: Rule, group_id: str) -> List[Rule]:
        """``rule`` as references to the address lists (one per family) of ``group_id``'s members in the pair's scope.

        Sources are groups of the home scope and so are the groups their rules refer to (same account and region).
        Before the lists are read (``options.address_lists`` None), every group has one IPv4 list, a placeholder."""
        scope = pair.scope or self.home
        arn = group_arn(self.home, group_id)
        known = self.options.address_lists
        entries = known.lists.get((scope, arn)) if known is not None else None
        if not entries:
            entries = ((IPV4, list_placeholder(arn, IPV4), 0),)
        found = []
        for family, list_id, size in entries:
            key = (scope, arn, family)
            self.wanted[key] = WantedList(scope, arn, group_id, self.snapshot.scope_of_group(group_id), family, list_id, size)
            self.wanting.setdefault(key, set()).add((pair.source.id, pair.vpc_id))
            found.append(Rule(rule.direction, rule.protocol, rule.from_port, rule.to_port, PREFIX_LIST, list_id))
        return found

    def label(self, group_id: str) -> str:
        """``name (sg-...)`` when the run knows the group's name, else the id."""
        name = self.snapshot.name_of(group_id)
        return "%s (%s)" % (name, group_id) if name else group_id

    def skip_reason(self, rule: Rule, source: SecurityGroup, vpc_id: Optional[str] = None) -> Problem:
        if rule.user_id == CLASSIC_ELB_OWNER:
            return Problem("classic_elb_reference", "the EC2-Classic load balancer group has no VPC equivalent; "
                           "allow the VPC load balancer's group on the mirror by hand (it is preserved)")
        if rule.user_id and rule.user_id != source.owner_id:
            return Problem("cross_account_reference", "group %s belongs to account %s and cannot be mirrored" % (rule.target, rule.user_id))
        if rule.target in self.managed:
            return Problem("other_target_reference", "group %s is mirrored into %s, not %s" % (
                self.label(rule.target), ", ".join(self.managed[rule.target]), vpc_id or "this VPC"))
        return Problem("unmanaged_reference", "group %s is not managed by classiclink.mirror (no link tag); tag it to mirror the reference"
                       % self.label(rule.target))

    def revoke_reasons(self, revoke: RuleSet) -> Tuple[Tuple[Rule, Problem], ...]:
        """Why a mirror loses a reference to another mirror: that mirror's source stopped being managed here."""
        reasons = []
        for rule in sorted(revoke, key=Rule.sort_key):
            other = self.snapshot.groups.get(rule.target) if rule.kind == GROUP else None
            if other is None or not other.mirrored_from or other.vpc_id in self.managed.get(other.mirrored_from, ()):
                continue
            source = self.snapshot.groups.get(other.mirrored_from)
            if source is None:
                why = "its source %s no longer exists" % other.mirrored_from
            elif other.mirrored_from in self.managed:
                why = "its source %s is now mirrored into %s" % (source.label, ", ".join(self.managed[other.mirrored_from]))
            else:
                why = "its source %s is no longer managed (no valid link tag)" % source.label
            reasons.append((rule, Problem("unmanaged_reference", "refers to %s, the mirror of a group that stopped being managed: %s" % (
                other.label, why))))
        return tuple(reasons)

    def plan_rules(self, pair: PairPlan) -> PairPlan:
        source, options = pair.source, self.options
        mirror_egress = options.egress == "yes" or (options.egress == "auto" and not self.snapshot.is_classic(source.vpc_id))
        directions = DIRECTIONS if mirror_egress else DIRECTIONS[:1]
        current = dict(pair.mirror.rules) if pair.mirror else dict(NEW_GROUP_RULES)
        desired_all, skipped = self.translate(pair, {r: d for r, d in source.rules.items() if r.direction in directions})
        desired_all, withheld, violations = self.apply_guardrails(source, desired_all)
        if violations:
            return self.keep(failed(replace(pair, skipped_references=skipped, withheld_rules=withheld), Problem(GUARDRAIL, (
                "security group %s has rules that a guardrail with action fail forbids (%s); nothing was changed for it: "
                "remove the rules from the source, or change the guardrail" % (source.label, "; ".join(violations))))))
        withhold = [guardrail for guardrail in options.guardrails if guardrail.action == WITHHOLD]
        managed_ids = self.mirror_ids
        known = options.address_lists
        own_lists = known.own if known is not None else frozenset()
        sizes = known.sizes if known is not None else {}

        def keep(rule: Rule) -> bool:
            if withhold and first_match(withhold, rule):
                return False  # a withheld rule found on the mirror is revoked, whatever purge_rules says
            if not options.purge_rules:
                return True
            if rule.kind == GROUP:
                return rule.target not in managed_ids
            if rule.kind == PREFIX_LIST and rule.target in own_lists:
                return False  # a reference to one of our address lists is managed like a mirror reference
            return rule.kind == PREFIX_LIST and self.snapshot.is_classic(source.vpc_id)

        after = dict(current)
        diffs: Dict[str, RuleDiff] = {}
        why_revoked: Tuple[Tuple[Rule, Problem], ...] = ()
        for direction in directions:
            now = in_direction(current, direction)
            diff = diff_rules(in_direction(desired_all, direction), now, keep)
            final = apply_diff(now, diff)
            needed = weighted_quota_count(final, sizes)
            if needed > options.rules_quota:
                weighed = [rule for rule in final if rule.kind == PREFIX_LIST and rule.target in sizes]
                note = " (an address list counts as its maximum entries: %s)" % ", ".join(
                    "%s %d" % (rule.target, sizes[rule.target]) for rule in sorted(weighed, key=Rule.sort_key)) if weighed else ""
                return self.keep(failed(replace(pair, skipped_references=skipped), Problem("quota", (
                    "mirror of %s would need %d %s rules%s but the quota is %d per group; remove rules from the source, "
                    "or raise the EC2 quota and rules_quota" % (source.label, needed, direction, note, options.rules_quota)))))
            if weighted_quota_count(set(now) | set(diff.authorize), sizes) > options.rules_quota:
                diff = RuleDiff(diff.authorize, diff.revoke, diff.update, revoke_first=True)
            diffs[direction] = diff
            why_revoked += self.revoke_reasons(diff.revoke)
            after = {r: d for r, d in after.items() if r.direction != direction}
            after.update(final)
        return self.keep(replace(pair, before=current, after=after, rules=diffs, skipped_references=skipped, withheld_rules=withheld,
                                 revoke_reasons=why_revoked))

    def apply_guardrails(self, source: SecurityGroup, desired: RuleSet) -> Tuple[RuleSet, Tuple[dict, ...], List[str]]:
        """(desired rules a guardrail lets through, withheld rules, violations of ``fail`` guardrails)."""
        if not self.options.guardrails:
            return desired, (), []
        kept: RuleSet = {}
        withheld: List[dict] = []
        violations: List[str] = []
        for rule in sorted(desired, key=Rule.sort_key):
            guardrail = first_match(self.options.guardrails, rule)
            if guardrail is None:
                kept[rule] = desired[rule]
                continue
            entry = describe_rule(rule, desired[rule])
            if guardrail.action == FAIL:
                violations.append("%s matches %s" % (rule_text(rule), guardrail.text()))
                continue
            entry.update(pattern=guardrail.describe(), code=GUARDRAIL,
                         reason="matches guardrail %s: not mirrored, and revoked from the mirror" % guardrail.text())
            withheld.append(entry)
        return kept, tuple(withheld), violations

    def plan_absent(self, ref: str, source: Optional[SecurityGroup]) -> List[PairPlan]:
        """Removal pairs for every mirror of the source the run can see (one per scope), or only those in
        O(vpc_id) / the targets given."""
        source_id = source.id if source else ref
        wanted: Tuple[str, ...] = ()
        if self.options.targets is not None:
            wanted = tuple(target.vpc_id for target in self.options.targets.targets)
        elif self.options.vpc_id is not None:
            wanted = (self.options.vpc_id,)
        elif source is not None:
            wanted = tuple(target.vpc_id for target in source_targets(self.snapshot, source, self.options.link_tag_keys).targets)
        mirrors = [group for group in self.snapshot.mirrors() if group.mirrored_from == source_id]
        if wanted and any(group.vpc_id in wanted for group in mirrors):
            mirrors = [group for group in mirrors if group.vpc_id in wanted]
        if not mirrors:
            return [removal_pair(ref, source, [], vpc_id=wanted[0] if wanted else None)]
        by_scope: Dict[TargetScope, List[SecurityGroup]] = {}
        for group in mirrors:
            by_scope.setdefault(self.snapshot.scope_of_group(group.id), []).append(group)
        return [removal_pair(ref, source, by_scope[scope], vpc_id=by_scope[scope][0].vpc_id,
                             scope=None if scope == self.home else scope) for scope in sorted(by_scope)]


def failed(pair: PairPlan, problem: Problem) -> PairPlan:
    """``pair`` as a plan that changes nothing, with the reason."""
    return replace(pair, error=problem.message, code=problem.code, rules={})


def plan_pairs(snapshot: Snapshot, source_refs: Sequence[str], options: MirrorOptions) -> Plan:
    """Plan every requested pair from one Snapshot (of one scope, or of every scope the run reads)."""
    planner = _Planner(snapshot, options)
    ordered: List[PairPlan] = []
    resolved: List[Tuple[str, SecurityGroup, str]] = []  # (ref, source, target VPC)
    seen = set()
    for ref in source_refs:
        source, problem = planner.resolve_source(ref)
        if source is not None and source.id in seen:
            continue
        if options.state == "absent":
            if problem and not (is_group_id(ref.strip()) and problem.code == "not_found"):
                ordered.append(failed(PairPlan(source_ref=ref), problem))
            else:
                ordered.extend(planner.plan_absent(ref.strip(), source))
            if source is not None:
                seen.add(source.id)
            continue
        if problem:
            ordered.append(failed(PairPlan(source_ref=ref), problem))
            continue
        seen.add(source.id)
        targets, problem = planner.declared_targets(source)
        if problem:
            planner.managed.pop(source.id, None)
            ordered.append(failed(PairPlan(source_ref=ref, source=source, vpc_id=targets[0].vpc_id if targets else None), problem))
            continue
        usable = []
        for target in targets:
            problem = planner.check_target(source, target)
            if problem:
                ordered.append(failed(PairPlan(source_ref=ref, source=source, vpc_id=target.vpc_id,
                                               scope=None if target.scope == planner.home else target.scope), problem))
            else:
                usable.append(target.vpc_id)
                resolved.append((ref, source, target.vpc_id))
        if usable:
            planner.managed[source.id] = tuple(usable)
        else:
            planner.managed.pop(source.id, None)
    # Open every requested pair before translating any rules, so references between
    # requested sources find their pair (and placeholder) whatever the order.
    opened: List[Tuple[str, str]] = []
    for ref, source, vpc_id in resolved:
        pair = planner.pairs.get((source.id, vpc_id))
        if pair is None or pair.referenced_only:
            planner.open_pair(ref, source, vpc_id)
        opened.append((source.id, vpc_id))
    for key in opened:
        if not planner.pairs[key].error:
            planner.plan_rules(planner.pairs[key])
    if any(planner.pairs[key].error and planner.pairs[key].create for key in opened):
        # A pair failed while planning its rules (quota): its mirror will not be created,
        # so plan the others again; references to it are now skipped and reported.
        for key in opened:
            if not planner.pairs[key].error:
                planner.plan_rules(planner.pairs[key])
    ordered.extend(planner.pairs[key] for key in opened)
    batch_keys = set((pair.source_id, pair.vpc_id) for pair in ordered)
    ordered.extend(pair for key, pair in planner.pairs.items() if key not in batch_keys)
    undecided = [pair.source_id for pair in ordered if pair.error and pair.source is not None]
    orphans = find_orphans(snapshot, options.link_tag_keys, options.prune_vpc_ids, planner.managed, undecided)
    paired_sources = set(source_id for source_id, _vpc in planner.pairs)
    if options.prune and options.state == "present":
        for mirror, reason in orphans:
            source = snapshot.groups.get(mirror.mirrored_from)
            scope = snapshot.scope_of_group(mirror.id)
            ordered.append(removal_pair(mirror.mirrored_from, source, [mirror], touch_source=mirror.mirrored_from not in paired_sources,
                                        orphan=reason, scope=None if scope == snapshot.home else scope))
    names = {group_id: group.name for group_id, group in snapshot.groups.items()}
    names.update(snapshot.names)
    names.update((pair.mirror_id, pair.source.name) for pair in ordered if pair.create)
    failed_keys = set((pair.source_id, pair.vpc_id) for pair in ordered if pair.error)
    wanted = tuple(replace(planner.wanted[key], active=any(who not in failed_keys for who in planner.wanting[key]))
                   for key in sorted(planner.wanted))
    plan = Plan(tuple(ordered), tuple(orphans), names, home=snapshot.home, address_lists=wanted,
                orphan_scopes={mirror.id: snapshot.scope_of_group(mirror.id) for mirror, _reason in orphans})
    return _with_records(planner, plan)


def _needs_record(planner: _Planner, source: SecurityGroup, pairs: List[PairPlan]) -> bool:
    """Whether a source's mirroredTo tag is a record of several mirrors (or of a mirror elsewhere), written
    once per source after every scope; else the single-scope way (one id, written with its pair)."""
    if planner.options.targets is not None:
        return True
    if any(pair.scope is not None for pair in pairs) or len([pair for pair in pairs if not pair.removal]) > 1:
        return True
    recorded = current_record(planner.snapshot, source)
    return len(recorded) > 1 or any(location.scope != planner.home for location in recorded)


def _with_records(planner: _Planner, plan: Plan) -> Plan:
    """Put each record source's tag change on its first pair (the others change no source tag)."""
    snapshot, home = planner.snapshot, planner.home
    by_source: Dict[str, List[int]] = {}
    for index, pair in enumerate(plan.pairs):
        if pair.source is not None and snapshot.is_home_group(pair.source.id):
            by_source.setdefault(pair.source.id, []).append(index)
    records: Dict[str, SourceRecord] = {}
    for source_id, indices in by_source.items():
        pairs = [plan.pairs[index] for index in indices]
        source = pairs[0].source
        if not _needs_record(planner, source, pairs) or all(pair.error for pair in pairs):
            continue
        accounted = set()
        for pair in pairs:
            accounted.update(pair.delete_ids)
            if pair.mirror is not None:
                accounted.add(pair.mirror.id)
        only_referenced = all(pair.referenced_only for pair in pairs)
        # A source the run only refers to keeps every mirror it has (its own run decides about them); else the
        # record keeps mirrors of scopes the run did not read, and other scopes' mirrors no pair deals with.
        kept = [location for location in current_record(snapshot, source)
                if only_referenced or not snapshot.was_read(location.scope)]
        kept.extend(GroupLocation(snapshot.scope_of_group(group.id), group.id) for group in snapshot.mirrors()
                    if group.mirrored_from == source_id and group.id not in accounted
                    and (only_referenced or snapshot.scope_of_group(group.id) != home))
        links = {}
        if planner.options.targets is not None and planner.options.targets.targets:
            text = ",".join(target.text(home) for target in planner.options.targets.targets)
            declared = source_targets(snapshot, source, planner.options.link_tag_keys)
            if declared.error or set(declared.targets) != set(planner.options.targets.targets):
                links = {key: text for key in planner.link_keys(source)}
        elif planner.options.vpc_id:
            links = {key: planner.options.vpc_id for key in planner.link_keys(source)}
        records[source_id] = SourceRecord(source, tuple(sorted(set(kept))), links)
    if not records:
        return plan
    plan = replace(plan, records=records)
    pairs = list(plan.pairs)
    for source_id in records:
        change, error = record_change(plan, source_id)
        indices = [index for index, pair in enumerate(pairs) if pair.source_id == source_id and index in by_source[source_id]]
        # The record goes with the source's first pair that can be planned (a failed pair, e.g. of a scope that
        # cannot be reached, must not keep the mirrors made in the other scopes out of the record).
        holder = next((index for index in indices if not pairs[index].error), indices[0] if indices else None)
        too_long = max((len(value) for value in records[source_id].link_tags.values()), default=0)
        for index in indices:
            pair = pairs[index]
            pairs[index] = replace(pair, record=True, source_tags=change if index == holder else NO_TAG_CHANGE)
            if too_long > TAG_VALUE_MAX and not pair.error:  # EC2 would refuse the link tag after the mirrors were made
                pairs[index] = failed(pairs[index], Problem("bad_link_tag", (
                    "security group %s: the targets option makes a link tag value of %d characters, and EC2 tag values "
                    "hold at most %d; give this source fewer targets (about three VPC ARNs, or twelve VPC ids of its "
                    "own region, fit in one tag)" % (pair.source.label, too_long, TAG_VALUE_MAX))))
            elif index == holder and error and not pair.error:
                pairs[index] = failed(pairs[index], Problem("bad_record", "security group %s: %s" % (pair.source.label, error)))
    return replace(plan, pairs=tuple(pairs))
