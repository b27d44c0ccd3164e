"""The mirror_report filter in-process: what the page and the comment say, escaping, and the optional sections.

The browser tests (test_report_browser.py) render real runs; these feed the
filter scope reports in the role's shape, built by hand, for the cases a small
world does not produce (orphans, address lists, hostile names, many pairs).
"""

from __future__ import annotations

import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.classiclink.mirror.plugins.filter import mirror_report as plugin
from ansible_collections.classiclink.mirror.plugins.filter.mirror_report import FilterModule, mirror_report
from tests.report.browser import Dom

VPC = "vpc-0a1b2c3d4e5f60718"
HOSTILE = '<img src=x onerror="alert(1)">|`x`'


def rule(port, direction="ingress", **target):
    return {"direction": direction, "protocol": "tcp", "from_port": port, "to_port": port, **target}


def pair(name, source_id, *, created=False, changed=False, added=(), revoked=(), skipped=(), withheld=(), error=None, code=None,
         mirror=None, vpc=VPC, orphan=None, deleted=()):
    return {
        "source_ref": source_id, "source_group_id": source_id, "source_group_name": name, "vpc_id": vpc,
        "mirror_group_id": mirror if mirror is not None else "sg-m" + source_id[3:],
        "created": created, "changed": changed or created or bool(deleted), "deleted": list(deleted), "orphan": orphan,
        "referenced_only": False, "adopted": False,
        "ingress": {"authorize": list(added), "revoke": list(revoked), "update": [], "revoke_first": False},
        "egress": {"authorize": [], "revoke": [], "update": [], "revoke_first": False},
        "skipped_references": list(skipped), "withheld_rules": list(withheld), "warnings": [],
        "error": error, "code": code, "aws_code": None,
    }


def summary(**counts):
    base = {key: 0 for key in ("groups_created", "groups_updated", "groups_unchanged", "groups_deleted", "groups_failed", "rules_added",
                               "rules_revoked", "rules_updated", "skipped_references", "links_made", "links_changed", "links_removed",
                               "links_unchanged", "instances_skipped", "conflicts", "orphans_kept", "rules_withheld", "mirrors_in_use",
                               "mirrors_total")}
    base.update(counts)
    base.setdefault("errors", [])
    return base


def scope_report(name="us-east-1", pairs=(), orphans=(), instances=(), check_mode=False, **extra):
    errors = ["pair %s: %s" % (p["source_group_name"], p["error"]) for p in pairs if p["error"]]
    report = {"scope": name, "region": name, "profile": "", "check_mode": check_mode, "pairs": list(pairs), "orphans": list(orphans),
              "instances": list(instances), "unused_mirrors": [], "summary": summary(errors=errors, groups_failed=len(errors))}
    report.update(extra)
    return report


def pair_rows(page: str):
    return Dom(page).find("tr", data_pair=None)


def test_states_rule_changes_and_reference_edges():
    web = pair("web", "sg-01", created=True, added=[rule(443, cidr_ip="10.0.0.0/8"), rule(5432, group_id="sg-m02", group_name="db")])
    db = pair("db", "sg-02", changed=True, revoked=[rule(80, cidr_ip="0.0.0.0/0")])
    same = pair("cache", "sg-03")
    bad = pair("typo", "sg-04", error="target VPC vpc-0123 does not exist", code="not_found", mirror="", vpc=None)
    page = mirror_report([scope_report(pairs=[web, db, same, bad])])
    rows = pair_rows(page)
    assert [r.attrs["data-state"] for r in rows] == ["created", "updated", "unchanged", "failed"]
    assert "+ tcp 5432 from db (sg-m02)" in page and "\u2212 tcp 80 from 0.0.0.0/0" in page
    # web's new rule names db's mirror: one reference edge, db -> web (ingress into web)
    (edge,) = Dom(page).find("g", data_edge="reference")
    assert edge.all_text() == "web (sg-01): tcp 5432 from db (sg-m02)"
    assert "No target VPC" in page and 'title="a group, VPC or instance does not exist' in page


def test_everything_from_the_data_is_escaped():
    evil = pair(HOSTILE, "sg-01", created=True, added=[rule(22, cidr_ip="10.0.0.0/8", description="</script><script>alert(2)</script>")],
                skipped=[dict(rule(80, group_id="sg-99"), reason=HOSTILE, code="unmanaged_reference")])
    report = scope_report(name="<b>scope</b>", pairs=[evil])
    page = mirror_report([report])
    assert "<img" not in page and "<b>scope" not in page and "alert(2)</script>" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert page.count("<script>") == 1  # the page's own script only
    text = mirror_report([report], format="markdown")
    assert "<img" not in text and "&lt;img" in text and "\\|" in text


def test_orphans_kept_deleted_would_be_deleted_and_failed():
    kept = {"group_id": "sg-o1", "group_name": "old-web", "vpc_id": VPC, "mirrored_from": "sg-01", "reason": "source_gone"}
    pruned = pair(None, "sg-02", orphan="untagged", deleted=["sg-o2"], mirror="sg-o2")
    pruned["source_group_name"] = "app"
    failed = pair("db", "sg-03", orphan="retargeted", error="mirror sg-o3 is still in use", code="in_use", mirror="sg-o3")
    page = mirror_report([scope_report(orphans=[kept, pruned, failed])])
    rows = {r.attrs["data-pair"]: r for r in pair_rows(page)}
    assert rows["sg-01"].attrs["data-state"] == "orphan" and "kept: turn pruning on to delete it" in rows["sg-01"].all_text()
    assert rows["sg-02"].attrs["data-state"] == "orphan" and "the source no longer carries a link tag), deleted" in rows["sg-02"].all_text()
    assert rows["sg-03"].attrs["data-state"] == "failed" and "not deleted" in rows["sg-03"].all_text()
    dry = mirror_report([scope_report(orphans=[pruned], check_mode=True)])
    assert "would be deleted" in dry


def test_address_lists_only_when_the_reports_have_them():
    assert "address-lists" not in mirror_report([scope_report(pairs=[pair("web", "sg-01")])])
    lists = [{"name": "office", "prefix_list_id": "pl-0123", "members": [{"cidr": "192.0.2.0/24", "description": "HQ"}, "198.51.100.7/32"]}]
    page = mirror_report([scope_report(pairs=[pair("web", "sg-01")], address_lists=lists)])
    (row,) = Dom(page).find("tr", data_address_list="office")
    assert "192.0.2.0/24 (HQ)" in row.all_text() and "198.51.100.7/32" in row.all_text() and "pl-0123" in row.all_text()


def test_scopes_without_a_report_are_failures():
    page = mirror_report([scope_report()], missing=["eu-west-1"])
    dom = Dom(page)
    assert dom.body.attrs["data-failures"] == "1"
    (failure,) = dom.find("tr", data_failure=None)
    assert failure.attrs["data-scope"] == "eu-west-1" and "no report" in failure.all_text()
    assert dom.find("tr", data_overview="eu-west-1", data_missing="1")
    assert "eu-west-1: no report" in mirror_report([scope_report()], missing=["eu-west-1"], format="markdown")


def test_dry_run_is_marked_in_the_title_banner_and_comment():
    page = mirror_report([scope_report(pairs=[pair("web", "sg-01", created=True, mirror="new-mirror-of-sg-01")], check_mode=True)])
    dom = Dom(page)
    assert "DRY RUN" in dom.title and dom.find("div", data_banner="dry-run") and dom.body.attrs["data-dry-run"] == "true"
    assert "new mirror, to be created" in page
    assert "DRY RUN" in mirror_report([scope_report(check_mode=True)], format="markdown")
    assert "DRY RUN" not in mirror_report([scope_report()]) and "DRY RUN" not in mirror_report([scope_report()], format="markdown")


def test_the_page_fetches_nothing():
    page = mirror_report([scope_report(pairs=[pair("web", "sg-01", created=True)])])
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page and "fetch(" not in page


def test_markdown_lists_unchanged_pairs_only_when_few():
    many = [pair("g%03d" % i, "sg-%03d" % i) for i in range(40)] + [pair("new", "sg-999", created=True, added=[rule(22, cidr_ip="10.0.0.0/8")])]
    text = mirror_report([scope_report(pairs=many)], format="markdown")
    assert "| %s | new (sg-999) | sg-m999 | created | +1 -0 ~0 |" % VPC in text
    assert "_40 unchanged pairs not listed_" in text and "g001" not in text
    few = mirror_report([scope_report(pairs=many[:3])], format="markdown")
    assert few.count("| in sync |") == 3


def test_a_large_run_renders():
    pairs = [pair("g%04d" % i, "sg-%04d" % i, changed=i % 3 == 0, added=[rule(i % 1000 + 1, cidr_ip="10.0.0.0/8")] if i % 3 == 0 else [])
             for i in range(1500)]
    instances = [{"instance_id": "i-%05d" % i, "vpc_id": VPC, "groups": ["sg-m%04d" % (i % 1500)], "action": "unchanged"} for i in range(4000)]
    page = mirror_report([scope_report(pairs=pairs, instances=instances)])
    assert page.count("<tr data-pair") + page.count(' data-pair="') >= 1500


def test_bad_input_and_single_dict():
    with pytest.raises(AnsibleFilterError, match="format must be html or markdown"):
        mirror_report([scope_report()], format="pdf")
    with pytest.raises(AnsibleFilterError, match="list of the scopes' reports"):
        mirror_report("nope")
    with pytest.raises(AnsibleFilterError, match="must be a dict"):
        mirror_report(["nope"])
    assert "us-east-1" in mirror_report(scope_report())
    assert FilterModule().filters() == {"mirror_report": mirror_report}


def test_documentation_parses_and_lists_the_formats():
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == "mirror_report" and doc["options"]["format"]["choices"] == ["html", "markdown"]
    yaml.safe_load(plugin.EXAMPLES)
    assert yaml.safe_load(plugin.RETURN)["_value"]["type"] == "str"
