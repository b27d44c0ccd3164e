"""Offline stand-in for ansible-test's ``get-pip.py`` bootstrap script.

ansible-test creates its sanity-test virtualenvs with ``--without-pip`` and then
bootstraps pip by running a ``get-pip.py`` that it downloads from
ci-files.testing.ansible.com -- a host that is not reachable here.  It first
looks for a cached copy at ``~/.ansible/test/cache/get_pip_<version>.py``;
``tools/sanity.sh`` installs this file there.

It is run by ansible-test as ``python -m get_pip_X_Y <pip args> pip==X.Y
[--no-setuptools] [--no-wheel]`` inside the new (pip-less) virtualenv.  Like the
real get-pip.py it installs the requested packages; it gets a first pip from
the interpreter's bundled ``ensurepip`` and the requested ones from the package
index (PyPI), which is reachable.
"""

from __future__ import annotations

import subprocess
import sys


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if result.returncode:
        sys.stdout.write(result.stdout.decode(errors="replace"))
        sys.exit(result.returncode)


def main() -> None:
    args = sys.argv[1:]
    no_setuptools = "--no-setuptools" in args
    no_wheel = "--no-wheel" in args
    pip_args = [a for a in args if a not in ("--no-setuptools", "--no-wheel")]

    _run([sys.executable, "-m", "ensurepip", "--default-pip"])
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--upgrade", "--force-reinstall", *pip_args])

    # Python 3.11's ensurepip also brings setuptools; get-pip.py would not.
    leftovers = []
    if no_setuptools:
        leftovers.append("setuptools")
    if no_wheel:
        leftovers.append("wheel")
    if leftovers:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", *leftovers],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )


if __name__ == "__main__":
    main()
