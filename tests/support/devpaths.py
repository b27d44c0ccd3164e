"""Development paths: make the working tree importable as ``classiclink.mirror``.

``.collections/`` (git-ignored) holds ``ansible_collections/classiclink/mirror``,
a relative symlink (``../../..``) to the repository root.  With
``<repo>/.collections`` on ``ANSIBLE_COLLECTIONS_PATH`` / ``PYTHONPATH`` the
collection imports as ``ansible_collections.classiclink.mirror``, next to
``ansible_collections.amazon.aws`` from the venv's site-packages
(``ansible_collections`` is a namespace package, so the two portions merge).

Run ``python -m tests.support.devpaths`` to create the link (idempotent); it
prints the link path.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def collection_name(repo_root: Path = REPO_ROOT) -> tuple[str, str]:
    """(namespace, name) from galaxy.yml (plain regex: no YAML dependency)."""
    text = (repo_root / "galaxy.yml").read_text(encoding="utf-8")
    found = {}
    for key in ("namespace", "name"):
        m = re.search(rf"^{key}:\s*['\"]?([A-Za-z0-9_]+)", text, re.MULTILINE)
        if not m:
            raise RuntimeError(f"galaxy.yml has no top-level {key!r}")
        found[key] = m.group(1)
    return found["namespace"], found["name"]


def collections_root(repo_root: Path = REPO_ROOT) -> Path:
    """The directory to put on ANSIBLE_COLLECTIONS_PATH and PYTHONPATH."""
    return repo_root / ".collections"


def ensure_dev_collection_path(repo_root: Path = REPO_ROOT) -> Path:
    """Create ``.collections/ansible_collections/<ns>/<name>`` -> repo root; return it.

    Idempotent and safe to race (pytest-xdist workers, make).  A symlink that
    points elsewhere is replaced; a real directory in its place is an error.
    """
    repo_root = repo_root.resolve()
    namespace, name = collection_name(repo_root)
    link = collections_root(repo_root) / "ansible_collections" / namespace / name
    link.parent.mkdir(parents=True, exist_ok=True)
    target = os.path.relpath(repo_root, link.parent)  # "../../.."
    if link.is_symlink():
        if link.resolve() == repo_root:
            return link
        link.unlink()
    elif link.exists():
        raise RuntimeError(f"{link} exists and is not a symlink; remove it")
    try:
        link.symlink_to(target, target_is_directory=True)
    except FileExistsError:  # created concurrently
        if link.resolve() != repo_root:
            raise
    return link


def main() -> int:
    print(ensure_dev_collection_path())
    return 0


if __name__ == "__main__":
    sys.exit(main())
