# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: mirror_summary
short_description: Count what one run of the mirror role changed
version_added: 0.1.0
author:
  - classiclink.mirror maintainers
description:
  - Reads the registered results of the calls a run of the C(classiclink.mirror.mirror) role makes and returns counts,
    the list of failures, and a few lines of text for a person to read. The role makes one call per scope,
    M(classiclink.mirror.classiclink_mirror_group) with
    O(classiclink.mirror.classiclink_mirror_group#module:link_instances=true), and passes its result as O(_input) and
    O(links). Separate calls (mirror the sources, link instances with M(classiclink.mirror.classiclink_instance_link),
    delete orphan mirrors) are read as well.
  - Any of the results may be missing, V(null), or the result of a skipped task; it then counts nothing.
  - A result without its list (RV(classiclink.mirror.classiclink_mirror_group#module:groups) or
    RV(classiclink.mirror.classiclink_instance_link#module:instances)) comes from a call that failed as a whole (for
    example the describes were refused); the module's own C(msg) is listed among the errors. When that message only
    says that the module failed (C(MODULE FAILURE), C(Module result deserialization failed)), the last line of its
    C(exception), C(module_stderr) or C(module_stdout) (the Python error) is added. The filter never puts a guess of
    its own in place of the module's reason.
  - "Register the calls with C(failed_when: <result>.groups is not defined) (or C(.instances)) and C(ignore_errors: true),
    as the role does, rather than C(failed_when: false): since ansible-core 2.19 a module that crashed (an unhandled
    exception) has its message only in C(exception), which C(failed_when: false) drops from the registered result."
  - Registered that way, a call with failed pairs or instances (it still returns its list, with their errors) does not
    fail the task; that is how the role goes on after a failed pair and fails the host at the end.
  - Rule changes are read with the collection's one rule-change vocabulary, V(authorize), V(revoke) and V(update) (the same
    in all three modules, the audit and this filter), the keys of
    RV(classiclink.mirror.classiclink_mirror_group#module:groups[].ingress) and
    RV(classiclink.mirror.classiclink_mirror_group#module:groups[].egress). The same words key the audit's
    RV(classiclink.mirror.classiclink_mirror_info#module:pairs[].drift); they are counted as RV(_value.rules_added),
    RV(_value.rules_revoked) and RV(_value.rules_updated).
  - VPC conflicts are counted by reason code (V(vpc_conflict) in
    RV(classiclink.mirror.classiclink_instance_link#module:instances[].code)), not by the wording of the reason. Every
    skipped instance is counted by its code (RV(_value.instances_skipped_by_code)); the lines list the first five with
    their reason (VPC conflicts first), then how many more. Rules that are not mirrored, withheld by a guardrail or
    revoked as a knock-on change are listed the same way, the first ten with their reason, then how many more.
  - Runs that succeed but most likely did not do what was meant are warned about (RV(_value.warnings), and lines
    starting with C(WARNING:)) - a scope where no source group carries a link tag, and
    O(vpc_ids) that match no source, mirror or instance. Warnings need O(vpc_ids) and name O(region) and
    O(link_tag_keys), the options the mirror call ran with; the role passes them.
positional: _input, links, pruned
options:
  _input:
    description: Registered result of the M(classiclink.mirror.classiclink_mirror_group) call that mirrors the sources.
    type: dict
    required: true
  links:
    description:
      - Registered result of the M(classiclink.mirror.classiclink_instance_link) call, or the O(_input) result again
        when that call linked the instances itself
        (O(classiclink.mirror.classiclink_mirror_group#module:link_instances=true)).
    type: dict
  pruned:
    description:
      - Registered result of the M(classiclink.mirror.classiclink_mirror_group) call that deletes orphan mirrors
        (O(classiclink.mirror.classiclink_mirror_group#module:prune=true)).
      - Only its orphan entries (with an C(orphan) reason) are counted, as deletions or errors. The role passes the
        sources of the run to that call again so that an orphan whose new pair failed is kept; those pairs were
        already counted from O(_input).
    type: dict
  region:
    description: The region of the scope, as the warnings name it. Unset, they say "this scope's region".
    type: str
  link_tag_keys:
    description:
      - The tag keys the mirror call looked for (O(classiclink.mirror.classiclink_mirror_group#module:link_tag_keys)),
        as the warning about a scope without tagged source group names them.
    type: list
    elements: str
  vpc_ids:
    description:
      - The VPC ids the run was limited to (O(classiclink.mirror.classiclink_mirror_group#module:vpc_ids)). Those that
        match no source, mirror, orphan or instance of the results are warned about; empty or unset means every VPC.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Summarise the run of the role
  ansible.builtin.set_fact:
    mirror_run_summary: >-
      {{ mirror_groups_result | classiclink.mirror.mirror_summary(mirror_groups_result,
           region=aws_region, link_tag_keys=mirror_link_tag_keys, vpc_ids=mirror_vpc_ids) }}

- name: Show it
  ansible.builtin.debug:
    msg: "{{ mirror_run_summary.lines }}"

- name: Fail when a pair or an instance failed
  ansible.builtin.fail:
    msg: "{{ mirror_run_summary.errors | join('; ') }}"
  when: mirror_run_summary.errors | length > 0
"""

RETURN = r"""
_value:
  description: The counts, the failures, and the text.
  type: dict
  sample:
    changed: true
    groups_created: 1
    groups_updated: 1
    groups_unchanged: 4
    groups_deleted: 0
    groups_failed: 0
    rules_added: 2
    rules_revoked: 1
    rules_updated: 0
    skipped_references: 1
    links_made: 1
    links_changed: 0
    links_removed: 0
    links_unchanged: 3
    instances_skipped: 1
    conflicts: 0
    classiclink_enabled: 0
    orphans_kept: 0
    errors: []
    warnings: []
    instances_skipped_by_code:
      not_running: 1
    lines:
      - "mirrors: 1 created, 1 updated, 4 unchanged, 0 deleted, 0 failed"
      - "rules: 2 added, 1 revoked, 0 descriptions updated"
      - "links: 1 made, 0 changed, 0 removed, 3 unchanged, 1 instances skipped (0 VPC conflicts)"
      - "instances not linked: 1 (not_running 1)"
      - "  instance i-0123456789abcdef0 not linked: instance is stopped; only running instances can be linked"
      - "web (sg-0123456789abcdef0) -> vpc-0a1b2c3d4e5f60718: tcp 5432 from legacy-elb (sg-0aaaaaaaaaaaaaaaa) not mirrored: group
        legacy-elb (sg-0aaaaaaaaaaaaaaaa) is not managed by classiclink.mirror (no link tag); tag it to mirror the reference"
      - "failures: none"
  contains:
    changed:
      description: Whether any of the calls changed (or in check mode would change) something.
      type: bool
      sample: true
    groups_created:
      description: Mirrors created (including mirrors created empty because another mirror refers to them).
      type: int
      sample: 1
    groups_updated:
      description: Existing mirrors whose rules or tags changed.
      type: int
      sample: 1
    groups_unchanged:
      description: Mirrors already in sync.
      type: int
      sample: 4
    groups_deleted:
      description: Mirrors deleted (orphans, and mirrors removed with O(classiclink.mirror.classiclink_mirror_group#module:state=absent)).
      type: int
      sample: 0
    groups_failed:
      description: Pairs and orphans that failed.
      type: int
      sample: 0
    rules_added:
      description: Rules authorized on mirrors, ingress and egress (the V(authorize) lists of the pairs' rule changes).
      type: int
      sample: 2
    rules_revoked:
      description: Rules revoked from mirrors (the V(revoke) lists).
      type: int
      sample: 1
    rules_updated:
      description: Rules whose description was updated (the V(update) lists).
      type: int
      sample: 0
    skipped_references:
      description: Source rules that refer to groups that cannot be translated, so they are not on the mirror.
      type: int
      sample: 1
    links_made:
      description: Instances linked.
      type: int
      sample: 1
    links_changed:
      description: Instances detached and linked again with other groups or to another VPC.
      type: int
      sample: 0
    links_removed:
      description: Links removed (stale links, with pruning on).
      type: int
      sample: 0
    links_unchanged:
      description: Instances whose link was already right.
      type: int
      sample: 3
    instances_skipped:
      description: Instances that were not linked (not running, no managed group, conflicting VPCs...).
      type: int
      sample: 1
    conflicts:
      description: Skipped instances whose managed groups point at more than one VPC (code V(vpc_conflict)).
      type: int
      sample: 0
    classiclink_enabled:
      description: VPCs on which ClassicLink was enabled.
      type: int
      sample: 0
    orphans_kept:
      description: Orphan mirrors reported by the mirror call (RV(classiclink.mirror.classiclink_mirror_group#module:orphans)) that were not deleted.
      type: int
      sample: 0
    rules_withheld:
      description: Source rules that guardrails kept out of the mirrors (RV(classiclink.mirror.classiclink_mirror_group#module:groups[].withheld_rules)).
      type: int
      sample: 0
    address_lists_created:
      description:
        - Address lists created (O(classiclink.mirror.classiclink_mirror_group#module:references=addresses);
          RV(classiclink.mirror.classiclink_mirror_group#module:address_lists[].action)). The four address-list counts
          make the line C(address lists - X created, Y modified, Z unchanged, W deleted), shown when the run has any list.
      type: int
      sample: 0
      version_added: 0.1.0
    address_lists_modified:
      description: Address lists whose entries (or size) were changed - the true-up of a membership change.
      type: int
      sample: 0
      version_added: 0.1.0
    address_lists_unchanged:
      description: Address lists already exact.
      type: int
      sample: 0
      version_added: 0.1.0
    address_lists_deleted:
      description: Unused address lists deleted (prune).
      type: int
      sample: 0
      version_added: 0.1.0
    address_lists_failed:
      description: Address lists that failed (each also in RV(_value.errors)).
      type: int
      sample: 0
      version_added: 0.1.0
    members_without_public_address:
      description:
        - Members left out of address lists because they have no public IPv4 address (address_kind public, code
          V(no_public_address)).
      type: int
      sample: 0
      version_added: 0.1.0
    mirrors_in_use:
      description:
        - Mirrors in use - reported in use by the mirror call's usage audit, or linked by the link call. 0 when the mirror
          call ran without O(classiclink.mirror.classiclink_mirror_group#module:usage_audit).
      type: int
      sample: 3
    mirrors_total:
      description: Mirrors the usage audit looked at; the migration's progress is RV(_value.mirrors_in_use) of this.
      type: int
      sample: 5
    errors:
      description:
        - One line per failed pair, orphan, instance, or failed call.
        - A call that failed as a whole is listed with the module's own message (and, for a crash, the last line of
          its exception or output).
      type: list
      elements: str
      sample:
        - "mirror: Could not describe the security groups and VPCs of this region: An error occurred (500) when calling
          the DescribeVpcs operation: Internal Server Error"
    warnings:
      description:
        - Likely mistakes of a run that did not fail; also in RV(_value.lines), after C(WARNING:).
        - No source group in the scope carries a link tag (naming the region and the tag keys looked for); the VPC ids
          of O(classiclink.mirror.classiclink_mirror_group#module:vpc_ids) that match no source, mirror or instance.
      type: list
      elements: str
      sample:
        - "no source group in us-east-1 carries a link tag (classiclinkmirror:linkToVPC, classicmirror:linkToVPC):
          nothing was mirrored; tag the EC2-Classic groups with the target VPC id, or set mirror_link_tag_keys to the
          keys your tags use"
    instances_skipped_by_code:
      description: Skipped instances per reason code (RV(classiclink.mirror.classiclink_instance_link#module:instances[].code)).
      type: dict
      sample:
        not_running: 1
        vpc_conflict: 0
    lines:
      description: A short text for a person, one line per list element.
      type: list
      elements: str
      sample:
        - "mirrors: 1 created, 1 updated, 4 unchanged, 0 deleted, 0 failed"
        - "rules: 2 added, 1 revoked, 0 descriptions updated"
        - "links: 1 made, 0 changed, 0 removed, 3 unchanged, 1 instances skipped (0 VPC conflicts)"
        - "instances not linked: 1 (not_running 1)"
        - "  instance i-0123456789abcdef0 not linked: instance is stopped; only running instances can be linked"
        - "web (sg-0123456789abcdef0) -> vpc-0a1b2c3d4e5f60718: tcp 5432 from legacy-elb (sg-0aaaaaaaaaaaaaaaa) not mirrored: group
          legacy-elb (sg-0aaaaaaaaaaaaaaaa) is not managed by classiclink.mirror (no link tag); tag it to mirror the reference"
        - "failures: none"
"""

import typing as t

from ansible.errors import AnsibleFilterError

DIRECTIONS = ("ingress", "egress")
VPC_CONFLICT = "vpc_conflict"  # the code of an instance whose managed groups map to several VPCs
LINK_COUNTERS = {
    "linked": "links_made",
    "relinked": "links_changed",
    "unlinked": "links_removed",
    "unchanged": "links_unchanged",
    "skipped": "instances_skipped",
}
COUNTERS = (
    "groups_created",
    "groups_updated",
    "groups_unchanged",
    "groups_deleted",
    "groups_failed",
    "rules_added",
    "rules_revoked",
    "rules_updated",
    "skipped_references",
    "links_made",
    "links_changed",
    "links_removed",
    "links_unchanged",
    "instances_skipped",
    "conflicts",
    "classiclink_enabled",
    "orphans_kept",
    "rules_withheld",
    "address_lists_created",
    "address_lists_modified",
    "address_lists_unchanged",
    "address_lists_deleted",
    "address_lists_failed",
    "members_without_public_address",
    "mirrors_in_use",
    "mirrors_total",
)
LINKED_ACTIONS = ("linked", "relinked", "unchanged")  # a mirror in such a link is in use
UNUSED_SHOWN = 5  # unused mirrors named in the summary line, then a count
SKIPPED_SHOWN = 5  # skipped instances listed with their reason, then a count
RULES_SHOWN = 10  # rules not mirrored, withheld or revoked as a knock-on, listed with their reason, then a count
WARNING = "WARNING: "


def _ran(result: t.Any, name: str) -> bool:
    """Whether ``result`` is the result of a call that ran (not missing, not skipped)."""
    if result is None:
        return False
    if not isinstance(result, dict):
        raise AnsibleFilterError("mirror_summary: %s must be a registered task result (a dict), got %s" % (name, type(result).__name__))
    return not result.get("skipped")


# Messages that say only that a module failed; the reason is then in its exception or output.
GENERIC_FAILURES = ("MODULE FAILURE", "See stdout/stderr for the exact error", "Module result deserialization failed",
                    "Module failed.", "Task failed: Module failed.")
NO_DETAIL = ("(traceback unavailable)",)  # what ansible-core 2.19 keeps of an exception without a traceback
DETAIL_KEYS = ("exception", "failed_when_suppressed_exception", "module_stderr", "module_stdout")
DETAIL_CHARS = 400
MESSAGE_CHARS = 1000  # a module's message can quote a whole answer (an HTML error page): the reason comes first


def _last_line(text: t.Any) -> str:
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip() and line.strip() not in NO_DETAIL]
    return lines[-1][:DETAIL_CHARS] if lines else ""


def _failure_text(result: dict) -> str:
    """The module's own account of a failed call: its C(msg), and when that is only "the module failed", the last
    line of its exception or output (the Python error)."""
    msg = " ".join(str(result.get("msg") or "").split())
    if msg.startswith("Task failed: "):
        msg = msg[len("Task failed: "):]
    if len(msg) > MESSAGE_CHARS:
        msg = "%s ... (%d more characters)" % (msg[:MESSAGE_CHARS], len(msg) - MESSAGE_CHARS)
    detail = next((line for line in (_last_line(result.get(key)) for key in DETAIL_KEYS) if line), "")
    generic = not msg or all(any(line.strip().startswith(g) for g in GENERIC_FAILURES)
                             for line in str(result.get("msg") or "").splitlines() if line.strip())
    if msg and not generic:
        return msg
    if detail:
        return "%s: %s" % (msg, detail) if msg else detail
    if msg:
        return "%s (no exception or output was kept; run the module again with -vvv)" % msg
    return "the module returned neither its result nor a message (run it again with -vvv)"


def _call_error(result: dict, items: str, what: str) -> t.Optional[str]:
    """The message of a call that failed as a whole (its result has no per-item list): the module's own."""
    if items in result:
        return None
    return "%s: %s" % (what, _failure_text(result))


def _pair_label(entry: dict) -> str:
    name = entry.get("source_group_name") or entry.get("group_name") or entry.get("source_ref") or "?"
    source = entry.get("source_group_id")
    label = "%s (%s)" % (name, source) if source and source != name else name
    return "%s -> %s" % (label, entry["vpc_id"]) if entry.get("vpc_id") else label


def _rule_text(rule: dict) -> str:
    target = next((rule[key] for key in ("cidr_ip", "cidr_ipv6", "prefix_list_id", "group_id") if rule.get(key)), "?")
    if rule.get("group_id") and rule.get("group_name"):
        target = "%s (%s)" % (rule["group_name"], rule["group_id"])
    protocol = rule.get("protocol", "?")
    ports = ""
    if rule.get("from_port") is not None:
        ports = " %s" % rule["from_port"] if rule["from_port"] == rule.get("to_port") else " %s-%s" % (rule["from_port"], rule.get("to_port"))
    return "%s%s from %s" % (protocol, ports, target)


class _Summary:
    def __init__(self) -> None:
        self.counts: t.Dict[str, int] = {key: 0 for key in COUNTERS}
        self.changed = False
        self.errors: t.List[str] = []
        self.skipped: t.List[str] = []
        self.deleted_ids: t.Set[str] = set()
        self.unused: t.List[str] = []
        self.not_linked: t.List[str] = []  # skipped instances with their reason, VPC conflicts first
        self.skipped_by_code: t.Dict[str, int] = {}
        self.warnings: t.List[str] = []

    def add_groups(self, result: t.Any, what: str, orphans_only: bool = False) -> None:
        if not _ran(result, what):
            return
        self.changed = self.changed or bool(result.get("changed"))
        error = _call_error(result, "groups", what)
        if error:
            self.errors.append(error)
            return
        for entry in result["groups"]:
            if entry.get("orphan") or not orphans_only:
                self.add_pair(entry)

    def add_pair(self, entry: dict) -> None:
        deleted = list(entry.get("deleted") or ())
        self.counts["groups_deleted"] += len(deleted)
        self.deleted_ids.update(deleted)
        for direction in DIRECTIONS:
            changes = entry.get(direction) or {}
            self.counts["rules_added"] += len(changes.get("authorize") or ())
            self.counts["rules_revoked"] += len(changes.get("revoke") or ())
            self.counts["rules_updated"] += len(changes.get("update") or ())
            for rule in changes.get("revoke") or ():
                if rule.get("reason"):  # a knock-on change: another source stopped being managed
                    self.skipped.append("%s: %s revoked: %s" % (_pair_label(entry), _rule_text(rule), rule["reason"]))
        for rule in entry.get("withheld_rules") or ():
            self.counts["rules_withheld"] += 1
            self.skipped.append("%s: %s withheld: %s" % (_pair_label(entry), _rule_text(rule), rule.get("reason") or "matches a guardrail"))
        for rule in entry.get("skipped_references") or ():
            self.counts["skipped_references"] += 1
            self.skipped.append("%s: %s not mirrored: %s" % (_pair_label(entry), _rule_text(rule), rule.get("reason") or "cannot be translated"))
        if entry.get("error"):
            self.counts["groups_failed"] += 1
            self.errors.append("%s %s: %s" % ("orphan" if entry.get("orphan") else "pair", _pair_label(entry), entry["error"]))
        elif entry.get("orphan") or deleted:
            pass  # an orphan (or a removed pair) counts as a deletion only
        elif entry.get("created"):
            self.counts["groups_created"] += 1
        elif entry.get("changed"):
            self.counts["groups_updated"] += 1
        else:
            self.counts["groups_unchanged"] += 1

    def add_links(self, result: t.Any) -> None:
        if not _ran(result, "links"):
            return
        self.changed = self.changed or bool(result.get("changed"))
        if result.get("links_error"):  # one call that mirrored but could not read the ClassicLink state
            self.errors.append("instance links: %s" % result["links_error"])
            return
        error = _call_error(result, "instances", "instance links")
        if error:
            self.errors.append(error)
            return
        self.counts["classiclink_enabled"] += len(result.get("enabled_classiclink") or ())
        for item in result["instances"]:
            action = item.get("action")
            if action == "error":
                self.errors.append("instance %s: %s" % (item.get("instance_id"), item.get("reason")))
                continue
            if action in LINK_COUNTERS:
                self.counts[LINK_COUNTERS[action]] += 1
            if action != "skipped":
                continue
            code = item.get("code") or "unknown"
            self.skipped_by_code[code] = self.skipped_by_code.get(code, 0) + 1
            text = "instance %s not linked: %s" % (item.get("instance_id"), item.get("reason") or code)
            if code == VPC_CONFLICT:
                self.counts["conflicts"] += 1
                self.not_linked.insert(self.counts["conflicts"] - 1, text)
            else:
                self.not_linked.append(text)

    def add_usage(self, mirrored: t.Any, links: t.Any) -> None:
        """Mirrors in use (RV(groups[].mirror_in_use) of the mirror call, or linked by the link call)."""
        if not isinstance(mirrored, dict) or "mirrors_total" not in mirrored:
            return
        linked = set()
        if isinstance(links, dict):
            for item in links.get("instances") or ():
                if item.get("action") in LINKED_ACTIONS:
                    linked.update(item.get("groups") or ())
        audited = [entry for entry in mirrored.get("groups") or () if entry.get("mirror_in_use") is not None]
        unused = [entry for entry in audited if not entry["mirror_in_use"] and entry.get("mirror_group_id") not in linked]
        self.counts["mirrors_total"] = len(audited)
        self.counts["mirrors_in_use"] = len(audited) - len(unused)
        self.unused = ["%s (%s)" % (entry.get("source_group_name"), entry.get("mirror_group_id")) for entry in unused]

    def add_address_lists(self, result: t.Any) -> None:
        """The address lists of a mirror call (references=addresses): counted by action, failures listed."""
        if not isinstance(result, dict):
            return
        for entry in result.get("address_lists") or ():
            if not isinstance(entry, dict):
                continue
            if entry.get("error"):
                self.counts["address_lists_failed"] += 1
                self.errors.append("address list %s (%s): %s" % (entry.get("name"), entry.get("prefix_list_id"), entry["error"]))
            else:
                action = entry.get("action")
                if action in ("created", "modified", "unchanged", "deleted"):
                    self.counts["address_lists_" + action] += 1
            self.counts["members_without_public_address"] += len(entry.get("members_without_public_address") or ())

    def add_orphans(self, mirrored: t.Any) -> None:
        if not isinstance(mirrored, dict):
            return
        orphans = mirrored.get("orphans") or ()
        self.counts["orphans_kept"] = len([o for o in orphans if o.get("group_id") not in self.deleted_ids])

    def add_warnings(self, mirrored: t.Any, links: t.Any, pruned: t.Any, region: t.Optional[str],
                     link_tag_keys: t.Any, vpc_ids: t.Any) -> None:
        """Runs that exit 0 but most likely did not do what was meant: no tagged source group in the scope, or
        ``vpc_ids`` that match nothing."""
        if not isinstance(mirrored, dict) or mirrored.get("skipped") or not isinstance(mirrored.get("groups"), list):
            return  # the mirror call did not run or failed as a whole (an error says why)
        region = region or "this scope's region"
        keys = ", ".join(_names(link_tag_keys, "link_tag_keys")) or "the link tag keys"
        vpc_ids = [vpc for vpc in _names(vpc_ids, "vpc_ids") if vpc]
        if vpc_ids:
            seen = set()
            for result in (mirrored, pruned):
                if isinstance(result, dict):
                    seen.update(entry.get("vpc_id") for entry in list(result.get("groups") or ()) + list(result.get("orphans") or ()))
            if isinstance(links, dict):
                seen.update(item.get("vpc_id") for item in links.get("instances") or ())
                seen.update(links.get("enabled_classiclink") or ())
            unmatched = [vpc for vpc in vpc_ids if vpc not in seen]
            if unmatched:
                them = "it" if len(unmatched) == 1 else "them"
                self.warnings.append(
                    "mirror_vpc_ids %s matched nothing in %s: no source group's link tag (%s) names %s, and no mirror or "
                    "instance is in %s; check the VPC ids" % (", ".join(unmatched), region, keys, them, them))
        elif not mirrored["groups"]:
            self.warnings.append(
                "no source group in %s carries a link tag (%s): nothing was mirrored; tag the EC2-Classic groups with "
                "the target VPC id, or set mirror_link_tag_keys to the keys your tags use" % (region, keys))

    def lines(self) -> t.List[str]:
        c = self.counts
        out = [
            "mirrors: %d created, %d updated, %d unchanged, %d deleted, %d failed"
            % (c["groups_created"], c["groups_updated"], c["groups_unchanged"], c["groups_deleted"], c["groups_failed"]),
            "rules: %d added, %d revoked, %d descriptions updated" % (c["rules_added"], c["rules_revoked"], c["rules_updated"]),
            "links: %d made, %d changed, %d removed, %d unchanged, %d instances skipped (%d VPC conflicts)"
            % (c["links_made"], c["links_changed"], c["links_removed"], c["links_unchanged"], c["instances_skipped"], c["conflicts"]),
        ]
        if c["classiclink_enabled"]:
            out.append("ClassicLink enabled on %d VPCs" % c["classiclink_enabled"])
        if c["orphans_kept"]:
            out.append("orphan mirrors kept: %d (turn pruning on to delete them)" % c["orphans_kept"])
        if c["rules_withheld"]:
            out.append("rules withheld by guardrails: %d" % c["rules_withheld"])
        lists = [c["address_lists_" + action] for action in ("created", "modified", "unchanged", "deleted", "failed")]
        if any(lists):
            out.append("address lists: %d created, %d modified, %d unchanged, %d deleted%s" % (
                lists[0], lists[1], lists[2], lists[3], ", %d failed" % lists[4] if lists[4] else ""))
        if c["members_without_public_address"]:
            out.append("members without a public address (not in their address lists): %d" % c["members_without_public_address"])
        if c["mirrors_total"]:
            shown = ", ".join(self.unused[:UNUSED_SHOWN]) + (", and %d more" % (len(self.unused) - UNUSED_SHOWN) if len(self.unused) > UNUSED_SHOWN else "")
            out.append("mirrors in use: %d of %d%s" % (c["mirrors_in_use"], c["mirrors_total"], "; not yet: " + shown if shown else ""))
        if self.not_linked:
            out.append("instances not linked: %d (%s)" % (
                len(self.not_linked), ", ".join("%s %d" % (code, n) for code, n in sorted(self.skipped_by_code.items()))))
            out.extend("  " + text for text in self.not_linked[:SKIPPED_SHOWN])
            if len(self.not_linked) > SKIPPED_SHOWN:
                out.append("  and %d more (every instance with its reason is in the report)" % (len(self.not_linked) - SKIPPED_SHOWN))
        out.extend(self.skipped[:RULES_SHOWN])
        if len(self.skipped) > RULES_SHOWN:
            out.append("and %d more rules not mirrored, withheld or revoked (every rule with its reason is in the report and "
                       "the module result)" % (len(self.skipped) - RULES_SHOWN))
        out.extend(WARNING + warning for warning in self.warnings)
        if self.errors:
            out.append("FAILED: %d" % len(self.errors))
            out.extend("  " + error for error in self.errors)
        else:
            out.append("failures: none")
        return out

    def result(self) -> t.Dict[str, t.Any]:
        summary: t.Dict[str, t.Any] = dict(self.counts)
        summary["changed"] = self.changed
        summary["errors"] = list(self.errors)
        summary["warnings"] = list(self.warnings)
        summary["instances_skipped_by_code"] = dict(self.skipped_by_code)
        summary["lines"] = self.lines()
        return summary


def _names(value: t.Any, name: str) -> t.List[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)):
        return [str(part) for part in value]
    raise AnsibleFilterError("mirror_summary: %s must be a list of strings, got %s" % (name, type(value).__name__))


def mirror_summary(mirrored: t.Any, links: t.Any = None, pruned: t.Any = None, region: t.Optional[str] = None,
                   link_tag_keys: t.Any = None, vpc_ids: t.Any = None) -> t.Dict[str, t.Any]:
    """Counts, failures, warnings and text for one run of the mirror role."""
    summary = _Summary()
    summary.add_groups(mirrored, "mirror")
    if isinstance(links, dict) and links == mirrored and "groups" not in links:
        links = None  # the one call of the role (link_instances) failed as a whole: its error is counted once
    summary.add_links(links)
    summary.add_groups(pruned, "prune", orphans_only=True)
    summary.add_orphans(mirrored)
    summary.add_address_lists(mirrored)
    summary.add_usage(mirrored, links)
    summary.add_warnings(mirrored, links, pruned, region, link_tag_keys, vpc_ids)
    return summary.result()


class FilterModule:
    """classiclink.mirror filters."""

    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"mirror_summary": mirror_summary}
