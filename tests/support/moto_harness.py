"""The moto test server used by every test of ``classiclink.mirror``.

This is the one place where the fake AWS endpoint is built.  It is moto's
own server application (``DomainDispatcherApplication(create_backend_app)``,
the same app ``ThreadedMotoServer`` runs) wrapped in a WSGI middleware that

1. **records every AWS request at the server**: service, region, action,
   whether the action mutates state, and the HTTP status.  An action is
   read-only iff its name starts with ``Describe``, ``Get`` or ``List``; for
   REST-style requests without an action name, ``GET``/``HEAD`` are read-only.
   EC2 mutating calls also record (see :class:`OwnershipCheck`; listed only
   with ``?detail=1`` / ``calls(detail=True)``): ``targets`` (``GroupId``,
   ``ResourceId.N``, ``SecurityGroupId.N``, ``InstanceId``), ``tag_keys``
   (CreateTags/DeleteTags), ``user_agent``, ``from_collection`` (the
   User-Agent of amazon.aws's AnsibleAWSModule) and ``unowned_groups`` (target
   groups WITHOUT the mirroredFrom tag, looked up in moto's backend before the
   request runs).
2. **emulates ClassicLink** (``AttachClassicLinkVpc``, ``DetachClassicLinkVpc``,
   ``DescribeClassicLinkInstances``), which moto does not implement; see
   :mod:`tests.support.classiclink_emulation` for the model.  EC2-Classic
   instances are modelled as ordinary moto instances in moto's default VPC.
3. **corrects prefix lists** (versions, resize, limits, unknown ids, rule
   descriptions, quota weight) to the EC2 API reference; see
   :mod:`tests.support.prefix_list_emulation`.
4. serves harness endpoints (not AWS):

   * ``GET  /_harness/calls``        -> JSON list of recorded calls (``?detail=1``: with the extra fields and the ``account``)
   * ``POST /_harness/calls/reset``  -> clear the recorded calls
   * ``GET  /_harness/classiclink``  -> JSON list of current ClassicLink links
   * ``GET  /_harness/ownership``    -> ``{"violations": [...], "next_seq": N}``:
     mutating calls made by the collection on groups it does not own
   * ``POST /_harness/ownership/reset[?since=N]`` -> forget the violations (numbered N or later)
   * ``GET  /_harness/autoscaling/lifecycle-actions`` -> JSON list of Auto Scaling lifecycle actions, pending
     and completed (CompleteLifecycleAction, heartbeats, timeouts: :mod:`tests.support.autoscaling_emulation`)
   * moto's ``POST /moto-api/reset`` still works and also clears ClassicLink state
     (not the ownership violations: they accumulate over a whole test session).

What moto itself does with several accounts and regions (measured with moto[server] 5.2.5, issue 11):

* STS ``AssumeRole`` of ``arn:aws:iam::<account>:role/<any name>`` works without the role existing and returns
  credentials of that account (``GetCallerIdentity`` says so); what they create is owned by that account and
  invisible to the others.  It also accepts unknown accounts and any role: an unassumable role, like a region
  that is not enabled (moto serves every region, opt-in ones included; an unknown region name is a 500), is
  played by the fault proxy's scripted ``errors`` (:mod:`tests.support.aws_proxy`).  Organizations
  ``CreateAccount`` succeeds at once with a new 12-digit id.
* A group reference to a group of another region or another account is refused with ``InvalidGroup.NotFound``,
  as EC2 does without VPC peering: mirrors in other scopes can only allow the sources' members by address.
* Prefix lists: ``DescribeManagedPrefixLists`` honours ``owner-id`` and ``tag:KEY`` filters but ignores
  ``tag-key`` and lists the AWS-managed lists too (the collection filters by owner and reads the addressesOf tag
  client-side); the other differences from EC2 are corrected by :mod:`tests.support.prefix_list_emulation`.
* ``DescribeNetworkInterfaces`` honours ``group-id``; a public address (subnet ``MapPublicIpOnLaunch``, or an
  Elastic IP) shows as ``Association.PublicIp``; a stopped instance loses it.  A terminated instance's interface
  stays attached and in its groups (AWS deletes the primary interface): a test of "a terminated member leaves
  the address list" deletes the interface, or terminates through :mod:`tests.support.autoscaling_emulation`.

Use :func:`start_server` from Python, or the CLI (from the repository root)::

    .venv/bin/python -m tests.support.moto_harness --port 5000 [--host 127.0.0.1] [--port-file PATH]

It prints ``moto harness listening on http://127.0.0.1:PORT`` once ready and
serves until SIGTERM/SIGINT.  ``--port 0`` picks a free port; ``--port-file``
receives the port (written atomically once listening, removed on exit).  Only
loopback addresses are accepted.  Point clients at it with
``AWS_ENDPOINT_URL=http://127.0.0.1:PORT`` and any credentials (e.g. ``testing``).
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import json
import logging
import os
import re
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from werkzeug.serving import BaseWSGIServer, make_server

from tests.support.serving import serve_until_signalled
from tests.support.classiclink_emulation import EMULATED_ACTIONS, ClassicLinkEmulator, error_xml
from tests.support.prefix_list_emulation import PREFIX_LIST_ACTIONS, PrefixListEmulator, install_moto_corrections

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

READ_ONLY_PREFIXES = ("Describe", "Get", "List")
_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]*)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_HOST_RE = re.compile(r"^([a-z0-9-]+)\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com")
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def is_mutating(action: str | None, method: str = "POST") -> bool:
    """Read-only iff the action starts with Describe/Get/List (REST: GET/HEAD)."""
    if action:
        return not action.startswith(READ_ONLY_PREFIXES)
    return method.upper() not in ("GET", "HEAD", "OPTIONS")


BASE_FIELDS = ("service", "region", "action", "mutating", "status")


class CallRecorder:
    """Thread-safe list of recorded AWS calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[dict[str, Any]] = []

    def add(self, call: dict[str, Any]) -> None:
        with self._lock:
            self._calls.append(call)

    def snapshot(self, detail: bool = False) -> list[dict[str, Any]]:
        """The calls; without ``detail`` only the base fields (service, region, action, mutating, status)."""
        with self._lock:
            if detail:
                return [dict(c) for c in self._calls]
            return [{k: c[k] for k in BASE_FIELDS} for c in self._calls]

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back so moto can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        return b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _params(environ: dict[str, Any], body: bytes) -> dict[str, str]:
    """Query-protocol parameters from the query string and a form-encoded body."""
    params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded") and body:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update({k: v[0] for k, v in form.items()})
    return params


def _account_of(environ: dict[str, Any], access_key: str) -> str:
    """The account a call lands in, or "" when it cannot be told (never fails the request)."""
    try:
        return _account_id(environ, access_key)
    except Exception:  # pylint: disable=broad-except
        return ""


def _account_id(environ: dict[str, Any], access_key: str) -> str:
    """Same precedence as moto: MOTO_ACCOUNT_ID, x-moto-account-id, access key."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return str(environ["HTTP_X_MOTO_ACCOUNT_ID"])
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


MIRRORED_FROM_TAG = "classiclinkmirror:mirroredFromClassicSecurityGroupId"
MIRRORED_TO_TAG = "classiclinkmirror:mirroredToVpcSecurityGroupId"
DEFAULT_LINK_TAG_KEYS = ("classiclinkmirror:linkToVPC", "classicmirror:linkToVPC")
# amazon.aws's boto3_conn sets Config(user_agent="APN/1.0 Ansible/<core> <collection>/<version>");
# a plain boto3 client (the tests' own setup calls) sends "Boto3/... Botocore/...".
COLLECTION_USER_AGENT_RE = re.compile(r"(?:^|\s)Ansible/\d")
_TARGET_PARAM_RE = re.compile(r"^(?:GroupId|InstanceId|(?:ResourceId|SecurityGroupId|InstanceId)\.\d+)$")
_TAG_KEY_PARAM_RE = re.compile(r"^Tag\.(\d+)\.Key$")


class OwnershipCheck:
    """The ownership invariant, checked at the server on every EC2 mutating call.

    A mutating call made BY THE COLLECTION (``from_collection``: its User-Agent
    carries ``Ansible/<version>``) must only target security groups that carry
    the mirroredFrom tag at request time.  Two exceptions, both tag writes:

    * a CreateTags that writes the mirroredFrom tag (adopting the target VPC's
      ``default`` group, or a group under the ``adopt`` option);
    * CreateTags/DeleteTags whose keys are all relationship or link tag keys
      (``mirroredTo`` on a source group; the link tag when the module's
      ``vpc_id`` option rewrites it): ``source_tag_keys``.

    Violations are kept (with a sequence number) until :meth:`reset`; moto
    resets and call-log resets do not clear them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._violations: list[dict[str, Any]] = []
        self._seq = 0
        self.source_tag_keys: set[str] = {MIRRORED_TO_TAG, *DEFAULT_LINK_TAG_KEYS}

    @staticmethod
    def targets(params: dict[str, str]) -> list[str]:
        """Ids the call acts on, in parameter order (``GroupId``, ``ResourceId.N``...)."""

        def order(key: str) -> tuple[str, int]:
            name, _dot, index = key.partition(".")
            return name, int(index or 0)

        return [params[k] for k in sorted((k for k in params if _TARGET_PARAM_RE.match(k) and params[k]), key=order)]

    @staticmethod
    def tag_keys(params: dict[str, str]) -> list[str]:
        found = [(int(m.group(1)), v) for k, v in params.items() if (m := _TAG_KEY_PARAM_RE.match(k))]
        return [v for _i, v in sorted(found)]

    @staticmethod
    def unowned_groups(group_ids: Iterable[str], account_id: str, region: str) -> list[str]:
        """Existing security groups among ``group_ids`` without the mirroredFrom tag, right now."""
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[account_id][region]
        unowned = []
        for group_id in group_ids:
            if not group_id.startswith("sg-"):
                continue
            try:
                group = backend.get_security_group_from_id(group_id)
            except Exception:  # moto raises for unknown ids in some versions
                group = None
            if group is None:
                continue  # the call will fail with NotFound: nothing is modified
            if MIRRORED_FROM_TAG not in dict(backend.tags.get(group_id, {})):
                unowned.append(group_id)
        return unowned

    def violation(self, call: dict[str, Any]) -> str | None:
        """Why ``call`` breaks the invariant, or None."""
        if not call.get("from_collection") or not call.get("unowned_groups"):
            return None
        keys = set(call.get("tag_keys") or ())
        if call["action"] == "CreateTags" and MIRRORED_FROM_TAG in keys:
            return None  # adoption: the group becomes a mirror with this very call
        if call["action"] in ("CreateTags", "DeleteTags") and keys and keys <= self.source_tag_keys:
            return None  # relationship / link tag on a source group
        return "%s on group(s) %s that do not carry %s" % (
            call["action"], ", ".join(call["unowned_groups"]), MIRRORED_FROM_TAG)

    def check(self, call: dict[str, Any]) -> None:
        reason = self.violation(call)
        if reason is None:
            return
        with self._lock:
            self._violations.append({**call, "reason": reason, "seq": self._seq})
            self._seq += 1

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"violations": [dict(v) for v in self._violations], "next_seq": self._seq}

    def reset(self, since: int = 0) -> dict[str, Any]:
        """Forget the violations numbered ``since`` or later (all by default)."""
        with self._lock:
            self._violations = [v for v in self._violations if v["seq"] < since]  # the numbering goes on
        return {"reset": True}


def _flag(environ: dict[str, Any], name: str) -> bool:
    return parse_qs(environ.get("QUERY_STRING", "")).get(name, ["0"])[0] not in ("", "0", "false")


def _since(environ: dict[str, Any]) -> int:
    raw = parse_qs(environ.get("QUERY_STRING", "")).get("since", ["0"])[0]
    return int(raw) if raw.isdigit() else 0


class HarnessApp:
    """WSGI middleware: call recording + ClassicLink emulation + harness endpoints."""

    def __init__(self, inner: WSGIApp | None = None) -> None:
        if inner is None:
            from moto.server import DomainDispatcherApplication, create_backend_app

            inner = DomainDispatcherApplication(create_backend_app)
        self.inner = inner
        self.recorder = CallRecorder()
        self.classiclink = ClassicLinkEmulator()
        self.prefix_lists = PrefixListEmulator()  # prefix lists as the EC2 API reference says (see its module)
        install_moto_corrections()
        self.ownership = OwnershipCheck()
        from tests.support.autoscaling_emulation import AutoScalingLifecycleEmulator

        self.autoscaling = AutoScalingLifecycleEmulator()  # lifecycle hooks' actions (see its module)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_harness/"):
            return self._harness_endpoint(environ, start_response)
        if path.startswith("/moto-api"):
            result = self.inner(environ, start_response)
            if path.rstrip("/") == "/moto-api/reset":
                self.classiclink.reset()
                self.autoscaling.reset()
                self.prefix_lists.reset()
            return result

        body = _read_body(environ)
        params = _params(environ, body)
        auth = environ.get("HTTP_AUTHORIZATION", "")
        access_key, region, service = "", "us-east-1", "unknown"
        if m := _CREDENTIAL_RE.search(auth):
            access_key, region, service = m.group(1), m.group(2), m.group(3).lower()
        elif m := _HOST_RE.match(environ.get("HTTP_HOST", "")):
            service, region = m.group(1), m.group(2)
        action = params.get("Action")
        if not action and (target := environ.get("HTTP_X_AMZ_TARGET")):
            action = target.rsplit(".", 1)[-1]  # JSON protocol: "Service_Version.Action"
        call: dict[str, Any] = {
            "service": service,
            "region": region,
            "action": action,
            "mutating": is_mutating(action, environ.get("REQUEST_METHOD", "POST")),
            "status": 0,
            "account": _account_of(environ, access_key),  # with ?detail=1: calls counted per (account, region)
        }
        if service == "ec2" and call["mutating"]:
            self._ownership_fields(call, params, environ, access_key, region)

        if service == "autoscaling":  # lifecycle actions: tests.support.autoscaling_emulation
            return self._autoscaling_call(environ, start_response, call, params, access_key, region)

        if service == "ec2" and action in EMULATED_ACTIONS:
            try:
                account = _account_id(environ, access_key)
                status, xml = self.classiclink.handle(action, params, account, region)
            except Exception as exc:  # a bug in the emulation: surface it as a 500
                logging.getLogger(__name__).exception("ClassicLink emulation failed")
                status, xml = 500, error_xml("InternalError", f"emulation error: {exc!r}")
            call["status"] = status
            self._record(call)
            return self._respond(start_response, status, xml.encode(), "text/xml;charset=UTF-8")

        if service == "ec2" and action in PREFIX_LIST_ACTIONS:
            return self._prefix_list_call(environ, start_response, call, params, access_key, region)

        result = self._forward(environ, start_response, call)
        if service == "ec2" and call["mutating"]:
            try:  # e.g. StopInstances ends ClassicLink links
                self.classiclink.sweep(_account_id(environ, access_key), region)
            except Exception:  # never break the moto response because of the sweep
                logging.getLogger(__name__).exception("ClassicLink sweep failed")
        return result

    def _prefix_list_call(self, environ: dict[str, Any], start_response: StartResponse, call: dict[str, Any],
                          params: dict[str, str], access_key: str, region: str) -> Iterable[bytes]:
        """A prefix-list call: answered or checked by the emulation, else moto's answer (seen by it)."""
        account = _account_id(environ, access_key)
        try:
            answer = self.prefix_lists.handle(call["action"], params, account, region)
        except Exception as exc:  # a bug in the emulation: surface it as a 500
            logging.getLogger(__name__).exception("prefix-list emulation failed")
            answer = 500, error_xml("InternalError", f"emulation error: {exc!r}")
        if answer is not None:
            call["status"] = answer[0]
            self._record(call)
            return self._respond(start_response, answer[0], answer[1].encode(), "text/xml;charset=UTF-8")
        captured: dict[str, Any] = {}

        def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        body = b"".join(self.inner(environ, _start_response))
        call["status"] = int(str(captured.get("status", "0")).split(" ", 1)[0])
        self._record(call)
        self.prefix_lists.after(call["action"], params, account, region, call["status"], body)
        if call["mutating"]:
            try:
                self.classiclink.sweep(account, region)
            except Exception:  # never break the moto response because of the sweep
                logging.getLogger(__name__).exception("ClassicLink sweep failed")
        start_response(captured.get("status", "500 Internal Server Error"), captured.get("headers", []))
        return [body]

    def _ownership_fields(
        self, call: dict[str, Any], params: dict[str, str], environ: dict[str, Any], access_key: str, region: str
    ) -> None:
        """Extra fields of an EC2 mutating call, computed BEFORE moto runs it."""
        user_agent = str(environ.get("HTTP_USER_AGENT", ""))
        call["targets"] = OwnershipCheck.targets(params)
        call["tag_keys"] = OwnershipCheck.tag_keys(params) if call["action"] in ("CreateTags", "DeleteTags") else []
        call["user_agent"] = user_agent
        call["from_collection"] = bool(COLLECTION_USER_AGENT_RE.search(user_agent))
        try:
            call["unowned_groups"] = OwnershipCheck.unowned_groups(
                call["targets"], _account_id(environ, access_key), region)
        except Exception:  # never break the request because of the check
            logging.getLogger(__name__).exception("ownership lookup failed")
            call["unowned_groups"] = []

    def _autoscaling_call(self, environ: dict[str, Any], start_response: StartResponse, call: dict[str, Any],
                          params: dict[str, str], access_key: str, region: str) -> Iterable[bytes]:
        """An Auto Scaling call: a lifecycle-action call answered by the emulation, else moto's answer, after
        which the emulation opens the launching actions of the instances moto added to a group."""
        account = _account_id(environ, access_key)
        if self.autoscaling.handles(call["action"], params, account, region):
            status, xml = self.autoscaling.handle(call["action"], params, account, region)  # a bug in it: a 500
            call["status"] = status
            self._record(call)
            return self._respond(start_response, status, xml.encode(), "text/xml;charset=UTF-8")
        result = self._forward(environ, start_response, call)
        if call["mutating"] and call["status"] < 400:
            self.autoscaling.after(account, region)
        return result

    def _forward(self, environ: dict[str, Any], start_response: StartResponse, call: dict[str, Any]) -> Iterable[bytes]:
        """moto's answer, passed through; the call recorded with moto's status."""
        captured: dict[str, int] = {}

        def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = self.inner(environ, _start_response)
        call["status"] = captured.get("status", 0)
        self._record(call)
        return result

    def _record(self, call: dict[str, Any]) -> None:
        self.recorder.add(call)
        if "from_collection" in call:
            self.ownership.check(call)

    @staticmethod
    def _respond(start_response: StartResponse, status: int, body: bytes, content_type: str) -> list[bytes]:
        reason = {
            200: "OK",
            400: "Bad Request",
            404: "Not Found",
            405: "Method Not Allowed",
            412: "Precondition Failed",
            500: "Internal Server Error",
        }.get(status, "Unknown")
        start_response(f"{status} {reason}", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def _harness_endpoint(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "").rstrip("/")
        routes: dict[tuple[str, str], Callable[[], Any]] = {
            ("GET", "/_harness/calls"): lambda: self.recorder.snapshot(_flag(environ, "detail")),
            ("POST", "/_harness/calls/reset"): lambda: (self.recorder.reset(), {"reset": True})[1],
            ("GET", "/_harness/classiclink"): self.classiclink.all_links,
            ("GET", "/_harness/autoscaling/lifecycle-actions"): self.autoscaling.actions,
            ("GET", "/_harness/ownership"): self.ownership.state,
            ("POST", "/_harness/ownership/reset"): lambda: self.ownership.reset(_since(environ)),
        }
        handler = routes.get((method, path))
        if handler is None:
            known = any(p == path for _method, p in routes)
            status = 405 if known else 404
            body = json.dumps({"error": f"{method} {path} is not a harness endpoint"}).encode()
            return self._respond(start_response, status, body, "application/json")
        return self._respond(start_response, 200, json.dumps(handler()).encode(), "application/json")


CLASSIC_AMI_ID = "ami-12c6146b"  # in moto's built-in AMI catalogue for every region


def launch_classic_instances(ec2: Any, count: int = 1, tags: dict[str, str] | None = None) -> list[str]:
    """Launch EC2-Classic stand-ins: running moto instances in the default VPC (no subnet).

    ``ec2`` is a boto3 EC2 client pointed at the harness.  Returns the instance IDs.
    """
    kwargs: dict[str, Any] = {}
    if tags:
        kwargs["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    reservation = ec2.run_instances(ImageId=CLASSIC_AMI_ID, MinCount=count, MaxCount=count, **kwargs)
    return [i["InstanceId"] for i in reservation["Instances"]]


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"the moto harness only binds to loopback addresses, not {host!r}")


def _http(url: str, method: str = "GET") -> Any:
    data = b"" if method == "POST" else None
    req = urllib.request.Request(url, data=data, method=method)
    with _NO_PROXY_OPENER.open(req, timeout=30) as resp:
        raw = resp.read()
    return json.loads(raw) if raw.strip().startswith((b"[", b"{")) else raw


class MotoHarness:
    """Handle on a running harness server (in-process via start_server, or remote)."""

    def __init__(
        self,
        url: str,
        server: BaseWSGIServer | None = None,
        thread: threading.Thread | None = None,
        app: HarnessApp | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.port = int(self.url.rsplit(":", 1)[1])
        self.app = app
        self._server, self._thread = server, thread

    @classmethod
    def connect(cls, url: str) -> MotoHarness:
        """Attach to a harness started elsewhere (e.g. with the CLI)."""
        return cls(url)

    def calls(self, detail: bool = False) -> list[dict[str, Any]]:
        """Recorded AWS calls: dicts with service, region, action, mutating, status; with
        ``detail``, EC2 mutating calls also have targets, tag_keys, user_agent, from_collection,
        unowned_groups."""
        return list(_http(f"{self.url}/_harness/calls" + ("?detail=1" if detail else "")))

    def mutating_calls(self) -> list[dict[str, Any]]:
        return [c for c in self.calls() if c["mutating"]]

    def reset_calls(self) -> None:
        _http(f"{self.url}/_harness/calls/reset", "POST")

    def classiclink_links(self) -> list[dict[str, Any]]:
        return list(_http(f"{self.url}/_harness/classiclink"))

    def lifecycle_actions(self) -> list[dict[str, Any]]:
        """Auto Scaling lifecycle actions, pending and completed: see tests.support.autoscaling_emulation."""
        return list(_http(f"{self.url}/_harness/autoscaling/lifecycle-actions"))

    def ownership(self) -> dict[str, Any]:
        """``{"violations": [...], "next_seq": N}``: see :class:`OwnershipCheck`."""
        return dict(_http(f"{self.url}/_harness/ownership"))

    def ownership_violations(self, since: int = 0) -> list[dict[str, Any]]:
        """Violations of the ownership invariant with sequence number >= ``since``."""
        return [v for v in self.ownership()["violations"] if v["seq"] >= since]

    def reset_ownership(self, since: int = 0) -> None:
        """Forget the violations numbered ``since`` or later (all by default)."""
        _http(f"{self.url}/_harness/ownership/reset?since={int(since)}", "POST")

    def reset(self) -> None:
        """Fresh account: moto reset (also clears ClassicLink state), then the call log."""
        _http(f"{self.url}/moto-api/reset", "POST")
        self.reset_calls()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> MotoHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(port: int = 0, host: str = "127.0.0.1") -> MotoHarness:
    """Serve the harness on loopback in a daemon thread; port 0 picks a free port."""
    from moto.server import MotoRequestHandler

    _check_loopback(host)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request log lines
    app = HarnessApp()
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name=f"moto-harness-{server.port}", daemon=True)
    thread.start()
    url_host = f"[{host}]" if ":" in host else host
    return MotoHarness(f"http://{url_host}:{server.port}", server, thread, app)


def run_cli(argv: list[str] | None, prog: str, description: str, name: str,
            start: Callable[[int, str], MotoHarness] = start_server, default_port: int = 5000) -> int:
    """The command line of a harness server: parse, check loopback, serve until signalled."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--port", type=int, default=default_port, help="port to bind; 0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port-file", type=Path, help="write the chosen port to this file")
    args = parser.parse_args(argv)
    try:
        _check_loopback(args.host)
    except ValueError as err:
        parser.error(str(err))
    harness = start(args.port, args.host)
    return serve_until_signalled(harness, f"{name} listening on {harness.url}", args.port_file)


def main(argv: list[str] | None = None) -> int:
    return run_cli(argv, "python -m tests.support.moto_harness",
                   "moto server with call recording and ClassicLink emulation (loopback only)", "moto harness")


if __name__ == "__main__":
    sys.exit(main())
