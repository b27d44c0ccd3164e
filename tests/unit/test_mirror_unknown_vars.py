# -*- coding: utf-8 -*-
"""The mirror_unknown_vars filter (issue 13): a misspelt mirror_* variable is named with the closest known one,
and every name the collection itself sets or reads is known."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.classiclink.mirror.plugins.filter import mirror_unknown_vars as plugin
from ansible_collections.classiclink.mirror.plugins.filter.mirror_unknown_vars import FilterModule, mirror_unknown_vars
from tests.support.devpaths import REPO_ROOT

ROLE = REPO_ROOT / "roles" / "mirror"
OPTIONS = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


@pytest.mark.parametrize(("name", "meant"), [
    ("mirror_prunee", "mirror_prune"),
    ("mirror_regon", "mirror_regions"),
    ("mirror_vpc_id", "mirror_vpc_ids"),
    ("mirror_link_tag_key", "mirror_link_tag_keys"),
    ("mirror_guardrail", "mirror_guardrails"),
    ("mirror_concurency", "mirror_concurrency"),
])
def test_a_misspelt_variable_names_the_closest_known_one(name, meant):
    assert mirror_unknown_vars([name, "mirror_prune", "aws_region"], OPTIONS) == [
        "unknown role variable %s; did you mean %s?" % (name, meant)]


def test_a_name_without_close_match_lists_the_role_variables():
    (message,) = mirror_unknown_vars(["mirror_xyzzy"], OPTIONS)
    assert message.startswith("unknown role variable mirror_xyzzy; the role's variables are ")
    assert "mirror_prune" in message and "mirror_regions" in message and "ansible-doc -t role classiclink.mirror.mirror" in message
    assert "mirror_groups_result" not in message  # internal names are never offered


def test_known_internal_and_foreign_names_pass():
    names = list(OPTIONS) + ["mirror_regions", "mirror_python_interpreter", "mirror_groups_result", "mirror_run_summary",
                             "mirror_events_queue_name", "mirror_events_anything", "mirror_role_arn", "ansible_check_mode",
                             "mirrored", "mirror"]
    assert mirror_unknown_vars(names, OPTIONS) == []
    assert mirror_unknown_vars("mirror_prune,mirror_prunee", list(OPTIONS)) == [
        "unknown role variable mirror_prunee; did you mean mirror_prune?"]


def test_internal_names_are_not_suggested():
    # mirror_groups_result is set by the role; a user who wrote mirror_groups_resul meant nothing the role reads
    (message,) = mirror_unknown_vars(["mirror_groups_resul"], OPTIONS)
    assert "did you mean" not in message


def test_bad_input_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match="expects a list of variable names"):
        mirror_unknown_vars({"mirror_prune": True}, OPTIONS)
    with pytest.raises(AnsibleFilterError, match="known must be a list of names or a dict"):
        mirror_unknown_vars(["mirror_prune"], "mirror_prune")


def test_filter_is_registered_and_documented_as_called():
    assert FilterModule().filters() == {"mirror_unknown_vars": mirror_unknown_vars}
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == "mirror_unknown_vars"
    params = list(inspect.signature(mirror_unknown_vars).parameters)
    assert set(doc["options"]) == {"_input", *params[1:]}
    assert doc["positional"] == "_input, known"
    yaml.safe_load(plugin.EXAMPLES)
    assert yaml.safe_load(plugin.RETURN)["_value"]["sample"][0] == "unknown role variable mirror_prunee; did you mean mirror_prune?"


# ---------------------------------------------------------------- drift: every name the collection uses is known
def _tasks(node: Any) -> Iterator[dict]:
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
            yield from _tasks(node.get(key))


def _defined_names(path: Path) -> set[str]:
    """mirror_* names a task file or playbook defines: register, set_fact keys, vars keys."""
    names = set()
    for task in _tasks(yaml.safe_load(path.read_text())):
        if isinstance(task.get("register"), str):
            names.add(task["register"])
        names.update(task.get("vars") or {})
        for action in ("set_fact", "ansible.builtin.set_fact"):
            if isinstance(task.get(action), dict):
                names.update(task[action])
    return {name for name in names if name.startswith("mirror_")}


def test_every_default_is_documented_in_the_argument_spec():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert set(defaults) <= set(OPTIONS), set(defaults) - set(OPTIONS)


def test_the_names_the_role_and_playbook_set_are_known():
    files = sorted((ROLE / "tasks").glob("*.yml")) + [REPO_ROOT / "playbooks" / "mirror.yml"]
    defined = set().union(*(_defined_names(path) for path in files))
    assert {"mirror_groups_result", "mirror_run_summary", "mirror_scope_regions"} <= defined
    assert mirror_unknown_vars(sorted(defined), OPTIONS) == [], (
        "add the name to INTERNAL_VARIABLES of plugins/filter/mirror_unknown_vars.py (or document it in "
        "roles/mirror/meta/argument_specs.yml)")


def test_the_names_users_set_elsewhere_in_the_collection_are_known():
    playbook = (REPO_ROOT / "playbooks" / "mirror.yml").read_text()
    read_by_playbook = set(re.findall(r"\b(mirror_[a-z_]+) \| default", playbook)) | {"mirror_regions"}
    inventory_plugin = (REPO_ROOT / "plugins" / "inventory" / "scopes.py")
    set_by_inventory = set(re.findall(r'host_vars\["(mirror_[a-z_]+)"\]', inventory_plugin.read_text())) if inventory_plugin.exists() else set()
    rulebooks = "".join(path.read_text() for path in (REPO_ROOT / "extensions" / "eda" / "rulebooks").glob("*.yml"))
    read_by_rulebooks = set(re.findall(r"\b(mirror_[a-z_]+) \| default", rulebooks))
    names = read_by_playbook | set_by_inventory | read_by_rulebooks
    assert "mirror_python_interpreter" in names and "mirror_job_template" in names
    assert mirror_unknown_vars(sorted(names), OPTIONS) == []
