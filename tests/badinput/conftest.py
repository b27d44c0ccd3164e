"""Fixtures of the bad-input tests.

intercept   function: ``intercept(handler)`` runs ``handler(params)`` on every AWS request that
            reaches moto through the session harness (after the harness recorded it) and lets it
            answer instead of moto: return ``None`` to pass the request on, or
            ``(status, code, message)`` for an EC2 error.  Used to change the world at a chosen
            moment (between a module's describes and its first change), deterministically.
            Handlers run on the server's request threads, unlocked: they may call the server
            themselves (those requests reach the handler too).
iam_moto    session: the IAM-enforcing harness in a subprocess (``tests/security/iam_harness.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Tuple

import pytest

from tests.security.iam_harness import IamHarnessProcess
from tests.support.classiclink_emulation import error_xml
from tests.support.moto_harness import MotoHarness, _params, _read_body

Handler = Callable[[dict], Optional[Tuple[int, str, str]]]


@pytest.fixture
def intercept(moto: MotoHarness, monkeypatch: pytest.MonkeyPatch) -> Callable[[Handler], None]:
    assert moto.app is not None, "needs the in-process harness"
    inner = moto.app.inner

    def install(handler: Handler) -> None:
        def hooked(environ: dict[str, Any], start_response: Any) -> Any:
            answer = handler(_params(environ, _read_body(environ)))
            if answer is None:
                return inner(environ, start_response)
            status, code, message = answer
            body = error_xml(code, message).encode()
            start_response(f"{status} Bad Request", [("Content-Type", "text/xml;charset=UTF-8"), ("Content-Length", str(len(body)))])
            return [body]

        monkeypatch.setattr(moto.app, "inner", hooked)

    return install


@pytest.fixture(scope="session")
def iam_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IamHarnessProcess]:
    process = IamHarnessProcess(Path(tmp_path_factory.mktemp("iam-harness")))
    yield process
    process.stop()
