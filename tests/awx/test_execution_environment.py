"""execution-environment.yml: ``ansible-builder create`` writes the build context from the pinned files.

The image itself cannot be built here (no container engine: ``podman`` is
missing and ``docker`` has no daemon); docs/howto-awx.md gives the
``ansible-builder build`` command.  What the build would take is checked:

* ``ansible-builder create`` (no container engine needed) on a copy of the
  file and of what it names, with the collection tarball built by
  ``ansible-galaxy collection build`` as the docs say;
* the context holds exactly the pinned files: ``_build/requirements.txt`` is
  requirements/ee-python.txt, ``_build/requirements.yml`` is
  requirements/ee-collections.yml, and the Containerfile installs the
  ansible-core / ansible-runner pins and starts from the base image;
* the pins are those of requirements/dev.txt and requirements/eda.txt, and
  amazon.aws's is the release the tests run with;
* the collections resolve as the build's galaxy stage resolves them
  (``ansible-galaxy collection install -r`` of the context's file, offline:
  amazon.aws from the venv's ``ansible`` bundle, which must be the pinned
  release, since Galaxy is not reachable from the test machines);
* the Python requirements resolve as the build's pip stage would: the
  builder's own ``introspect.py`` merges the collections' requirements.txt
  with the user pins, and pip's resolver resolves that plus the ansible-core
  and ansible-runner pins against the package index (``pip install
  --dry-run`` for CPython 3.11 on manylinux x86_64, wheels only).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.devpaths import REPO_ROOT

VENV_BIN = REPO_ROOT / ".venv" / "bin"
EE_FILE = REPO_ROOT / "execution-environment.yml"
SITE_COLLECTIONS = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / \
    "site-packages" / "ansible_collections"


def pins(path: Path) -> dict[str, str]:
    """name (lower case) -> version of the ``name==version`` lines of a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line)
        if m:
            found[m.group(1).lower().replace("_", "-")] = m.group(2)
    return found


def galaxy_version() -> str:
    return yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())["version"]


def run(cmd: list[str], cwd: Path, timeout: int = 120, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **env})
    assert proc.returncode == 0, f"{' '.join(cmd)}: rc={proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ansible-builder create`` on a copy of execution-environment.yml and the files it names."""
    root = tmp_path_factory.mktemp("ee")
    definition = yaml.safe_load(EE_FILE.read_text())
    shutil.copy(EE_FILE, root / EE_FILE.name)
    for key in ("python", "galaxy"):
        name = definition["dependencies"][key]
        assert isinstance(name, str), f"dependencies.{key} should name a pinned file of the repository"
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, root / name)
    # the documented first step: the collection tarball into .build/ee
    run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(root / ".build" / "ee"),
         str(REPO_ROOT)], cwd=root)
    run([str(VENV_BIN / "ansible-builder"), "create", "-f", EE_FILE.name, "-c", "context",
         "--output-filename", "Containerfile"], cwd=root)
    return root / "context"


def test_the_context_holds_the_pinned_files(context):
    definition = yaml.safe_load(EE_FILE.read_text())
    deps = definition["dependencies"]
    assert (context / "_build" / "requirements.txt").read_text() == (REPO_ROOT / deps["python"]).read_text()
    assert yaml.safe_load((context / "_build" / "requirements.yml").read_text()) == \
        yaml.safe_load((REPO_ROOT / deps["galaxy"]).read_text())

    tarball = f"classiclink-mirror-{galaxy_version()}.tar.gz"
    assert (context / "_build" / "collections" / tarball).is_file(), sorted((context / "_build").rglob("*"))
    collections = yaml.safe_load((context / "_build" / "requirements.yml").read_text())["collections"]
    assert {"name": f"/tmp/collections/{tarball}", "type": "file"} in collections

    containerfile = (context / "Containerfile").read_text()
    dev, eda = pins(REPO_ROOT / "requirements" / "dev.txt"), pins(REPO_ROOT / "requirements" / "eda.txt")
    refs = f"ansible-core=={dev['ansible-core']} ansible-runner=={eda['ansible-runner']}"
    assert f'ARG ANSIBLE_INSTALL_REFS="{refs}"' in containerfile, containerfile
    assert f'ARG EE_BASE_IMAGE="{definition["images"]["base_image"]["name"]}"' in containerfile
    assert "COPY _build/collections/ /tmp/collections/" in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "--user-pip=requirements.txt" in containerfile


def test_the_pins_are_those_the_tests_run_with():
    deps = yaml.safe_load(EE_FILE.read_text())["dependencies"]
    dev, eda = pins(REPO_ROOT / "requirements" / "dev.txt"), pins(REPO_ROOT / "requirements" / "eda.txt")
    ee = pins(REPO_ROOT / deps["python"])
    assert ee, "requirements/ee-python.txt pins nothing"
    for name, version in ee.items():
        assert dev.get(name) == version, f"{name}=={version} in {deps['python']}, {dev.get(name)} in dev.txt"
    assert deps["ansible_core"]["package_pip"] == f"ansible-core=={dev['ansible-core']}"
    assert deps["ansible_runner"]["package_pip"] == f"ansible-runner=={eda['ansible-runner']}"

    wanted = {c["name"]: c.get("version") for c in yaml.safe_load((REPO_ROOT / deps["galaxy"]).read_text())["collections"]}
    manifest = json.loads((SITE_COLLECTIONS / "amazon" / "aws" / "MANIFEST.json").read_text())
    assert wanted["amazon.aws"] == "==" + manifest["collection_info"]["version"]


def test_the_requirements_resolve(context, tmp_path):
    # collections: as the galaxy stage, from the context's requirements.yml (the tarball at its path here)
    requirements = (context / "_build" / "requirements.yml").read_text()
    local = tmp_path / "requirements.yml"
    local.write_text(requirements.replace("/tmp/collections/", str(context / "_build" / "collections") + "/"))
    collections = tmp_path / "collections"
    (collections / "ansible_collections" / "amazon").mkdir(parents=True)
    (collections / "ansible_collections" / "amazon" / "aws").symlink_to(SITE_COLLECTIONS / "amazon" / "aws")
    proc = run([str(VENV_BIN / "ansible-galaxy"), "collection", "install", "--offline", "-r", str(local),
                "-p", str(collections)], cwd=tmp_path,
               ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    assert "classiclink.mirror:" in proc.stdout and "was installed successfully" in proc.stdout, proc.stdout
    assert (collections / "ansible_collections" / "classiclink" / "mirror" / "MANIFEST.json").is_file()

    # python: the builder's introspection merges the collections' requirements with the pinned file
    merged = tmp_path / "requirements.txt"
    run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect", str(collections),
         f"--user-pip={context / '_build' / 'requirements.txt'}", f"--write-pip={merged}"], cwd=tmp_path)
    lines = merged.read_text()
    assert "from collection amazon.aws" in lines and "from collection user" in lines, lines

    refs = re.search(r'ARG ANSIBLE_INSTALL_REFS="([^"]*)"', (context / "Containerfile").read_text()).group(1).split()
    report = tmp_path / "pip-report.json"
    run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--disable-pip-version-check", "--report", str(report), "--target", str(tmp_path / "target"),
         "--python-version", "3.11", "--implementation", "cp", "--platform", "manylinux2014_x86_64",
         "--only-binary=:all:", "-r", str(merged), *refs], cwd=tmp_path, timeout=300)
    resolved = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}
    wanted = {**pins(context / "_build" / "requirements.txt"), **dict(r.split("==") for r in refs)}
    assert {name: resolved.get(name) for name in wanted} == wanted, resolved
    print(f"\npip resolved {len(resolved)} distributions: " + ", ".join(f"{k}=={v}" for k, v in sorted(resolved.items())))
