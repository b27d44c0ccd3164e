# -*- coding: utf-8 -*-
"""The mirror_summary filter: counts and text from the registered results of one role run."""

from __future__ import annotations

import inspect

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.classiclink.mirror.plugins.filter import mirror_summary as plugin
from ansible_collections.classiclink.mirror.plugins.filter.mirror_summary import FilterModule, mirror_summary

VPC = "vpc-0a1b2c3d4e5f60718"
CONFLICT = "its managed groups point at more than one VPC (sg-1 -> vpc-a; sg-2 -> vpc-b) and an instance can be linked to one VPC only"


def rule(port, **target):
    return {"direction": "ingress", "protocol": "tcp", "from_port": port, "to_port": port, "description": None, **target}


def pair(name, source_id, *, created=False, changed=False, added=(), revoked=(), updated=(), egress_added=(),
         skipped=(), error=None, deleted=(), orphan=None):
    return {
        "source_ref": source_id,
        "source_group_id": source_id,
        "source_group_name": name,
        "vpc_id": VPC,
        "mirror_group_id": "sg-m" + source_id[3:],
        "created": created,
        "changed": changed or created or bool(deleted),
        "deleted": list(deleted),
        "orphan": orphan,
        "ingress": {"authorize": list(added), "revoke": list(revoked), "update": list(updated), "revoke_first": False},
        "egress": {"authorize": list(egress_added), "revoke": [], "update": [], "revoke_first": False},
        "skipped_references": list(skipped),
        "warnings": [],
        "error": error,
    }


def instance(instance_id, action, reason=None, code=None):
    return {"instance_id": instance_id, "vpc_id": VPC, "groups": ["sg-m1"], "action": action, "reason": reason, "code": code}


MIRRORED = {
    "changed": True,
    "failed": False,
    "groups": [
        pair("web", "sg-0001", created=True, added=[rule(443, cidr_ip="0.0.0.0/0")]),
        pair("app", "sg-0002", changed=True, added=[rule(8443, cidr_ip="198.51.100.0/24")], revoked=[rule(22, cidr_ip="10.0.0.0/8")],
             updated=[rule(80, cidr_ip="192.0.2.0/24")], egress_added=[rule(53, cidr_ip="10.0.0.2/32")]),
        pair("backend", "sg-0003", skipped=[dict(rule(8080, group_id="sg-0elb", user_id="123456789012"), reason="not managed")]),
        pair("typo", "sg-0004", error="target VPC vpc-0123456789abcdef0 does not exist"),
    ],
}
LINKED = {
    "changed": True,
    "enabled_classiclink": [],
    "instances": [
        instance("i-1", "linked"),
        instance("i-2", "relinked", "link was to vpc-old with sg-x"),
        instance("i-3", "unlinked", "stale link"),
        instance("i-4", "unchanged"),
        instance("i-5", "skipped", CONFLICT, "vpc_conflict"),
        instance("i-6", "skipped", "instance is stopped; only running instances can be linked", "not_running"),
        instance("i-7", "error", "ClassicLink is not enabled on VPC vpc-x"),
    ],
}
PRUNED = {
    "changed": True,
    "groups": [
        pair("web", "sg-0001"),  # a source passed again: counted from the mirror call, not here
        pair("gone", "sg-0009", deleted=["sg-0old1"], orphan="source_gone"),
        pair("busy", "sg-0010", error="DependencyViolation: sg-0old2 is in use", orphan="retargeted"),
    ],
}
# Orphans the mirror call saw (its ``orphans`` return).
ORPHANS = [
    {"group_id": "sg-0old1", "reason": "source_gone"},
    {"group_id": "sg-0old2", "reason": "retargeted"},
]


def test_counts_of_a_full_run():
    summary = mirror_summary(dict(MIRRORED, orphans=ORPHANS), LINKED, PRUNED)
    expected = {
        "groups_created": 1, "groups_updated": 1, "groups_unchanged": 1, "groups_deleted": 1, "groups_failed": 2,
        "rules_added": 3, "rules_revoked": 1, "rules_updated": 1, "skipped_references": 1,
        "links_made": 1, "links_changed": 1, "links_removed": 1, "links_unchanged": 1,
        "instances_skipped": 2, "conflicts": 1, "classiclink_enabled": 0, "orphans_kept": 1,
    }
    assert {key: summary[key] for key in expected} == expected
    assert summary["changed"] is True


def test_every_failure_is_listed_with_what_failed():
    errors = mirror_summary(MIRRORED, LINKED, PRUNED)["errors"]
    assert len(errors) == 3
    typo, busy, instance_error = sorted(errors, key=lambda e: ("typo" not in e, "instance" in e))
    assert "typo (sg-0004)" in typo and "vpc-0123456789abcdef0" in typo
    assert busy.startswith("orphan busy") and "DependencyViolation" in busy
    assert instance_error == "instance i-7: ClassicLink is not enabled on VPC vpc-x"


def test_lines_tell_a_person_what_happened():
    lines = mirror_summary(dict(MIRRORED, orphans=ORPHANS), LINKED, PRUNED)["lines"]
    text = "\n".join(lines)
    assert lines[0] == "mirrors: 1 created, 1 updated, 1 unchanged, 1 deleted, 2 failed"
    assert lines[1] == "rules: 3 added, 1 revoked, 1 descriptions updated"
    assert "tcp 8080 from sg-0elb not mirrored: not managed" in text
    assert "instance i-5 not linked: " + CONFLICT in text
    assert "orphan mirrors kept: 1" in text
    assert "FAILED: 3" in text


def test_skipped_and_missing_results_count_nothing():
    skipped = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}
    summary = mirror_summary(skipped, None, skipped)
    assert all(summary[key] == 0 for key in plugin.COUNTERS)
    assert summary["changed"] is False and summary["errors"] == []
    assert summary["lines"][-1] == "failures: none"


def test_a_call_that_failed_as_a_whole_is_an_error():
    # registered with failed_when: false, so `failed` is False; the missing list tells
    refused = {"changed": False, "failed": False, "failed_when_result": False, "msg": "Could not describe the security groups"}
    summary = mirror_summary(refused, {"changed": False, "msg": "UnauthorizedOperation"})
    assert summary["errors"] == ["mirror: Could not describe the security groups", "instance links: UnauthorizedOperation"]


def test_check_mode_placeholders_count_like_real_ids():
    check = pair("web", "sg-0001", created=True, added=[rule(443, group_id="new-mirror-of-sg-0001")])
    real = pair("web", "sg-0001", created=True, added=[rule(443, group_id="sg-0real")])
    assert mirror_summary({"groups": [check]})["groups_created"] == mirror_summary({"groups": [real]})["groups_created"] == 1


def test_orphans_kept_without_pruning():
    assert mirror_summary({"groups": [], "orphans": ORPHANS})["orphans_kept"] == 2


def test_classiclink_enabled_is_counted_and_said():
    summary = mirror_summary(None, {"instances": [], "enabled_classiclink": [VPC]})
    assert summary["classiclink_enabled"] == 1 and "ClassicLink enabled on 1 VPCs" in summary["lines"]


def test_not_a_result_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match="links must be a registered task result"):
        mirror_summary({"groups": []}, ["not", "a", "result"])


def test_filter_is_registered_and_documented_as_called():
    assert FilterModule().filters() == {"mirror_summary": mirror_summary}
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == "mirror_summary"
    params = list(inspect.signature(mirror_summary).parameters)
    assert set(doc["options"]) == {"_input", *params[1:]}
    assert doc["positional"] == "_input, links, pruned"
    yaml.safe_load(plugin.EXAMPLES)
    returned = yaml.safe_load(plugin.RETURN)["_value"]["contains"]
    assert set(returned) == set(plugin.COUNTERS) | {"changed", "errors", "warnings", "instances_skipped_by_code", "lines"}
    assert set(mirror_summary(None)) == set(returned)


def test_withheld_rules_and_mirror_usage_are_summarised():
    withheld = dict(rule(22, cidr_ip="0.0.0.0/0"), reason="matches guardrail tcp 22 from 0.0.0.0/0", code="guardrail")
    groups = [pair("web", "sg-0001"), pair("app", "sg-0002"), pair("db", "sg-0003")]
    groups[0].update(withheld_rules=[withheld], mirror_in_use=True, mirror_group_id="sg-m1")
    groups[1].update(mirror_in_use=False, mirror_group_id="sg-m2")
    groups[2].update(mirror_in_use=False, mirror_group_id="sg-m3")
    mirrored = {"changed": False, "groups": groups, "mirrors_total": 3, "mirrors_in_use": 1, "unused_mirrors": []}
    links = {"changed": False, "enabled_classiclink": [], "instances": [dict(instance("i-1", "unchanged"), groups=["sg-m2"])]}
    summary = mirror_summary(mirrored, links)
    assert (summary["rules_withheld"], summary["mirrors_in_use"], summary["mirrors_total"]) == (1, 2, 3)
    assert "mirrors in use: 2 of 3; not yet: db (sg-m3)" in summary["lines"]
    assert any("tcp 22 from 0.0.0.0/0 withheld: matches guardrail" in line for line in summary["lines"])


def test_without_usage_audit_no_usage_line():
    summary = mirror_summary({"changed": False, "groups": [pair("web", "sg-0001")]})
    assert summary["mirrors_total"] == 0 and not any(line.startswith("mirrors in use") for line in summary["lines"])


# ---------------------------------------------------------------- issue 13: the module's own failure
def test_a_failed_call_is_reported_with_the_modules_own_message_never_a_guess():
    # ansible-core 2.19, registered with failed_when: <no list> and ignore_errors: true: a crash keeps its message
    crashed = {"changed": False, "failed": True, "failed_when_result": True, "exception": "(traceback unavailable)",
               "msg": "Task failed: Module failed: Unable to parse response (no element found: line 1, column 80), "
                      "invalid XML received. Further retries may succeed:\nb'<?xml'"}
    refused = {"changed": False, "failed": True, "msg": "Could not describe instances, VPCs or ClassicLinks of this region: "
               "An error occurred (500) when calling the DescribeVpcs operation: Internal Server Error"}
    errors = mirror_summary(crashed, refused)["errors"]
    assert errors == [
        "mirror: Module failed: Unable to parse response (no element found: line 1, column 80), invalid XML received. "
        "Further retries may succeed: b'<?xml'",
        "instance links: " + refused["msg"],
    ]
    assert not any("returned no" in error for error in errors)


@pytest.mark.parametrize(("result", "expected"), [
    # ansible-core before 2.19: the traceback is in module_stderr
    ({"failed": True, "msg": "MODULE FAILURE\nSee stdout/stderr for the exact error", "rc": 1, "module_stdout": "",
      "module_stderr": "Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                       "botocore.parsers.ResponseParserError: Unable to parse response\n\n"},
     "MODULE FAILURE See stdout/stderr for the exact error: botocore.parsers.ResponseParserError: Unable to parse response"),
    # a module that printed something else than JSON
    ({"failed": True, "msg": "Module result deserialization failed: No start of json char found", "rc": 1,
      "module_stdout": "", "module_stderr": "some noise\nImportError: No module named boto3\n"},
     "Module result deserialization failed: No start of json char found: ImportError: No module named boto3"),
    # the exception's last line when there is one
    ({"failed": True, "msg": "MODULE FAILURE", "exception": "Traceback...\nKeyError: 'VpcId'\n"},
     "MODULE FAILURE: KeyError: 'VpcId'"),
    # registered with failed_when: false on ansible-core 2.19: the crash left nothing but a placeholder
    ({"failed": False, "failed_when_result": False, "failed_when_suppressed_exception": "(traceback unavailable)"},
     "the module returned neither its result nor a message (run it again with -vvv)"),
    ({"failed": True, "msg": "MODULE FAILURE"},
     "MODULE FAILURE (no exception or output was kept; run the module again with -vvv)"),
], ids=["module_stderr", "deserialization", "exception", "suppressed", "bare"])
def test_a_generic_module_failure_adds_the_last_line_of_the_python_error(result, expected):
    assert mirror_summary(result)["errors"] == ["mirror: " + expected]


def test_a_message_quoting_a_whole_answer_is_cut_after_its_reason():
    page = "<html>" + "x" * 5000 + "</html>"
    (error,) = mirror_summary({"failed": True, "msg": "Module failed: Unable to parse response: " + page})["errors"]
    assert error.startswith("mirror: Module failed: Unable to parse response: <html>xxx")
    assert error.endswith(" ... (%d more characters)" % (len("Module failed: Unable to parse response: ") + len(page) - 1000))


# ---------------------------------------------------------------- issue 13: mistakes that exit 0
KEYS = ["classiclinkmirror:linkToVPC", "classicmirror:linkToVPC"]


def test_no_tagged_source_group_warns_naming_the_region_and_the_tag_keys():
    summary = mirror_summary({"changed": False, "groups": [], "orphans": []}, {"instances": []},
                             region="eu-west-1", link_tag_keys=KEYS, vpc_ids=[])
    (warning,) = summary["warnings"]
    assert warning.startswith("no source group in eu-west-1 carries a link tag "
                              "(classiclinkmirror:linkToVPC, classicmirror:linkToVPC): nothing was mirrored")
    assert "WARNING: " + warning in summary["lines"] and summary["errors"] == []


def test_vpc_ids_that_match_nothing_are_warned_about_by_id():
    mirrored = {"groups": [pair("web", "sg-0001")], "orphans": [{"group_id": "sg-0old", "vpc_id": "vpc-orphan", "reason": "untagged"}]}
    links = {"instances": [dict(instance("i-1", "linked"), vpc_id="vpc-linked")]}
    summary = mirror_summary(mirrored, links, region="us-east-1", link_tag_keys=KEYS,
                             vpc_ids=[VPC, "vpc-orphan", "vpc-linked", "vpc-typo1", "vpc-typo2"])
    (warning,) = summary["warnings"]
    assert warning.startswith("mirror_vpc_ids vpc-typo1, vpc-typo2 matched nothing in us-east-1: no source group's link tag "
                              "(classiclinkmirror:linkToVPC, classicmirror:linkToVPC) names them"), warning
    assert mirror_summary({"groups": []}, vpc_ids=["vpc-typo"])["warnings"][0].startswith(
        "mirror_vpc_ids vpc-typo matched nothing in this scope's region")


def test_no_warning_for_a_run_that_mirrored_or_that_failed_as_a_whole():
    assert mirror_summary(MIRRORED, LINKED, region="us-east-1", link_tag_keys=KEYS, vpc_ids=[VPC])["warnings"] == []
    refused = {"failed": True, "msg": "UnauthorizedOperation"}
    assert mirror_summary(refused, region="us-east-1", link_tag_keys=KEYS)["warnings"] == []
    assert mirror_summary({"skipped": True}, region="us-east-1")["warnings"] == []
    with pytest.raises(AnsibleFilterError, match="vpc_ids must be a list"):
        mirror_summary({"groups": []}, vpc_ids={"vpc-1": True})


# ---------------------------------------------------------------- issue 13: skipped instances with their reason
def test_skipped_instances_are_listed_with_their_reason_first_five_then_a_count():
    skipped = [instance("i-%d" % n, "skipped", "instance is stopped; only running instances can be linked", "not_running")
               for n in range(6)]
    skipped.append(instance("i-c", "skipped", CONFLICT, "vpc_conflict"))
    skipped.append(instance("i-m", "skipped", "the mirror of sg-0004 does not exist (its pair failed)", "mirror_missing"))
    summary = mirror_summary(None, {"instances": skipped})
    assert summary["instances_skipped"] == 8 and summary["conflicts"] == 1
    assert summary["instances_skipped_by_code"] == {"not_running": 6, "vpc_conflict": 1, "mirror_missing": 1}
    lines = summary["lines"]
    start = lines.index("instances not linked: 8 (mirror_missing 1, not_running 6, vpc_conflict 1)")
    assert lines[start + 1] == "  instance i-c not linked: " + CONFLICT  # conflicts first
    assert lines[start + 2:start + 6] == ["  instance i-%d not linked: instance is stopped; only running instances can be linked" % n
                                          for n in range(4)]
    assert lines[start + 6] == "  and 3 more (every instance with its reason is in the report)"


def test_up_to_five_skipped_instances_need_no_count():
    skipped = [instance("i-%d" % n, "skipped", None, "not_member") for n in range(5)]
    lines = mirror_summary(None, {"instances": skipped})["lines"]
    assert "  instance i-4 not linked: not_member" in lines  # no reason: the code
    assert not any(line.startswith("  and ") for line in lines)


def test_names_and_knock_on_reasons_reach_the_summary_lines():
    knock_on = dict(rule(8080, group_id="sg-0m2", user_id="123456789012"), group_name="app",
                    reason="refers to app (sg-0m2), the mirror of a group that stopped being managed: its source app (sg-0002) is no longer managed",
                    code="unmanaged_reference")
    skipped = dict(rule(5432, group_id="sg-0elb", user_id="123456789012"), group_name="legacy-elb", reason="not managed", code="unmanaged_reference")
    web = pair("web", "sg-0001", changed=True, revoked=[knock_on], skipped=[skipped])
    lines = mirror_summary({"changed": True, "groups": [web]})["lines"]
    assert any("tcp 8080 from app (sg-0m2) revoked: refers to app (sg-0m2)" in line and "no longer managed" in line for line in lines)
    assert any("tcp 5432 from legacy-elb (sg-0elb) not mirrored" in line for line in lines)


def test_address_lists_are_counted_by_action_with_failures_and_members_without_public_address():
    def listed(action, error=None, without=0):
        return {"name": "classiclinkmirror-addresses-sg-1-ipv4", "prefix_list_id": "pl-1", "action": action, "error": error,
                "members_without_public_address": [{"interface_id": "eni-%d" % n, "code": "no_public_address"} for n in range(without)]}

    mirrored = {"changed": True, "groups": [], "address_lists": [
        listed("created", without=2), listed("modified"), listed("modified"), listed("unchanged"), listed("deleted"),
        listed("created", error="boom")]}
    summary = mirror_summary(mirrored)
    assert (summary["address_lists_created"], summary["address_lists_modified"], summary["address_lists_unchanged"],
            summary["address_lists_deleted"], summary["address_lists_failed"]) == (1, 2, 1, 1, 1)
    assert summary["members_without_public_address"] == 2
    assert "address lists: 1 created, 2 modified, 1 unchanged, 1 deleted, 1 failed" in summary["lines"]
    assert any("boom" in error for error in summary["errors"])
    assert not any(line.startswith("address lists") for line in mirror_summary({"groups": []})["lines"])


def test_many_rules_not_mirrored_are_listed_first_ten_then_a_count():
    skipped = [dict(rule(port, group_id="sg-0elb", user_id="123456789012"), reason="not managed", code="unmanaged_reference")
               for port in range(8000, 8012)]
    lines = mirror_summary({"changed": False, "groups": [pair("web", "sg-0001", skipped=skipped)]})["lines"]
    listed = [line for line in lines if "not mirrored: not managed" in line]
    assert [line.split(" from ")[0] for line in listed] == ["web (sg-0001) -> %s: tcp %d" % (VPC, port) for port in range(8000, 8010)]
    assert "and 2 more rules not mirrored, withheld or revoked (every rule with its reason is in the report and the module result)" in lines
    ten = mirror_summary({"changed": False, "groups": [pair("web", "sg-0001", skipped=skipped[:10])]})["lines"]
    assert len([line for line in ten if "not mirrored" in line]) == 10 and not any(line.startswith("and ") for line in ten)
