"""Fixtures of the security tests.

iam_moto     session: the IAM-enforcing harness in a subprocess (see iam_harness.py);
             ``iam_moto.fresh_account()`` per test gives a clean account and admin keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.security.iam_harness import IamHarnessProcess


@pytest.fixture(scope="session")
def iam_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IamHarnessProcess]:
    process = IamHarnessProcess(Path(tmp_path_factory.mktemp("iam-harness")))
    yield process
    process.stop()
