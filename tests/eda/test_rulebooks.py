# -*- coding: utf-8 -*-
"""Both rulebooks, read by ansible-rulebook's own schema, parser and templating (no Java, no AWS).

mirror_on_change.yml also runs end to end (test_rulebook_e2e.py); the controller
variant needs an EDA controller, so this is how far it is checked here.
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


@pytest.mark.parametrize("name", ["mirror_on_change.yml", "mirror_on_change_controller.yml"])
def test_rulebook_is_valid_for_ansible_rulebook(name):
    rulebook = load(name)
    Validate.rulebook(rulebook)
    [ruleset] = rulebook
    assert [next(k for k in source if k != "name") for source in ruleset["sources"]] == [SOURCE]
    rules = parse_rules(ruleset["rules"], {})  # conditions compile, actions are known
    assert all(len(rule.actions) == 1 for rule in rules)


@pytest.mark.parametrize("name", ["mirror_on_change.yml", "mirror_on_change_controller.yml"])
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
