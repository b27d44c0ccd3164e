# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: mirror_report
short_description: Render the migration report of one run of the mirror role as an HTML page or a Markdown comment
version_added: 0.1.0
author:
  - classiclink.mirror maintainers
description:
  - Takes the reports of every scope of one run of the C(classiclink.mirror.mirror) role (each scope's C(mirror_report)
    fact, the same document as its C(<scope>.json) report) and renders them as one page.
  - V(html) is a self-contained page, with inline CSS, an inline SVG picture of the mapping and a little inline
    JavaScript for the filters; it fetches nothing from the network. Per scope and per target VPC it lists each pair
    (source to mirror) with its state (V(created), V(updated), V(unchanged), V(failed), V(orphan)), the rule changes
    (the drift the run fixed, or in check mode would fix), the skipped references and withheld rules with their reason
    codes and what to do, the instances with their link actions and conflicts, and the address lists when the reports
    carry them (an C(address_lists) key; the section is left out otherwise).
  - The picture shows the sources on the left, the mirrors on the right, an edge per pair, and an edge between two
    mirrors for each reference between managed groups that the run authorized (a rule whose C(group_id) is another
    pair's mirror). Rules that were already on the mirrors are not in the modules' results, so they are not drawn.
  - The filters (scope, pair state, instance action) can also be set in the address, for example
    C(mirror-report.html#state=failed&scope=prod-east).
  - V(markdown) is a compact form for a pull-request or ticket comment - a table of pairs per scope (unchanged pairs
    are only counted when there are many), the failures, and the skipped references.
  - A run in check mode (any scope's C(check_mode)) is marked "dry run" in the title and in a banner.
  - Every text from AWS or from the inventory is escaped.
positional: _input
options:
  _input:
    description:
      - The reports of the scopes, one dict per scope, as the role builds them - C(scope), C(check_mode), C(region),
        C(profile), C(summary) (the P(classiclink.mirror.mirror_summary#filter) result), C(pairs) (the
        RV(classiclink.mirror.classiclink_mirror_group#module:groups) of the mirror call), C(orphans), C(instances) (the
        RV(classiclink.mirror.classiclink_instance_link#module:instances)), and optionally C(unused_mirrors) and
        C(address_lists).
      - A single dict is taken as a list of one.
    type: list
    elements: dict
    required: true
  format:
    description: V(html) for the page, V(markdown) for the comment.
    type: str
    choices: [html, markdown]
    default: html
  missing:
    description:
      - Scopes of the run that have no report (their host failed before the report was written). They are listed as
        failures.
    type: list
    elements: str
    default: []
  generated:
    description: When the report was made, shown as given (the role passes the controller's UTC time).
    type: str
    default: ""
  title:
    description: Title of the page.
    type: str
    default: classiclink.mirror migration report
"""

EXAMPLES = r"""
- name: Write one page for every scope of the play
  ansible.builtin.copy:
    dest: "{{ mirror_report_path }}/mirror-report.html"
    mode: "0644"
    content: >-
      {{ ansible_play_hosts_all | map('extract', hostvars) | selectattr('mirror_report', 'defined')
         | map(attribute='mirror_report') | list | classiclink.mirror.mirror_report(format='html') }}
  run_once: true
  delegate_to: localhost

- name: The same as a Markdown comment
  ansible.builtin.copy:
    dest: "{{ mirror_report_path }}/mirror-report.md"
    mode: "0644"
    content: "{{ [mirror_report] | classiclink.mirror.mirror_report(format='markdown') }}"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description:
    - The page (V(html)) or the comment (V(markdown)), ending with a newline.
    - "In the page, each pair or orphan is a table row with C(data-pair), C(data-scope), C(data-vpc) and C(data-state)
      attributes; each instance a row with C(data-instance) and C(data-action); each failure a row with C(data-failure);
      the picture is an C(svg) element with class C(mapping). The body carries C(data-dry-run), C(data-scopes),
      C(data-pairs) and C(data-failures), and C(data-ready=1) once the filter script ran."
  type: str
  sample: |
    ### classiclink.mirror migration report

    **us-east-1** (region us-east-1): mirrors 2 created, 0 updated, 0 unchanged, 0 deleted, 1 failed; rules +1 -0 ~0; links 3 made, ...

    | target VPC | source | mirror | state | drift |
    |---|---|---|---|---|
    | vpc-0a1b2c3d4e5f60718 | web-backend (sg-0123456789abcdef0) | sg-0fedcba9876543210 | created | no rules |
    | vpc-0a1b2c3d4e5f60718 | web-ssh (sg-0123456789abcdef1) | sg-0fedcba9876543211 | created | +1 -0 ~0 |
    | - | typo (sg-0aaaaaaaaaaaaaaaa) | - | **failed** `not_found` |  |

    **Failures (1)**
    - pair typo (sg-0aaaaaaaaaaaaaaaa): target VPC vpc-0123456789abcdef0 of security group typo (sg-0aaaaaaaaaaaaaaaa) does not exist ...

    **Skipped references (1)**
    - web-backend (sg-0123456789abcdef0) -> vpc-0a1b2c3d4e5f60718: tcp 8080 from elb-frontend (sg-0bbbbbbbbbbbbbbbb) (`unmanaged_reference`): ...

    **Instances not linked (1)**
    - i-0123456789abcdef2: its managed groups point at more than one VPC (...) and an instance can be linked to one VPC only; ... (`vpc_conflict`)
"""

import html
import json
import typing as t
from functools import cached_property

from ansible.errors import AnsibleFilterError

try:
    from ansible_collections.classiclink.mirror.plugins.module_utils.model import CODES
except ImportError:  # pragma: no cover - the page then shows the codes without their meaning
    CODES = {}

PAIR_STATES = ("created", "updated", "unchanged", "failed", "orphan")
LINK_ACTIONS = ("linked", "relinked", "unlinked", "unchanged", "skipped", "error")
DIRECTIONS = ("ingress", "egress")
CHANGE_KEYS = (("authorize", "+"), ("revoke", "-"), ("update", "~"))
NO_VPC = ""  # the section of pairs and instances without a target VPC
MARKDOWN_ALL_ROWS = 30  # above this many pairs in a scope, the Markdown table lists only the pairs that are not unchanged
ORPHAN_REASONS = {
    "source_gone": "the source group no longer exists",
    "untagged": "the source no longer carries a link tag",
    "retargeted": "the source's link tag now names another VPC",
}
STATE_COLORS = {
    "created": "#1a7f37",
    "updated": "#0969da",
    "unchanged": "#6e7781",
    "failed": "#cf222e",
    "orphan": "#bc4c00",
}


# -- the run, read from the scopes' reports -----------------------------------


def _text(value: t.Any) -> str:
    return "" if value is None else str(value)


def _rule_text(rule: t.Mapping[str, t.Any]) -> str:
    """``tcp 8080 from sg-1 "load balancer"`` (``to`` for egress)."""
    protocol = _text(rule.get("protocol") or "?")
    if protocol == "-1":
        ports = "all traffic"
    elif rule.get("from_port") is None:
        ports = "protocol %s" % protocol
    elif rule.get("from_port") == rule.get("to_port"):
        ports = "%s %s" % (protocol, rule["from_port"])
    else:
        ports = "%s %s-%s" % (protocol, rule["from_port"], rule.get("to_port"))
    target = next((rule[key] for key in ("cidr_ip", "cidr_ipv6", "prefix_list_id", "group_id") if rule.get(key)), "?")
    if rule.get("group_id") and rule.get("group_name"):
        target = "%s (%s)" % (rule["group_name"], target)
    text = "%s %s %s" % (ports, "to" if rule.get("direction") == "egress" else "from", target)
    if rule.get("description"):
        text += ' "%s"' % rule["description"]
    return text


class Pair:
    """One row of the pairs table: a pair of the mirror call, or an orphan mirror."""

    def __init__(self, scope: str, entry: t.Mapping[str, t.Any], orphan_only: bool = False) -> None:
        self.scope = scope
        self.entry = entry
        self.vpc_id = _text(entry.get("vpc_id"))
        self.error = entry.get("error")
        self.code = entry.get("code")
        if orphan_only:  # an entry of orphans[] (pruning off): kept
            self.source_id = _text(entry.get("mirrored_from"))
            self.source_name = ""
            self.mirror_id = _text(entry.get("group_id"))
            self.mirror_name = _text(entry.get("group_name"))
            self.orphan = _text(entry.get("reason"))
            self.deleted: t.List[str] = []
        else:
            self.source_id = _text(entry.get("source_group_id") or entry.get("source_ref"))
            self.source_name = _text(entry.get("source_group_name"))
            self.mirror_id = _text(entry.get("mirror_group_id"))
            self.mirror_name = ""
            self.orphan = _text(entry.get("orphan"))
            self.deleted = [_text(d) for d in entry.get("deleted") or ()]
        self.changes = {
            key: [rule for direction in DIRECTIONS for rule in (entry.get(direction) or {}).get(key) or ()]
            for key, _sign in CHANGE_KEYS
        }
        self.skipped = list(entry.get("skipped_references") or ())
        self.withheld = list(entry.get("withheld_rules") or ())
        self.warnings = [_text(w) for w in entry.get("warnings") or ()]

    @property
    def state(self) -> str:
        if self.error:
            return "failed"
        if self.orphan:
            return "orphan"
        if self.entry.get("created"):
            return "created"
        if self.entry.get("changed"):
            return "updated"
        return "unchanged"

    @property
    def source_label(self) -> str:
        if self.source_name and self.source_id and self.source_name != self.source_id:
            return "%s (%s)" % (self.source_name, self.source_id)
        return self.source_name or self.source_id or "?"

    @property
    def drift(self) -> str:
        return " ".join("%s%d" % (sign, len(self.changes[key])) for key, sign in CHANGE_KEYS)

    @property
    def drift_count(self) -> int:
        return sum(len(rules) for rules in self.changes.values())

    def orphan_text(self, check_mode: bool) -> str:
        why = ORPHAN_REASONS.get(self.orphan, self.orphan)
        if self.error:
            return "orphan (%s), not deleted" % why
        if self.deleted or self.entry.get("changed"):
            return "orphan (%s), %s" % (why, "would be deleted" if check_mode else "deleted")
        return "orphan (%s), kept: turn pruning on to delete it" % why


class Instance:
    def __init__(self, scope: str, entry: t.Mapping[str, t.Any]) -> None:
        self.scope = scope
        self.entry = entry
        self.instance_id = _text(entry.get("instance_id") or "?")
        self.vpc_id = _text(entry.get("vpc_id"))
        self.action = _text(entry.get("action") or "unchanged")
        self.groups = [_text(g) for g in entry.get("groups") or ()]
        self.reason = _text(entry.get("reason"))
        self.code = _text(entry.get("code"))
        previous = entry.get("previous") or {}
        self.previous = ""  # shown when the link changes
        if previous.get("vpc_id") and self.action not in ("unchanged", "linked"):
            self.previous = "%s with %s" % (previous["vpc_id"], ", ".join(_text(g) for g in previous.get("groups") or ()) or "no groups")

    @property
    def conflict(self) -> bool:
        return self.code == "vpc_conflict"


class Vpc:
    def __init__(self, vpc_id: str) -> None:
        self.vpc_id = vpc_id
        self.pairs: t.List[Pair] = []
        self.instances: t.List[Instance] = []

    @property
    def label(self) -> str:
        return self.vpc_id or "no target VPC"

    @property
    def heading(self) -> str:
        return "Target VPC %s" % self.vpc_id if self.vpc_id else "No target VPC (pairs and instances that could not be placed in one)"


class Scope:
    def __init__(self, report: t.Mapping[str, t.Any]) -> None:
        if not isinstance(report, dict):
            raise AnsibleFilterError("mirror_report: each scope's report must be a dict, got %s" % type(report).__name__)
        self.name = _text(report.get("scope") or "?")
        self.region = _text(report.get("region"))
        self.profile = _text(report.get("profile"))
        self.check_mode = bool(report.get("check_mode"))
        self.summary: t.Mapping[str, t.Any] = report.get("summary") or {}
        self.errors = [_text(e) for e in self.summary.get("errors") or ()]
        self.unused = list(report.get("unused_mirrors") or ())
        self.address_lists = report.get("address_lists")
        self.vpcs: t.Dict[str, Vpc] = {}
        for entry in report.get("pairs") or ():
            self._vpc(entry.get("vpc_id")).pairs.append(Pair(self.name, entry))
        for entry in report.get("orphans") or ():
            pair = Pair(self.name, entry, orphan_only="group_id" in entry and "source_ref" not in entry)
            self._vpc(pair.vpc_id).pairs.append(pair)
        for entry in report.get("instances") or ():
            self._vpc(entry.get("vpc_id")).instances.append(Instance(self.name, entry))

    def _vpc(self, vpc_id: t.Any) -> Vpc:
        key = _text(vpc_id)
        if key not in self.vpcs:
            self.vpcs[key] = Vpc(key)
        return self.vpcs[key]

    def ordered_vpcs(self) -> t.List[Vpc]:
        return sorted(self.vpcs.values(), key=lambda vpc: (vpc.vpc_id == NO_VPC, vpc.vpc_id))

    @cached_property
    def pairs(self) -> t.List[Pair]:
        return [pair for vpc in self.ordered_vpcs() for pair in vpc.pairs]

    @cached_property
    def instances(self) -> t.List[Instance]:
        return [item for vpc in self.ordered_vpcs() for item in vpc.instances]

    @cached_property
    def linked(self) -> t.Set[str]:
        """Mirrors that instances are (or in check mode would be) linked to: in use."""
        return set(g for item in self.instances if item.action in ("linked", "relinked", "unchanged") for g in item.groups)

    @property
    def where(self) -> str:
        parts = ["region %s" % (self.region or "from the environment")]
        if self.profile:
            parts.append("profile %s" % self.profile)
        return ", ".join(parts)

    def count(self, key: str) -> int:
        value = self.summary.get(key)
        return value if isinstance(value, int) else 0


class Run:
    def __init__(self, reports: t.Any, missing: t.Sequence[str]) -> None:
        if isinstance(reports, dict):
            reports = [reports]
        if not isinstance(reports, (list, tuple)):
            raise AnsibleFilterError("mirror_report: expected a list of the scopes' reports, got %s" % type(reports).__name__)
        self.scopes = [Scope(report) for report in reports]
        self.missing = [_text(name) for name in missing or ()]
        self.dry_run = any(scope.check_mode for scope in self.scopes)

    @property
    def pairs(self) -> t.List[Pair]:
        return [pair for scope in self.scopes for pair in scope.pairs]

    @property
    def failures(self) -> t.List[t.Tuple[str, str]]:
        out = [(scope.name, error) for scope in self.scopes for error in scope.errors]
        out.extend((name, "no report: the scope failed before its report was written (see the play output)") for name in self.missing)
        return out

    def codes(self) -> t.List[str]:
        found = set()
        for pair in self.pairs:
            found.update(_text(entry.get("code")) for entry in pair.skipped + pair.withheld)
            if pair.code:
                found.add(_text(pair.code))
        for scope in self.scopes:
            found.update(item.code for item in scope.instances)
        return sorted(code for code in found if code)


# -- HTML ----------------------------------------------------------------------


def _e(value: t.Any) -> str:
    return html.escape(_text(value), quote=True)


def _attrs(**attrs: t.Any) -> str:
    """`` name="value"`` pairs; ``data_x`` becomes ``data-x``; None is left out."""
    return "".join(' %s="%s"' % (key.replace("_", "-"), _e(value)) for key, value in attrs.items() if value is not None)


def _code(code: t.Any) -> str:
    if not code:
        return ""
    return '<code class="code"%s>%s</code>' % (_attrs(title=CODES.get(_text(code))), _e(code))


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, "Segoe UI", "Noto Sans", "DejaVu Sans", Helvetica, Arial, sans-serif;
  color: var(--fg); background: var(--bg); }
main { max-width: 1360px; margin: 0 auto; padding: 0 24px 48px; }
header.top { padding: 20px 0 8px; border-bottom: 1px solid var(--line); }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 32px 0 8px; }
h3 { font-size: 16px; margin: 24px 0 8px; } h4 { font-size: 14px; margin: 16px 0 6px; }
.meta { color: var(--muted); }
.banner { margin: 16px 0; padding: 12px 16px; border-radius: 6px; font-weight: 600; }
.banner.dry { background: #fff8c5; border: 1px solid #d4a72c; color: #4d2d00; }
.banner.fail { background: #ffebe9; border: 1px solid #ff8182; color: #82071e; }
.banner.ok { background: #dafbe1; border: 1px solid #4ac26b; color: #044f1e; }
nav.filters { position: sticky; top: 0; z-index: 2; background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  padding: 8px 12px; margin: 12px 0; display: flex; flex-wrap: wrap; gap: 6px 20px; align-items: center; }
nav.filters fieldset { border: 0; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: center; }
nav.filters legend { float: left; font-weight: 600; margin-right: 6px; padding: 0; }
nav.filters label { white-space: nowrap; cursor: pointer; }
#shown { margin-left: auto; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { border: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.state-failed td, tr.action-error td { background: #fff5f5; }
tr.conflict td { background: #fff8f0; }
.pill { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; font-size: 12px; font-weight: 600; }
.pill.created { background: #1a7f37; } .pill.updated { background: #0969da; } .pill.unchanged { background: #6e7781; }
.pill.failed, .pill.error { background: #cf222e; } .pill.orphan { background: #bc4c00; }
.pill.linked, .pill.relinked { background: #1a7f37; } .pill.unlinked { background: #8250df; } .pill.skipped { background: #9a6700; }
code, .id { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, monospace; font-size: 12.5px; }
code.code { background: #eff1f3; padding: 0 4px; border-radius: 4px; }
ul.rules { margin: 0; padding-left: 16px; } ul.rules li { margin: 1px 0; }
.add { color: #1a7f37; } .del { color: #cf222e; } .upd { color: #0969da; } .muted { color: var(--muted); }
.what { color: var(--muted); font-style: italic; }
.nowrap { white-space: nowrap; }
table.pairs { table-layout: fixed; }
table.pairs th:nth-child(1) { width: 90px; } table.pairs th:nth-child(2) { width: 17%; } table.pairs th:nth-child(3) { width: 15%; }
table.pairs th:nth-child(4) { width: 22%; } table.pairs th:nth-child(5) { width: 25%; }
table.pairs td { overflow-wrap: anywhere; }
table.failures td:first-child, table.overview td:first-child { white-space: nowrap; width: 1%; }
figure.map { margin: 8px 0; overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; background: #fcfcfd; }
figure.map figcaption { padding: 4px 10px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); }
svg.mapping { display: block; }
svg.mapping text { font: 12px "DejaVu Sans", Helvetica, Arial, sans-serif; fill: #1f2328; }
svg.mapping text.sub { font: 11px "DejaVu Sans Mono", monospace; fill: #59636e; }
svg.mapping text.head { font-weight: 700; fill: #59636e; }
svg.mapping text.warn { fill: #cf222e; font-size: 11px; font-weight: 700; }
.cards { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 6px 12px; min-width: 120px; }
.card b { display: block; font-size: 18px; } .card span { color: var(--muted); font-size: 12px; }
.card.bad { border-color: #ff8182; background: #fff5f5; }
section.scope { border-top: 3px solid var(--line); margin-top: 28px; }
dl.codes { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
dl.codes dt { font-family: ui-monospace, monospace; } dl.codes dd { margin: 0; color: var(--muted); }
.off { display: none !important; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
"""

# Filters: checkboxes (or the address: #scope=a,b&state=failed&action=skipped) hide rows and
# nodes whose data-scope / data-state / data-action is unchecked.  data-ready marks that it ran.
SCRIPT = """
(function () {
  "use strict";
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[data-filter]"));
  function fromHash() {
    var wanted = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var kv = part.split("=");
      if (kv.length === 2 && kv[0]) { wanted[kv[0]] = decodeURIComponent(kv[1]).split(","); }
    });
    boxes.forEach(function (box) {
      var values = wanted[box.dataset.filter];
      if (values) { box.checked = values.indexOf(box.value) >= 0; }
    });
  }
  function apply() {
    var on = { scope: {}, state: {}, action: {} };
    boxes.forEach(function (box) { on[box.dataset.filter][box.value] = box.checked; });
    document.querySelectorAll("[data-scope]").forEach(function (el) {
      var visible = on.scope[el.dataset.scope] !== false;
      if (visible && el.dataset.state) { visible = on.state[el.dataset.state] !== false; }
      if (visible && el.dataset.action) { visible = on.action[el.dataset.action] !== false; }
      el.classList.toggle("off", !visible);
    });
    var rows = document.querySelectorAll("tr[data-pair]");
    var shown = 0;
    rows.forEach(function (row) { if (!row.closest(".off")) { shown += 1; } });
    var out = document.getElementById("shown");
    if (out) { out.textContent = "showing " + shown + " of " + rows.length + " pairs"; }
    document.body.dataset.shown = String(shown);
  }
  boxes.forEach(function (box) { box.addEventListener("change", apply); });
  window.addEventListener("hashchange", function () { fromHash(); apply(); });
  fromHash();
  apply();
  document.body.dataset.ready = "1";
}());
"""

# The mapping picture.
BOX_W = 330  # a group's box
BOX_H = 36
ROW_H = 48  # one pair per row
TOP = 34  # below the column headings
LEFT_X = 16  # the sources' column
RIGHT_X = 560  # the mirrors' column
WIDTH = RIGHT_X + BOX_W + 110  # room right of the mirrors for the reference arcs


def _svg_node(x: int, y: int, title: str, sub: str, color: str, dashed: bool, attrs: str, tooltip: str, warn: str = "") -> str:
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    out = ['<g%s><title>%s</title>' % (attrs, _e(tooltip))]
    out.append('<rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="#ffffff" stroke="%s" stroke-width="1.5"%s/>' % (
        x, y, BOX_W, BOX_H, color, dash))
    out.append('<rect x="%d" y="%d" width="5" height="%d" rx="2" fill="%s"/>' % (x, y, BOX_H, color))
    out.append('<text x="%d" y="%d">%s</text>' % (x + 12, y + 15, _e(_clip(title, 44))))
    out.append('<text class="sub" x="%d" y="%d">%s</text>' % (x + 12, y + 29, _e(_clip(sub, 46))))
    if warn:
        out.append('<text class="warn" x="%d" y="%d" text-anchor="end">%s</text>' % (x + BOX_W - 8, y + 15, _e(warn)))
    out.append("</g>")
    return "".join(out)


def _svg(scope: Scope, vpc: Vpc, check_mode: bool) -> str:
    pairs = vpc.pairs
    height = TOP + max(len(pairs), 1) * ROW_H + 8
    out = ['<svg class="mapping" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img"%s>' % (
        WIDTH, height, WIDTH, height, _attrs(aria_label="mapping of the sources to their mirrors in %s" % vpc.label, data_vpc=vpc.vpc_id))]
    out.append('<defs><marker id="arrow-%s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
               '<path d="M0,0 L10,5 L0,10 z" fill="#8250df"/></marker></defs>' % _e(_svg_id(scope.name, vpc.vpc_id)))
    out.append('<text class="head" x="%d" y="20">sources (EC2-Classic)</text>' % LEFT_X)
    out.append('<text class="head" x="%d" y="20">mirrors in %s</text>' % (RIGHT_X, _e(vpc.label)))
    if not pairs:
        out.append('<text class="sub" x="%d" y="%d">no pairs</text>' % (LEFT_X, TOP + 20))
    rows: t.Dict[str, int] = {}  # mirror id -> row
    for row, pair in enumerate(pairs):
        y = TOP + row * ROW_H
        state, color = pair.state, STATE_COLORS[pair.state]
        attrs = _attrs(data_scope=scope.name, data_state=state, data_node="pair")
        if pair.mirror_id:
            rows.setdefault(pair.mirror_id, row)
        if pair.orphan and not pair.source_name:
            source_title, source_sub = "(%s)" % pair.orphan.replace("_", " "), pair.source_id or ""
        else:
            source_title, source_sub = pair.source_name or pair.source_id or "?", pair.source_id if pair.source_name else ""
        warn = "\u26a0 %d not mirrored" % len(pair.skipped) if pair.skipped else ""
        out.append('<g%s>' % attrs)
        out.append(_svg_node(LEFT_X, y, source_title, source_sub, color, bool(pair.orphan), "", pair.source_label, warn))
        if pair.mirror_id:
            new = pair.mirror_id.startswith("new-mirror-of-")
            mirror_title = pair.mirror_name or pair.source_name or pair.mirror_id  # a mirror takes its source's name
            mirror_sub = "new mirror, to be created" if new else pair.mirror_id
        else:
            mirror_title, mirror_sub = "no mirror", "%s%s" % (state, " (%s)" % pair.code if pair.code else "")
        tooltip = "%s -> %s: %s" % (pair.source_label, pair.mirror_id or "no mirror", state)
        out.append(_svg_node(RIGHT_X, y, mirror_title, mirror_sub, color, state in ("failed", "orphan"), "", tooltip))
        if not pair.orphan or pair.source_name:
            dash = ' stroke-dasharray="6 4"' if state in ("failed", "orphan") else ""
            out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>' % (
                LEFT_X + BOX_W, y + BOX_H // 2, RIGHT_X, y + BOX_H // 2, color, dash))
            out.append('<text class="sub" x="%d" y="%d" text-anchor="middle">%s</text>' % (
                (LEFT_X + BOX_W + RIGHT_X) // 2, y + BOX_H // 2 - 5, _e(pair.drift if pair.drift_count else state)))
        out.append("</g>")
    # A reference between managed groups: a rule of one mirror naming another mirror of the VPC.
    marker = "url(#arrow-%s)" % _e(_svg_id(scope.name, vpc.vpc_id))
    for row, pair in enumerate(pairs):
        for rule in pair.changes["authorize"]:
            other = rows.get(_text(rule.get("group_id")))
            if other is None or other == row:
                continue
            # traffic: from the referenced mirror into this one (ingress), or out of this one to it (egress)
            start, end = (row, other) if rule.get("direction") == "egress" else (other, row)
            y1, y2 = TOP + start * ROW_H + BOX_H // 2, TOP + end * ROW_H + BOX_H // 2
            x = RIGHT_X + BOX_W
            bulge = x + 24 + min(abs(y2 - y1) // 3, 70)
            out.append('<g%s><title>%s</title><path d="M%d,%d C%d,%d %d,%d %d,%d" fill="none" stroke="#8250df" stroke-width="1.5" '
                       'marker-end="%s"/></g>' % (_attrs(data_scope=scope.name, data_state=pair.state, data_edge="reference"),
                                                  _e("%s: %s" % (pair.source_label, _rule_text(rule))), x, y1, bulge, y1, bulge, y2, x + 2, y2, marker))
    out.append("</svg>")
    return "".join(out)


def _svg_id(*parts: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else "_" for ch in part) for part in parts)


def _rules_cell(pair: Pair) -> str:
    if not pair.drift_count:
        return '<span class="muted">%s</span>' % ("no change" if pair.state != "failed" else "")
    items = []
    for key, cls, sign in (("authorize", "add", "+"), ("revoke", "del", "\u2212"), ("update", "upd", "~")):
        for rule in pair.changes[key]:
            why = ' %s<br><span class="what">%s</span>' % (_code(rule.get("code")), _e(rule["reason"])) if rule.get("reason") else ""
            items.append('<li class="%s">%s %s%s</li>' % (cls, sign, _e(_rule_text(rule)), why))
    head = "%d added, %d revoked, %d updated" % tuple(len(pair.changes[key]) for key, _sign in CHANGE_KEYS)
    return '<details%s><summary>%s</summary><ul class="rules">%s</ul></details>' % (
        " open" if pair.drift_count <= 6 else "", _e(head), "".join(items))


def _left_behind_cell(pair: Pair) -> str:
    items = []
    for entry in pair.skipped:
        items.append('<li><span class="del">skipped</span> %s %s<br><span class="what">%s</span></li>' % (
            _e(_rule_text(entry)), _code(entry.get("code")), _e(entry.get("reason") or "cannot be translated")))
    for entry in pair.withheld:
        items.append('<li><span class="upd">withheld</span> %s %s<br><span class="what">%s</span></li>' % (
            _e(_rule_text(entry)), _code(entry.get("code")), _e(entry.get("reason") or "matches a guardrail")))
    return '<ul class="rules">%s</ul>' % "".join(items) if items else ""


def _notes_cell(pair: Pair, check_mode: bool, linked: t.AbstractSet[str]) -> str:
    notes = []
    if pair.error:
        notes.append('<span class="del">%s</span> %s' % (_e(pair.error), _code(pair.code)))
        if pair.entry.get("aws_code"):
            notes.append("EC2 error %s" % _e(pair.entry["aws_code"]))
    if pair.orphan:
        notes.append(_e(pair.orphan_text(check_mode)))
    if pair.entry.get("referenced_only"):
        notes.append("created empty because another mirror refers to it")
    if pair.entry.get("adopted"):
        notes.append("an existing group was adopted as the mirror")
    if pair.entry.get("mirror_in_use") is False and pair.state != "failed" and pair.mirror_id not in linked:
        notes.append("mirror not in use yet")
    if pair.deleted and not pair.orphan:
        notes.append("deleted: %s" % _e(", ".join(pair.deleted)))
    notes.extend('<span class="muted">warning: %s</span>' % _e(w) for w in pair.warnings if not any(
        _text(s.get("reason")) and _text(s.get("reason")) in w for s in pair.skipped))
    return "<br>".join(notes)


def _pairs_table(scope: Scope, vpc: Vpc, check_mode: bool) -> str:
    out = ['<table class="pairs"%s><thead><tr><th>state</th><th>source</th><th>mirror</th><th>rule changes (drift)</th>'
           '<th>not mirrored (skipped references, withheld rules) and what to do</th><th>notes</th></tr></thead><tbody>' % _attrs(
               data_table="pairs", data_vpc=vpc.vpc_id)]
    for pair in vpc.pairs:
        state = pair.state
        mirror = pair.mirror_id or "\u2014"
        if pair.mirror_name:
            mirror = "%s (%s)" % (pair.mirror_name, pair.mirror_id)
        out.append('<tr class="state-%s"%s><td><span class="pill %s">%s</span></td><td>%s<br><span class="id nowrap">%s</span></td>'
                   '<td><span class="id">%s</span></td><td>%s</td><td>%s</td><td>%s</td></tr>' % (
                       state, _attrs(data_pair=pair.source_id or pair.mirror_id, data_scope=scope.name, data_vpc=vpc.vpc_id, data_state=state),
                       state, state, _e(pair.source_name or ("source " + pair.orphan.replace("_", " ") if pair.orphan else "")),
                       _e(pair.source_id), _e(mirror), _rules_cell(pair), _left_behind_cell(pair), _notes_cell(pair, check_mode, scope.linked)))
    out.append("</tbody></table>")
    return "".join(out)


def _instances_table(scope: Scope, vpc: Vpc) -> str:
    names = {pair.mirror_id: "%s (%s)" % (pair.source_name, pair.mirror_id) for pair in scope.pairs if pair.mirror_id and pair.source_name}
    out = ['<table class="instances"%s><thead><tr><th>instance</th><th>link</th><th>groups</th><th>reason</th><th>before</th></tr></thead><tbody>' % _attrs(
        data_table="instances", data_vpc=vpc.vpc_id)]
    for item in vpc.instances:
        classes = "action-%s%s" % (item.action, " conflict" if item.conflict else "")
        out.append('<tr class="%s"%s><td class="id nowrap">%s</td><td><span class="pill %s">%s</span>%s</td><td class="id">%s</td><td>%s %s</td>'
                   '<td class="id">%s</td></tr>' % (
                       classes, _attrs(data_instance=item.instance_id, data_scope=scope.name, data_vpc=vpc.vpc_id, data_action=item.action,
                                       data_conflict="1" if item.conflict else None),
                       _e(item.instance_id), _e(item.action), _e(item.action), " <b>conflict</b>" if item.conflict else "",
                       "<br>".join(_e(names.get(g, g)) for g in item.groups), _e(item.reason), _code(item.code), _e(item.previous)))
    out.append("</tbody></table>")
    return "".join(out)


def _address_lists(scope: Scope) -> str:
    lists = scope.address_lists
    if isinstance(lists, dict):
        lists = [dict(value, name=key) if isinstance(value, dict) else {"name": key, "members": value} for key, value in lists.items()]
    if not isinstance(lists, list) or not lists:
        return ""
    out = ['<h3>Address lists</h3><table class="address-lists" data-table="address-lists"><thead><tr><th>list</th><th>id</th>'
           '<th>state</th><th>members</th></tr></thead><tbody>']
    for entry in lists:
        if not isinstance(entry, dict):
            entry = {"name": entry}
        members = entry.get("members") or entry.get("entries") or entry.get("cidrs") or ()
        texts = []
        for member in members:
            if isinstance(member, dict):
                cidr = member.get("cidr") or member.get("cidr_ip") or member.get("cidr_ipv6") or member.get("id") or "?"
                texts.append("%s%s" % (cidr, " (%s)" % member["description"] if member.get("description") else ""))
            else:
                texts.append(_text(member))
        ident = entry.get("prefix_list_id") or entry.get("id") or ""
        state = entry.get("state") or entry.get("action") or ("changed" if entry.get("changed") else "")
        if entry.get("error"):
            state = "%s: %s" % (state or "failed", entry["error"])
        if entry.get("region") and entry.get("group_arn"):
            state = "%s (%s of %s, in %s %s)" % (state, entry.get("family") or "", entry["group_arn"], entry.get("account") or "", entry["region"])
        out.append('<tr%s><td>%s</td><td class="id">%s</td><td>%s</td><td class="id">%s</td></tr>' % (
            _attrs(data_address_list=entry.get("name") or ident, data_scope=scope.name), _e(entry.get("name") or ident), _e(ident), _e(state),
            "<br>".join(_e(text) for text in texts) or '<span class="muted">no members</span>'))
    out.append("</tbody></table>")
    return "".join(out)


def _cards(scope: Scope) -> str:
    c = scope.count
    cards = [
        ("pairs", len([p for p in scope.pairs if not p.orphan]), False),
        ("created", c("groups_created"), False),
        ("updated", c("groups_updated"), False),
        ("unchanged", c("groups_unchanged"), False),
        ("failed", c("groups_failed"), c("groups_failed") > 0),
        ("deleted", c("groups_deleted"), False),
        ("orphans kept", c("orphans_kept"), False),
        ("rules +/\u2212/~", "%d / %d / %d" % (c("rules_added"), c("rules_revoked"), c("rules_updated")), False),
        ("skipped refs", c("skipped_references"), False),
        ("withheld", c("rules_withheld"), False),
        ("links made / changed", "%d / %d" % (c("links_made"), c("links_changed")), False),
        ("instances skipped", c("instances_skipped"), False),
        ("VPC conflicts", c("conflicts"), c("conflicts") > 0),
    ]
    if c("mirrors_total"):
        cards.append(("mirrors in use", "%d of %d" % (c("mirrors_in_use"), c("mirrors_total")), False))
    return '<div class="cards">%s</div>' % "".join(
        '<div class="card%s"><b>%s</b><span>%s</span></div>' % (" bad" if bad else "", _e(value), _e(label)) for label, value, bad in cards)


def _overview(run: Run) -> str:
    out = ['<table class="overview" data-table="overview"><thead><tr><th>scope</th><th>where</th><th class="num">pairs</th>'
           '<th class="num">created</th><th class="num">updated</th><th class="num">unchanged</th><th class="num">failed</th>'
           '<th class="num">orphans</th><th class="num">skipped refs</th><th class="num">instances linked / skipped</th></tr></thead><tbody>']
    for scope in run.scopes:
        c = scope.count
        out.append('<tr%s><td><a href="#%s">%s</a>%s</td><td>%s</td>%s</tr>' % (
            _attrs(data_scope=scope.name, data_overview=scope.name), _e(_svg_id("scope", scope.name)), _e(scope.name),
            " (dry run)" if scope.check_mode else "", _e(scope.where),
            "".join('<td class="num">%s</td>' % _e(v) for v in (
                len([p for p in scope.pairs if not p.orphan]), c("groups_created"), c("groups_updated"), c("groups_unchanged"), c("groups_failed"),
                len([p for p in scope.pairs if p.orphan]), c("skipped_references"),
                "%d / %d" % (c("links_made") + c("links_changed") + c("links_unchanged"), c("instances_skipped"))))))
    for name in run.missing:
        out.append('<tr%s><td>%s</td><td colspan="9" class="del">no report: the scope failed before its report was written</td></tr>' % (
            _attrs(data_scope=name, data_overview=name, data_missing="1"), _e(name)))
    out.append("</tbody></table>")
    return "".join(out)


def _failures(run: Run) -> str:
    failures = run.failures
    if not failures:
        return '<div class="banner ok" data-failures="0">No failures.</div>'
    out = ['<div class="banner fail">%d failure%s</div><table class="failures" data-table="failures"><thead><tr><th>scope</th>'
           '<th>what failed</th></tr></thead><tbody>' % (len(failures), "" if len(failures) == 1 else "s")]
    out.extend('<tr%s><td>%s</td><td>%s</td></tr>' % (_attrs(data_failure="1", data_scope=name), _e(name), _e(text)) for name, text in failures)
    out.append("</tbody></table>")
    return "".join(out)


def _filters(run: Run) -> str:
    def boxes(kind: str, values: t.Iterable[str]) -> str:
        return "".join('<label><input type="checkbox" checked%s> %s</label>' % (_attrs(data_filter=kind, value=v), _e(v)) for v in values)

    scopes = [scope.name for scope in run.scopes] + run.missing
    return ('<nav class="filters" aria-label="filters"><fieldset><legend>scope</legend>%s</fieldset><fieldset><legend>pairs</legend>%s'
            '</fieldset><fieldset><legend>instances</legend>%s</fieldset><span id="shown"></span></nav>' % (
                boxes("scope", scopes), boxes("state", PAIR_STATES), boxes("action", LINK_ACTIONS)))


def _scope_section(scope: Scope) -> str:
    out = ['<section class="scope"%s><h2>Scope %s%s</h2><p class="meta">%s</p>' % (
        _attrs(id=_svg_id("scope", scope.name), data_scope=scope.name), _e(scope.name), " \u2014 dry run" if scope.check_mode else "", _e(scope.where))]
    out.append(_cards(scope))
    if not scope.vpcs:
        out.append('<p class="muted">No pairs and no instances in this scope.</p>')
    for vpc in scope.ordered_vpcs():
        out.append('<section class="vpc"%s><h3>%s</h3>' % (_attrs(data_vpc_section=vpc.vpc_id), _e(vpc.heading)))
        if vpc.pairs:
            edges = sum(1 for pair in vpc.pairs for rule in pair.changes["authorize"] if rule.get("group_id"))
            out.append('<figure class="map">%s<figcaption>Sources left, mirrors right; an edge per pair (colour: state; label: rules '
                       '+added \u2212revoked ~updated), purple arrows: references between mirrors authorized by this run%s.</figcaption></figure>' % (
                           _svg(scope, vpc, scope.check_mode), "" if edges else " (none)"))
            out.append("<h4>Pairs</h4>" + _pairs_table(scope, vpc, scope.check_mode))
        if vpc.instances:
            conflicts = len([i for i in vpc.instances if i.conflict])
            out.append("<h4>Instances%s</h4>" % (" (%d VPC conflict%s)" % (conflicts, "" if conflicts == 1 else "s") if conflicts else ""))
            out.append(_instances_table(scope, vpc))
        out.append("</section>")
    linked = scope.linked
    unused = [u if isinstance(u, dict) else {"group_id": u} for u in scope.unused]
    unused = [u for u in unused if _text(u.get("group_id")) not in linked]
    if unused:
        out.append('<h3>Mirrors not in use yet</h3><p class="meta">No network interface carries them, no other group refers to them, and '
                   'no instance is linked to them: the migration has not reached them.</p><p>%s</p>' % _e(", ".join(
                       "%s (%s)" % (u.get("group_name") or "?", u.get("group_id") or "?") for u in unused)))
    out.append(_address_lists(scope))
    out.append("</section>")
    return "".join(out)


def render_html(run: Run, generated: str = "", title: str = "classiclink.mirror migration report") -> str:
    full_title = title + (" \u2014 DRY RUN" if run.dry_run else "")
    failures = len(run.failures)
    body_attrs = _attrs(data_dry_run="true" if run.dry_run else "false", data_scopes=len(run.scopes), data_pairs=len(run.pairs), data_failures=failures)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>%s</title><style>%s</style></head>" % (_e(full_title), CSS),
        "<body%s><main>" % body_attrs,
        '<header class="top"><h1>%s</h1><p class="meta">%s scope%s%s%s</p></header>' % (
            _e(full_title), len(run.scopes) + len(run.missing), "" if len(run.scopes) + len(run.missing) == 1 else "s",
            ": " + _e(", ".join([s.name for s in run.scopes] + run.missing)) if run.scopes or run.missing else "",
            " \u00b7 generated " + _e(generated) if generated else ""),
    ]
    if run.dry_run:
        parts.append('<div class="banner dry" data-banner="dry-run">DRY RUN (check mode): nothing was changed. This page shows what a real run '
                     'would do; mirrors to be created are named new-mirror-of-&lt;source id&gt;.</div>')
    parts.append(_filters(run))
    parts.append("<h2>Overview</h2>" + _overview(run))
    parts.append(_failures(run))
    parts.extend(_scope_section(scope) for scope in run.scopes)
    codes = run.codes()
    if codes:
        parts.append('<h2>Reason codes on this page</h2><dl class="codes">%s</dl>' % "".join(
            "<dt>%s</dt><dd>%s</dd>" % (_e(code), _e(CODES.get(code, ""))) for code in codes))
    parts.append('<footer>classiclink.mirror \u00b7 mirror_report filter \u00b7 self-contained page (no network access)</footer></main>')
    parts.append("<script>%s</script></body></html>" % SCRIPT)
    return "\n".join(parts) + "\n"


# -- Markdown --------------------------------------------------------------------


def _md(value: t.Any) -> str:
    """A table cell: no pipes, no newlines, no HTML."""
    text = _text(value).replace("<", "&lt;").replace("|", "\\|").replace("\n", " ")
    return text.replace("`", "'")


def render_markdown(run: Run, generated: str = "", title: str = "classiclink.mirror migration report") -> str:
    out = ["### %s%s" % (_md(title), " \u2014 DRY RUN (check mode: nothing was changed)" if run.dry_run else ""), ""]
    if generated:
        out += ["_generated %s_" % _md(generated), ""]
    for scope in run.scopes:
        c = scope.count
        out.append("**%s** (%s%s): mirrors %d created, %d updated, %d unchanged, %d deleted, %d failed; rules +%d -%d ~%d; "
                   "links %d made, %d changed, %d unchanged, %d skipped (%d VPC conflicts)%s" % (
                       _md(scope.name), _md(scope.where), ", dry run" if scope.check_mode else "", c("groups_created"), c("groups_updated"),
                       c("groups_unchanged"), c("groups_deleted"), c("groups_failed"), c("rules_added"), c("rules_revoked"), c("rules_updated"),
                       c("links_made"), c("links_changed"), c("links_unchanged"), c("instances_skipped"), c("conflicts"),
                       "; mirrors in use %d of %d" % (c("mirrors_in_use"), c("mirrors_total")) if c("mirrors_total") else ""))
        out.append("")
        pairs = scope.pairs
        listed = pairs if len(pairs) <= MARKDOWN_ALL_ROWS else [p for p in pairs if p.state != "unchanged"]
        if listed:
            out += ["| target VPC | source | mirror | state | drift |", "|---|---|---|---|---|"]
            for pair in listed:
                state = "**failed** `%s`" % _md(pair.code) if pair.state == "failed" and pair.code else pair.state
                if pair.orphan:
                    state += " (%s)" % _md(pair.orphan)
                if pair.state == "failed":
                    drift = ""
                elif pair.drift_count:
                    drift = _md(pair.drift)
                else:
                    drift = "no rules" if pair.state == "created" else "in sync"
                out.append("| %s | %s | %s | %s | %s |" % (_md(pair.vpc_id or "-"), _md(pair.source_label), _md(pair.mirror_id or "-"), state, drift))
        if len(listed) < len(pairs):
            out.append("")
            out.append("_%d unchanged pairs not listed_" % (len(pairs) - len(listed)))
        if not pairs:
            out.append("_no pairs_")
        out.append("")
    failures = run.failures
    if failures:
        out.append("**Failures (%d)**" % len(failures))
        out.extend("- %s%s" % ("%s: " % _md(name) if len(run.scopes) + len(run.missing) > 1 else "", _md(text)) for name, text in failures)
        out.append("")
    skipped = [(scope, pair, entry) for scope in run.scopes for pair in scope.pairs for entry in pair.skipped]
    if skipped:
        out.append("**Skipped references (%d)**" % len(skipped))
        for scope, pair, entry in skipped:
            out.append("- %s%s -> %s: %s (`%s`): %s" % (
                "%s: " % _md(scope.name) if len(run.scopes) > 1 else "", _md(pair.source_label), _md(pair.vpc_id or "?"),
                _md(_rule_text(entry)), _md(entry.get("code") or "?"), _md(entry.get("reason") or "cannot be translated")))
        out.append("")
    withheld = [(scope, pair, entry) for scope in run.scopes for pair in scope.pairs for entry in pair.withheld]
    if withheld:
        out.append("**Withheld by guardrails (%d)**" % len(withheld))
        out.extend("- %s -> %s: %s" % (_md(pair.source_label), _md(pair.vpc_id or "?"), _md(_rule_text(entry))) for _s, pair, entry in withheld)
        out.append("")
    odd = [(scope, item) for scope in run.scopes for item in scope.instances if item.action in ("skipped", "error")]
    if odd:
        out.append("**Instances not linked (%d)**" % len(odd))
        out.extend("- %s%s: %s (`%s`)" % ("%s: " % _md(scope.name) if len(run.scopes) > 1 else "", _md(item.instance_id), _md(item.reason or item.action),
                                          _md(item.code or item.action)) for scope, item in odd)
        out.append("")
    if not failures:
        out.append("No failures.")
    return "\n".join(out).rstrip("\n") + "\n"


def mirror_report(reports: t.Any, format: str = "html", missing: t.Optional[t.Sequence[str]] = None,  # pylint: disable=redefined-builtin
                  generated: str = "", title: str = "classiclink.mirror migration report") -> str:
    """The run's report page (``html``) or comment (``markdown``)."""
    run = Run(reports, missing or [])
    if format == "html":
        return render_html(run, _text(generated), _text(title))
    if format == "markdown":
        return render_markdown(run, _text(generated), _text(title))
    raise AnsibleFilterError("mirror_report: format must be html or markdown, got %s" % json.dumps(format))


class FilterModule:
    """classiclink.mirror filters."""

    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"mirror_report": mirror_report}
