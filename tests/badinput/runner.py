"""Run a module file or ``ansible-playbook`` with a chosen environment and endpoint.

The shared ``run_module`` fixture always talks to the session harness with
fixed credentials and region; the bad-input and security tests also need no
region at all, a missing profile, real IAM credentials of the IAM-enforcing
harness, or secrets passed as module options.  Same mechanics as the fixture
(the real module file in a subprocess, Ansible "direct" style).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional

from tests.conftest import ModuleResult, parse_module_output
from tests.support.devpaths import REPO_ROOT, collections_root
from tests.support.harness_env import harness_env

PYTHON = str(REPO_ROOT / ".venv" / "bin" / "python")
ANSIBLE_PLAYBOOK = str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook")

DEFAULT_REGION = "us-east-1"


def _site_packages() -> str:
    found = sorted((REPO_ROOT / ".venv" / "lib").glob("python3*/site-packages"))
    return str(found[-1])


def aws_env(url: str, *, region: Optional[str] = DEFAULT_REGION, access_key: str = "testing",
            secret_key: str = "testing", **overrides: Optional[str]) -> dict[str, str]:
    """Environment for a subprocess talking to ``url`` (see tests/support/harness_env.py)."""
    return harness_env(url, region=region, access_key=access_key, secret_key=secret_key, **overrides)


def run_module(name: str, args: Mapping[str, Any], env: Mapping[str, str], check: bool = False,
               diff: bool = False) -> ModuleResult:
    """Run ``classiclink.mirror.<name>`` as the ``run_module`` fixture does, with ``env``."""
    module_path = f"ansible_collections.classiclink.mirror.plugins.modules.{name}"
    env = dict(env)
    env["PYTHONPATH"] = os.pathsep.join([str(collections_root()), _site_packages()])
    # _ansible_module_name: what ansible-playbook passes, so messages name the module as users see them
    payload = {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check, "_ansible_diff": diff,
                                       "_ansible_module_name": f"classiclink.mirror.{name}"}}
    with tempfile.TemporaryDirectory(prefix="badinput-") as tmp:
        args_file = Path(tmp) / "args.json"
        args_file.write_text(json.dumps(payload), encoding="utf-8")
        proc = subprocess.run([PYTHON, "-m", module_path, str(args_file)], cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
    doc = parse_module_output(proc.stdout)
    if doc is None:
        raise AssertionError(f"module {name} produced no JSON (rc={proc.returncode})\n{proc.stdout}\n{proc.stderr}")
    result = ModuleResult(doc)
    result.rc, result.stdout, result.stderr = proc.returncode, proc.stdout, proc.stderr
    return result


def run_playbook(playbook: str, *args: str, env: Mapping[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    """``ansible-playbook <playbook> <args>`` from the repository root (ansible.cfg applies)."""
    return subprocess.run([ANSIBLE_PLAYBOOK, playbook, *args], cwd=REPO_ROOT, env=dict(env),
                          capture_output=True, text=True, timeout=timeout, check=False)
