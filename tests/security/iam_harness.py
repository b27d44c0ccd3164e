"""The moto harness with IAM enforced, for the least-privilege and credential tests.

moto enforces IAM only when ``INITIAL_NO_AUTH_ACTION_COUNT`` (read from the
environment when moto is imported) is finite: the first N authorizable
requests go through unchecked, every later one must be signed with the keys of
an IAM user (or assumed role) of the moto account and be allowed by its
policies.  moto's global counter makes this a per-process setting, so these
tests run a dedicated server in a subprocess instead of the shared in-process
harness.

Run it like the harness CLI (loopback only)::

    INITIAL_NO_AUTH_ACTION_COUNT=3 .venv/bin/python -m tests.security.iam_harness --port 0 --port-file F

It serves the same application as ``tests.support.moto_harness`` (call
recorder, ClassicLink emulation, ``/_harness/...`` and ``/moto-api/...``
endpoints) with one addition: the harness answers the emulated ClassicLink
actions (and some prefix-list actions, tests/support/prefix_list_emulation.py)
itself, so moto never sees them and would never authorize them; this
wrapper runs moto's own IAM check (signature and policy) on those requests
first, counted against ``INITIAL_NO_AUTH_ACTION_COUNT`` like every other
request.

What moto's IAM check does and does not do for EC2 (moto 5.2, see
``moto/iam/access_control.py`` and ``docs/iam.md``): it checks the signature and
the ``Action`` element; it authorizes every EC2 request against the resource
``"*"`` (so a statement whose ``Resource`` is an ARN pattern never matches it);
and it evaluates no ``Condition`` for EC2 (no request context is passed; a
statement with conditions applies as if they held).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from werkzeug.datastructures import EnvironHeaders
from werkzeug.serving import make_server

from tests.support.classiclink_emulation import EMULATED_ACTIONS, error_xml
from tests.support.prefix_list_emulation import PREFIX_LIST_ACTIONS
from tests.support.moto_harness import (
    _CREDENTIAL_RE,
    HarnessApp,
    MotoHarness,
    StartResponse,
    _account_id,
    _check_loopback,
    _params,
    _read_body,
    run_cli,
)


class IamEnforcingApp:
    """HarnessApp plus moto's IAM check on the requests the harness answers itself."""

    def __init__(self, inner: HarnessApp | None = None) -> None:
        self.inner = inner or HarnessApp()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        if not environ.get("PATH_INFO", "").startswith(("/_harness/", "/moto-api")):
            body = _read_body(environ)
            action = _params(environ, body).get("Action")
            # The prefix-list emulation answers some calls itself (ModifyManagedPrefixList) and refuses others
            # before moto sees them: EC2 authorizes first, so these are authorized here too (moto authorizes
            # the forwarded ones again, with the same answer).
            if action in EMULATED_ACTIONS or action in PREFIX_LIST_ACTIONS:
                denied = self._authorize(environ, body, action)
                if denied is not None:
                    status, code, message = denied
                    self.inner.recorder.add(
                        {"service": "ec2", "region": _region(environ), "action": action, "mutating": not action.startswith("Describe"), "status": status}
                    )
                    payload = error_xml(code, message).encode()
                    start_response(
                        f"{status} Denied",
                        [("Content-Type", "text/xml;charset=UTF-8"), ("Content-Length", str(len(payload)))],
                    )
                    return [payload]
        return self.inner(environ, start_response)

    @staticmethod
    def _authorize(environ: dict[str, Any], body: bytes, action: str) -> tuple[int, str, str] | None:
        """None when allowed, else (HTTP status, error code, message), exactly as moto would answer."""
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.iam.access_control import IAMRequest

        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            ActionAuthenticatorMixin.request_count += 1
            return None
        headers = EnvironHeaders(environ)
        match = _CREDENTIAL_RE.search(headers.get("Authorization", ""))
        if match is None:
            return 401, "AuthFailure", "AWS was not able to validate the provided access credentials"
        try:
            request = IAMRequest(
                account_id=_account_id(environ, match.group(1)),
                method=environ.get("REQUEST_METHOD", "POST"),
                path=environ.get("PATH_INFO", "/") + (("?" + environ["QUERY_STRING"]) if environ.get("QUERY_STRING") else ""),
                data=_params(environ, body),
                body=body,
                headers=headers,
                action=action,
            )
            request.check_signature()
            request.check_action_permitted("*")
        except Exception as exc:  # moto's _RESTError subclasses: AuthFailure, AccessDenied, ...
            code = getattr(exc, "error_type", None)
            if code is None:
                raise
            return int(getattr(exc, "code", 403)), code, getattr(exc, "message", str(exc))
        return None


def _region(environ: dict[str, Any]) -> str:
    match = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(2) if match else "us-east-1"


def start_server(port: int = 0, host: str = "127.0.0.1") -> MotoHarness:
    """Like ``tests.support.moto_harness.start_server``, with :class:`IamEnforcingApp`."""
    import logging

    from moto.server import MotoRequestHandler

    _check_loopback(host)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    harness_app = HarnessApp()
    server = make_server(host, port, IamEnforcingApp(harness_app), threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name=f"moto-iam-harness-{server.port}", daemon=True)
    thread.start()
    return MotoHarness(f"http://{host}:{server.port}", server, thread, harness_app)


def main(argv: list[str] | None = None) -> int:
    return run_cli(argv, "python -m tests.security.iam_harness", "moto harness with IAM enforcement (loopback only)",
                   "moto IAM harness", start=start_server, default_port=0)


if __name__ == "__main__":
    sys.exit(main())


# --------------------------------------------------------------------- tests' handle on the subprocess

BOOTSTRAP_CALLS = 3  # CreateUser, PutUserPolicy, CreateAccessKey of the admin user: the only unauthenticated calls
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


class IamHarnessProcess:
    """The IAM-enforcing harness in a subprocess (moto's auth counter is per process).

    ``fresh_account()`` resets moto, re-arms ``INITIAL_NO_AUTH_ACTION_COUNT`` with
    moto's own ``/moto-api/reset-auth`` endpoint, spends the unauthenticated calls on
    an ``admin`` IAM user (``Allow *``) and returns its keys; ``user(name, policy)``
    makes an IAM user with exactly ``policy`` (inline) and returns its keys.
    """

    def __init__(self, workdir: Path) -> None:
        import os
        import subprocess
        import time

        from tests.support.devpaths import REPO_ROOT

        port_file = workdir / "iam-harness.port"
        env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY") and not k.startswith("AWS_")}
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(BOOTSTRAP_CALLS)
        self.proc = subprocess.Popen(
            [str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", "tests.security.iam_harness", "--port", "0",
             "--port-file", str(port_file)],
            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"IAM harness exited: {self.proc.stderr.read() if self.proc.stderr else ''}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("IAM harness did not start")
            time.sleep(0.1)
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}"
        self.harness = MotoHarness.connect(self.url)

    def client(self, service: str, keys: tuple[str, str], region: str = "us-east-1") -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session(aws_access_key_id=keys[0], aws_secret_access_key=keys[1], region_name=region).client(
            service, endpoint_url=self.url, config=Config(retries={"mode": "standard", "total_max_attempts": 1})
        )

    def fresh_account(self) -> tuple[str, str]:
        import json
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        opener.open(urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST"), timeout=30).read()
        # a form content type would hide the body from moto (Flask parses it into request.form)
        opener.open(urllib.request.Request(f"{self.url}/moto-api/reset-auth", data=str(BOOTSTRAP_CALLS).encode(),
                                           headers={"Content-Type": "text/plain"}, method="POST"), timeout=30).read()
        iam = self.client("iam", ("bootstrap", "bootstrap"))
        iam.create_user(UserName="admin")
        iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY))
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        self.admin = (key["AccessKeyId"], key["SecretAccessKey"])
        self.harness.reset_calls()
        return self.admin

    def fresh_accounts(self, *others: str) -> tuple[str, str]:
        """``fresh_account()``, plus an ``admin`` user in each account of ``others`` (``self.admins[account]``):
        the unauthenticated bootstrap calls of another account name it with moto's ``x-moto-account-id`` header;
        its admin's keys then belong to it (moto finds the account of an access key)."""
        import json
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        opener.open(urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST"), timeout=30).read()
        opener.open(urllib.request.Request(f"{self.url}/moto-api/reset-auth", data=str(BOOTSTRAP_CALLS * (1 + len(others))).encode(),
                                           headers={"Content-Type": "text/plain"}, method="POST"), timeout=30).read()
        self.admins = {}
        for account in (None, *others):
            iam = self.client("iam", ("bootstrap", "bootstrap"))
            if account:
                iam.meta.events.register("before-sign.iam.*", lambda request, account=account, **_: request.headers.__setitem__(
                    "x-moto-account-id", account))
            iam.create_user(UserName="admin")
            iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY))
            key = iam.create_access_key(UserName="admin")["AccessKey"]
            self.admins[account] = (key["AccessKeyId"], key["SecretAccessKey"])
        self.admin = self.admins.pop(None)
        self.harness.reset_calls()
        return self.admin

    def role(self, admin: tuple[str, str], name: str, policy: dict, trust: dict) -> str:
        """A role of ``admin``'s account with exactly ``policy`` (inline, replaced when called again) and ``trust``."""
        import json

        iam = self.client("iam", admin)
        try:
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
        return arn

    def user(self, name: str, policy: dict) -> tuple[str, str]:
        import json

        iam = self.client("iam", self.admin)
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait()
