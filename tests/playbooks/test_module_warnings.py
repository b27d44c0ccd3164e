"""A module warning reaches the user once, and without a deprecation of its own.

amazon.aws 10.1 and later pass the warnings a module recorded to ``exit_json`` as
``warnings=`` on ansible-core 2.19 and later, which ansible-core deprecates: every
run with a warning printed "[DEPRECATION WARNING]: Passing `warnings` to
`exit_json` or `fail_json` is deprecated." The collection's modules use
``MirrorAWSModule`` (plugins/module_utils/aws_module.py), which leaves the
warnings to ansible-core. These tests fail if that deprecation comes back (a new
module built on the plain AnsibleAWSModule, an amazon.aws release that passes the
warnings another way), while the warning itself must still be shown.

The guide's stack (tests/support/world.py) gives the warning: its backend group
allows a port from the Classic load balancer's group, a reference the mirror
cannot translate, which classiclink_mirror_group drops with a module warning.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.devpaths import REPO_ROOT
from tests.support.world import build_world

pytestmark = pytest.mark.integration

# The playbook tests' ansible-playbook: that of the venv running the tests (tools/matrix.sh
# runs them from a copy of the repo whose .venv is the leg's venv).
ANSIBLE_PLAYBOOK = str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook")
DEPRECATION = "Passing `warnings`"
DROPPED = "rule dropped from the mirror"


def test_the_module_returns_its_warning_once_and_no_deprecation(run_module, moto, ec2):
    world = build_world(ec2)
    result = run_module("classiclink_mirror_group", {"all_sources": True, "classic_vpc_id": "default"})
    assert result.rc == 0, result.stderr
    warnings = [str(w) for w in result.get("warnings", [])]
    dropped = [w for w in warnings if DROPPED in w]
    assert len(dropped) == 1 and world.elb_group_id in dropped[0], warnings
    deprecations = [str(d) for d in result.get("deprecations", [])]
    assert not [d for d in deprecations if DEPRECATION in d], deprecations


def test_a_playbook_run_with_a_warning_prints_it_without_the_deprecation(moto, ec2, aws_env, tmp_path: Path):
    build_world(ec2)
    cmd = [ANSIBLE_PLAYBOOK, "playbooks/mirror.yml", "-e", "mirror_classic_vpc_id=default",
           "-e", f"mirror_report_path={tmp_path / 'reports'}"]
    # Deprecation warnings on (whatever the environment says): this test is about one of them.
    env = {**aws_env, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_DEPRECATION_WARNINGS": "True"}
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
    output = proc.stdout + proc.stderr
    explain = f"rc={proc.returncode}\n--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, explain
    assert "[WARNING]" in output and DROPPED in output, explain
    assert DEPRECATION not in output, explain


def test_the_modules_use_the_collections_module_class():
    """Every module builds MirrorAWSModule: a plain AnsibleAWSModule would bring the deprecation back."""
    modules = sorted((REPO_ROOT / "plugins" / "modules").glob("*.py"))
    assert modules
    for path in modules:
        text = path.read_text(encoding="utf-8")
        assert "MirrorAWSModule(" in text and "AnsibleAWSModule(" not in text, path.name
