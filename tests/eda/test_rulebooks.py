# -*- coding: utf-8 -*-
"""The rulebooks, read by ansible-rulebook's own schema, parser and templating (no Java, no AWS).

mirror_on_change.yml also runs end to end (test_rulebook_e2e.py), and so does mirror_cluster.yml
(test_seed004_cluster.py); the controller variant needs an EDA controller, so this is how far it
is checked here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.devpaths import REPO_ROOT

pytest.importorskip("ansible_rulebook")  # requirements/eda.txt

# pylint: disable=wrong-import-position
from ansible_rulebook.rules_parser import parse_rules  # noqa: E402
from ansible_rulebook.util import substitute_variables  # noqa: E402
from ansible_rulebook.validators import Validate  # noqa: E402

RULEBOOKS = REPO_ROOT / "extensions" / "eda" / "rulebooks"
SOURCE = "classiclink.mirror.mirror_events"
EVENT = {"mirror_event": "change", "region": "eu-west-1", "count": 3}


def load(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((RULEBOOKS / name).read_text())


def rules_by_condition(rulebook: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rule["condition"]: rule["action"] for rule in rulebook[0]["rules"]}


ALL = ["mirror_on_change.yml", "mirror_on_change_controller.yml", "mirror_cluster.yml"]
CLUSTER_EVENT = {
    "mirror_event": "change",
    "region": "us-west-2",
    "count": 2,
    "lifecycle_actions": [
        {"region": "us-west-2", "account": "123456789012", "auto_scaling_group_name": "db-west",
         "lifecycle_hook_name": "db-west-launching", "lifecycle_action_token": "33965228-086a-4aeb-8c26-f82ed3bef495",
         "instance_id": "i-017425ec54f22f994", "transition": "autoscaling:EC2_INSTANCE_LAUNCHING", "time": ""},
    ],
}


@pytest.mark.parametrize("name", ALL)
def test_rulebook_is_valid_for_ansible_rulebook(name):
    rulebook = load(name)
    Validate.rulebook(rulebook)
    [ruleset] = rulebook
    assert [next(k for k in source if k != "name") for source in ruleset["sources"]] == [SOURCE]
    rules = parse_rules(ruleset["rules"], {})  # conditions compile, actions are known
    assert all(len(rule.actions) == 1 for rule in rules)


@pytest.mark.parametrize("name", ALL)
def test_source_arguments_default_to_the_setup_playbook_and_the_aws_environment(name):
    [source] = load(name)[0]["sources"]
    args = substitute_variables(source[SOURCE], {})
    assert args["queue_name"] == "classiclink-mirror-events"  # playbooks/events_setup.yml's default
    assert args["region"] is None and args["endpoint_url"] is None  # boto3's default chain
    assert (args["quiet_seconds"], args["max_wait_seconds"], args["ignore_principals"]) == (30, 300, [])
    assert args.get("accept_control_messages", False) is False


def test_source_arguments_take_the_variables():
    [source] = load("mirror_on_change.yml")[0]["sources"]
    variables = {
        "mirror_events_queue_name": "q",
        "mirror_events_region": "eu-west-1",
        "mirror_events_quiet_seconds": 2,
        "mirror_events_ignore_principals": ["arn:aws:iam::123456789012:role/classiclink-mirror"],
    }
    args = substitute_variables(source[SOURCE], variables)
    assert (args["queue_name"], args["region"], args["quiet_seconds"]) == ("q", "eu-west-1", 2)
    assert args["ignore_principals"] == ["arn:aws:iam::123456789012:role/classiclink-mirror"]


def test_a_change_runs_the_mirror_playbook_for_its_region():
    action = rules_by_condition(load("mirror_on_change.yml"))['event.mirror_event == "change"']
    run = substitute_variables(action["run_playbook"], {"event": EVENT})
    assert run == {"name": "classiclink.mirror.mirror", "extra_vars": {"mirror_regions": ["eu-west-1"]}}
    assert (REPO_ROOT / "playbooks" / "mirror.yml").exists()  # what classiclink.mirror.mirror names


def test_a_change_launches_the_job_template_for_its_region():
    action = rules_by_condition(load("mirror_on_change_controller.yml"))['event.mirror_event == "change"']
    run = substitute_variables(action["run_job_template"], {"event": EVENT})
    assert run == {
        "name": "classiclink-mirror",
        "organization": "Default",
        "job_args": {"extra_vars": {"mirror_regions": ["eu-west-1"]}},
    }


def test_only_the_cli_rulebook_obeys_shutdown_messages():
    assert "shutdown" in rules_by_condition(load("mirror_on_change.yml"))['event.mirror_event == "shutdown"']
    assert all("shutdown" not in action for action in rules_by_condition(load("mirror_on_change_controller.yml")).values())


def test_every_rulebook_is_documented():
    readme = (RULEBOOKS / "README.md").read_text()
    for path in Path(RULEBOOKS).glob("*.yml"):
        assert path.name in readme


# --- mirror_cluster.yml -----------------------------------------------------------------------


def test_the_cluster_rulebook_watches_the_states_that_change_address_lists():
    [source] = load("mirror_cluster.yml")[0]["sources"]
    assert substitute_variables(source[SOURCE], {})["instance_states"] == ["running", "stopped", "terminated"]
    variables = {"mirror_events_instance_states": ["running", "stopped", "shutting-down", "terminated"]}
    assert "shutting-down" in substitute_variables(source[SOURCE], variables)["instance_states"]


def test_a_cluster_change_runs_the_lifecycle_playbook_for_the_cluster_regions_with_the_actions():
    action = rules_by_condition(load("mirror_cluster.yml"))['event.mirror_event == "change"']
    run = substitute_variables(action["run_playbook"], {"event": CLUSTER_EVENT, "mirror_events_cluster_regions": ["us-east-1", "us-west-2"]})
    assert run["name"] == "classiclink.mirror.mirror_lifecycle"
    assert (REPO_ROOT / "playbooks" / "mirror_lifecycle.yml").exists()
    assert run["extra_vars"]["mirror_events_lifecycle_actions"] == CLUSTER_EVENT["lifecycle_actions"]
    # the event's region is always run, also when it repeats one of the cluster's (the playbook drops duplicates)
    assert run["extra_vars"]["mirror_regions"] == ["us-east-1", "us-west-2", "us-west-2"]


def test_without_cluster_regions_the_event_region_runs_alone():
    action = rules_by_condition(load("mirror_cluster.yml"))['event.mirror_event == "change"']
    run = substitute_variables(action["run_playbook"], {"event": {**CLUSTER_EVENT, "lifecycle_actions": []}})
    assert run["extra_vars"] == {"mirror_regions": ["us-west-2"], "mirror_events_lifecycle_actions": []}


def test_the_cluster_rulebook_obeys_shutdown_messages():
    assert "shutdown" in rules_by_condition(load("mirror_cluster.yml"))['event.mirror_event == "shutdown"']


# --- playbooks/mirror_lifecycle.yml runs the scopes as playbooks/mirror.yml does ----------------


def _plays(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((REPO_ROOT / "playbooks" / name).read_text())


def test_the_lifecycle_playbook_finds_the_scopes_as_the_mirror_playbook_does():
    mirror, lifecycle = _plays("mirror.yml"), _plays("mirror_lifecycle.yml")
    assert lifecycle[0] == mirror[0]  # the same scope discovery (mirror_regions, AWS_REGION, mirror_scopes)


def test_the_lifecycle_playbook_runs_each_scope_as_the_mirror_playbook_does():
    [mirror_scopes] = [play for play in _plays("mirror.yml") if play["hosts"] == "mirror_scopes"]
    [lifecycle_scopes] = [play for play in _plays("mirror_lifecycle.yml") if play["hosts"] == "mirror_scopes"]
    assert lifecycle_scopes["module_defaults"] == mirror_scopes["module_defaults"]
    assert lifecycle_scopes["vars"]["ansible_python_interpreter"] == mirror_scopes["vars"]["ansible_python_interpreter"]
    assert {k: v for k, v in lifecycle_scopes.items() if k not in ("name", "vars", "tasks")} == {
        k: v for k, v in mirror_scopes.items() if k not in ("name", "vars", "roles")
    }
    assert [role["role"] for role in mirror_scopes["roles"]] == ["classiclink.mirror.mirror"]
    [block, _complete] = lifecycle_scopes["tasks"]
    assert block["block"] == [{"name": "Run the mirror role", "ansible.builtin.import_role": {"name": "classiclink.mirror.mirror"}}]
    assert block["rescue"]  # a failed scope still completes its actions (with ABANDON)
