# -*- coding: utf-8 -*-
"""The pure layers are pure in what they import: the model, the planners, the audit and
the report load and plan with boto3, botocore and amazon.aws made unimportable."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

PURE = ("model", "rules", "tags", "targets", "addresses", "pairs", "plan_groups", "plan_links", "audit", "report")
EDGE = ("scope", "describe", "apply_groups", "apply_links")

SCRIPT = textwrap.dedent("""
    import importlib, sys

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("boto3", "botocore") or name.startswith("ansible_collections.amazon"):
                raise ImportError("%s is unimportable in this test" % name)
            return None

    sys.meta_path.insert(0, Refuse())
    base = "ansible_collections.classiclink.mirror.plugins.module_utils."
    for name in sys.argv[1].split(","):
        importlib.import_module(base + name)
    from ansible_collections.classiclink.mirror.plugins.module_utils.audit import audit
    from ansible_collections.classiclink.mirror.plugins.module_utils.model import Snapshot, Vpc
    print(sorted(audit(Snapshot(vpcs={"vpc-11111111": Vpc("vpc-11111111")}), ("classiclinkmirror:linkToVPC",))))
    leaked = sorted(name for name in sys.modules if name.split(".")[0] in ("boto3", "botocore") or name.startswith("ansible_collections.amazon"))
    assert not leaked, leaked
""")


def run(modules):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
    return subprocess.run([sys.executable, "-c", SCRIPT, ",".join(modules)], capture_output=True, text=True, env=env, check=False)


def test_model_planners_audit_and_report_import_nothing_from_aws():
    done = run(PURE)
    assert done.returncode == 0, done.stderr
    assert "drift" in done.stdout


def test_the_check_can_fail():
    """The AWS edge does import amazon.aws: the same check refuses it."""
    for module in EDGE:
        done = run((module,))
        assert done.returncode != 0 and "unimportable" in done.stderr, module
