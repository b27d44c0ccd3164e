"""docs/howto-awx.md: its YAML parses, and its awx.awx tasks use options the modules have.

The AWX objects of the page cannot be created here (no AWX); the options are
checked against ``ansible-doc`` of the awx.awx collection in the venv's
``ansible`` package, the playbook wrapper and the inventory file against
the collection itself.
"""

from __future__ import annotations

import json
import re
import subprocess

import yaml

from tests.support.devpaths import REPO_ROOT
from tests.support.harness_env import harness_env

DOC = REPO_ROOT / "docs" / "howto-awx.md"
BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)
COMMON = {"name", "state"}


def yaml_blocks() -> list:
    return [yaml.safe_load(block) for block in BLOCK.findall(DOC.read_text())]


def awx_tasks() -> list[tuple[str, dict]]:
    tasks = []
    for doc in yaml_blocks():
        for task in doc if isinstance(doc, list) else []:
            for key, value in task.items():
                if key.startswith("awx.awx."):
                    tasks.append((key, value))
    return tasks


def test_the_awx_tasks_use_existing_options():
    tasks = awx_tasks()
    modules = sorted({module for module, _args in tasks})
    assert {"awx.awx.credential_type", "awx.awx.credential", "awx.awx.inventory_source", "awx.awx.job_template",
            "awx.awx.schedule", "awx.awx.execution_environment"} <= set(modules), modules
    proc = subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "ansible-doc"), "--json", *modules],
                          capture_output=True, text=True, timeout=120, check=True, cwd=REPO_ROOT,
                          env=harness_env("http://127.0.0.1:1"))
    docs = json.loads(proc.stdout)
    for module, args in tasks:
        options = docs[module]["doc"]["options"]
        known = set(options) | {a for o in options.values() for a in o.get("aliases", [])}
        assert set(args) - known == set(), f"{module}: unknown options {sorted(set(args) - known)}"
        for key, value in args.items():
            choices = options.get(key, {}).get("choices")
            if choices and isinstance(value, str):
                assert value in choices, f"{module}: {key}={value!r} not in {choices}"


def test_the_custom_credential_type_injects_the_playbooks_variable():
    (credential_type,) = [args for module, args in awx_tasks() if module == "awx.awx.credential_type"]
    assert credential_type["kind"] in ("cloud", "net")
    fields = {f["id"] for f in credential_type["inputs"]["fields"]}
    injected = credential_type["injectors"]["extra_vars"]
    assert set(injected) == {"mirror_role_external_id"}
    for value in injected.values():
        assert set(re.findall(r"{{\s*(\w+)", value)) <= fields, value


def test_the_inventory_and_wrapper_playbook_are_the_collections():
    blocks = yaml_blocks()
    (inventory,) = [b for b in blocks if isinstance(b, dict) and b.get("plugin") == "classiclink.mirror.scopes"]
    assert "role_arn" in inventory and "{account}" in inventory["role_arn"]
    (wrapper,) = [b for b in blocks if isinstance(b, list) and "ansible.builtin.import_playbook" in b[0]]
    assert wrapper[0]["ansible.builtin.import_playbook"] == "classiclink.mirror.mirror"
    (template,) = [a for m, a in awx_tasks() if m == "awx.awx.job_template"]
    assert template["playbook"] == "mirror.yml" and template["job_slice_count"] > 1
    assert template["ask_variables_on_launch"] is True  # the EDA rulebook passes mirror_regions
    rulebook = yaml.safe_load((REPO_ROOT / "extensions/eda/rulebooks/mirror_on_change_controller.yml").read_text())
    launch = rulebook[0]["rules"][0]["action"]["run_job_template"]
    assert template["name"] in launch["name"] and template["organization"] in launch["organization"]
