# -*- coding: utf-8 -*-
"""Fixtures of the Event-Driven Ansible tests.

ansible_rulebook   session: path of the venv's ``ansible-rulebook``, with a Java 17+
                   runtime it can use. When no ``java`` is found and ``CI=true``, the
                   fixture installs ``openjdk-17-jre-headless`` with apt-get (as root,
                   or through passwordless sudo) and fails if it cannot; elsewhere the
                   tests that need it are skipped with the command to run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.devpaths import REPO_ROOT

JAVA_PACKAGE = "openjdk-17-jre-headless"
MIN_JAVA = 17


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def _java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def _apt_install_java() -> None:
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", JAVA_PACKAGE]):
        proc = subprocess.run(prefix + cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0:
            pytest.fail(f"CI: installing {JAVA_PACKAGE} failed ({' '.join(cmd)}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


@pytest.fixture(scope="session")
def ansible_rulebook() -> str:
    rulebook = REPO_ROOT / ".venv" / "bin" / "ansible-rulebook"
    if not rulebook.exists():
        pytest.fail(f"{rulebook} is missing: run `make venv` (requirements/eda.txt)")
    java = _java()
    if java is None and os.environ.get("CI", "").lower() == "true" and shutil.which("apt-get"):
        _apt_install_java()
        java = _java()
    if java is None and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI: no Java runtime for ansible-rulebook and no apt-get to install {JAVA_PACKAGE}")
    if java is None:
        pytest.skip(f"ansible-rulebook needs Java {MIN_JAVA}+: apt-get install {JAVA_PACKAGE} (or set JAVA_HOME)")
    if _java_major(java) < MIN_JAVA:
        pytest.skip(f"ansible-rulebook needs Java {MIN_JAVA}+, {java} is older: apt-get install {JAVA_PACKAGE}")
    return str(rulebook)
