"""A loopback reverse proxy in front of the moto harness that injects faults, latency and consistency lag.

Clients point ``AWS_ENDPOINT_URL`` at the proxy; every request is forwarded to
the upstream (the harness URL) unchanged.  For AWS calls (not ``/_harness/*``,
``/moto-api/*`` or the proxy's own ``/_proxy/*``) the proxy can

* add a fixed latency (``latency_ms``) before each call, and
* answer a share of them (``fault_rate``) with a fault of one of these kinds,
  picked from a seeded random generator (``seed``) among ``kinds``:

  ``throttle``     HTTP 503, EC2 ``RequestLimitExceeded`` XML error; not forwarded
  ``unavailable``  plain HTTP 503 with an empty body (as a load balancer answers); not forwarded
  ``drop_before``  connection closed without an answer; not forwarded (request lost)
  ``drop_after``   forwarded and executed upstream, then the connection is closed
                   without an answer (answer lost): the nasty case for
                   non-idempotent calls such as CreateSecurityGroup

Scripted error answers (``errors``, default none)
-------------------------------------------------
moto accepts every ``sts:AssumeRole`` (any account, any role name) and
serves every region, so "this role cannot be assumed" and "this region is
disabled" cannot happen against it.  ``errors`` maps a match to the error the
proxy answers itself, without forwarding (moto never sees the call)::

    start_proxy(url, errors={
        "AssumeRole~333344445555": (403, "AccessDenied", "not authorized to perform: sts:AssumeRole"),
        "DescribeVpcs@eu-west-2": (401, "OptInRequired", "You are not subscribed to this service."),
    })

A key is ``ACTION`` (every call of that AWS action), optionally followed by
``@REGION`` (only calls signed for that region: the SigV4 credential scope of
the ``Authorization`` header) and/or ``~TEXT`` (only calls with a request
parameter value containing TEXT, e.g. the account in ``RoleArn``), in that
order: ``AssumeRole@us-east-1~333344445555``.  The first matching key in the
mapping's order answers.  The answer is the query-protocol XML error
(``<Response><Errors><Error><Code>``), which botocore parses for EC2 and for
STS alike, with the given HTTP status.  Errors come before faults, latency
and the lag; an answered call counts in ``requests`` and ``by_action``, not
in ``forwarded``, and per key in ``errors_answered``.  These are what real
AWS answers in those cases: ``AccessDenied`` (HTTP 403) from STS for a role
whose trust policy does not name the caller or that does not exist, and
``AuthFailure`` / ``OptInRequired`` (HTTP 401 / 403) from EC2 in a region the
account has not enabled.

The decisions come from one ``random.Random(seed)`` in arrival order, so a run
with the same seed and the same call sequence gets the same faults (with
concurrent clients, the arrival order itself may vary).  Two optional limits
make single faults deterministic: ``actions`` (only calls of these actions can
be faulted) and ``max_faults`` (no fault after that many), e.g. "lose the
answer of the first CreateSecurityGroup"::

    start_proxy(url, fault_rate=1.0, kinds=("drop_after",), actions={"CreateSecurityGroup"}, max_faults=1)

Consistency lag (``lag_seconds``, default 0 = off; 1.5 is a realistic value)
-------------------------------------------------------------------------------
EC2 is eventually consistent: for a moment after CreateSecurityGroup answers,
other calls do not know the new group yet, and a tag write may not show in
describes yet.  moto is instantly consistent, so the proxy plays that moment:

* It reads the new id from every successful answer it passes on of a create
  in ``LAGGED_CREATES`` (CreateSecurityGroup -> ``groupId``,
  CreateManagedPrefixList -> ``prefixListId``) and remembers when it saw it.
* For ``lag_seconds`` after that, a call in which any request parameter VALUE
  equals that id (GroupId, GroupId.N, SecurityGroupId.N, ResourceId.N,
  IpPermissions.N.Groups.M.GroupId, Filter.N.Value.M...: the parameter names
  do not matter) is answered by the proxy itself with HTTP 400 and the EC2
  XML error ``InvalidGroup.NotFound`` (``InvalidPrefixListID.NotFound`` for a
  prefix list) and never reaches moto.  Not counted as a mention: tag values
  (``Tag.N.Value``, ``Tags.N.Value``, ``...Tag.M.Value``; e.g. a CreateTags on
  another group writing the new id as a tag value is forwarded), and filter
  values (``Filter.N.Value.M``) of DescribeSecurityGroups and
  DescribeManagedPrefixLists, the "filtered describes": those are forwarded
  and the lagging resources are cut out of their answers (``<item>``s of
  ``securityGroupInfo`` / ``prefixListSet``); the rest of the XML, a
  ``nextToken`` included, is left byte-identical.  An explicit id
  (``GroupId.N`` of DescribeSecurityGroups) is a NotFound, as in EC2.
* Tags: the proxy keeps the tags of every group as last seen in a
  DescribeSecurityGroups answer (moto's answer, before any rewrite).  Before
  it forwards a CreateTags/DeleteTags, it notes the old values of the written
  keys of the named resources; for ``lag_seconds`` after the write is
  answered, DescribeSecurityGroups answers show those old values (a key that
  did not exist is left out, a deleted key shown with its old value).  A
  second write within the lag keeps the value from before the first one.

Limits: the proxy learns only from answers it passes on (a create or tag
write whose answer is lost by ``drop_after``, or that another client sent
straight to moto, does not lag); the tags of a group it never saw in a
DescribeSecurityGroups answer (while the lag was on) are not made stale;
only DescribeSecurityGroups shows stale tags (DescribeTags and the tagSet of
other answers do not); other describes that mention a new id in a filter are
answered NotFound, where EC2 would answer an empty list; a new id that only
appears inside another value (an ARN, a description) is not recognised; and
references to a lagging group in other groups' rules are shown as they are.
Faults come first: ``decide`` picks the fault as without the lag, and the lag
applies to the calls that are forwarded (unfaulted and ``drop_after``; a
``drop_after`` call naming a lagging id is dropped without reaching moto, as
its NotFound answer would have been lost).  ``stats()`` counts ``lag_hidden``
(calls answered NotFound) and ``lag_rewritten`` (describe answers rewritten);
a hidden call is not counted in ``forwarded``.  Entries expire after
``lag_seconds`` (``time.monotonic``); changing ``lag_seconds`` applies to the
ids already remembered too.

From Python::

    proxy = start_proxy(harness.url, fault_rate=0.3, latency_ms=0, seed=1)
    ... AWS_ENDPOINT_URL=proxy.url ...
    proxy.stats()   # {"requests": .., "forwarded": .., "faults": {kind: n}, "by_action": {..}}
    proxy.configure(lag_seconds=1.5)
    proxy.stop()

From the command line (repository root)::

    .venv/bin/python -m tests.support.aws_proxy --upstream http://127.0.0.1:5000 --port 0 \\
        --fault-rate 0.3 --latency-ms 50 [--seed 0] [--kinds throttle,drop_after] \\
        [--actions CreateSecurityGroup,...] [--max-faults N] [--lag-seconds 1.5] [--port-file F] \\
        [--error 'AssumeRole~333344445555=403:AccessDenied:not authorized' ...]

It prints ``aws proxy listening on http://127.0.0.1:PORT -> UPSTREAM`` once
ready and serves until SIGTERM/SIGINT; ``GET /_proxy/stats`` returns the
statistics as JSON, ``POST /_proxy/stats/reset`` clears them.  Only loopback
addresses are accepted, for the proxy and for the upstream.
"""

from __future__ import annotations

import argparse
import html
import http.client
import ipaddress
import json
import random
import re
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape as xml_escape

from tests.support.serving import serve_until_signalled

THROTTLE, UNAVAILABLE, DROP_BEFORE, DROP_AFTER = "throttle", "unavailable", "drop_before", "drop_after"
ALL_KINDS = (THROTTLE, UNAVAILABLE, DROP_BEFORE, DROP_AFTER)
NO_FAULT_PREFIXES = ("/_harness/", "/moto-api")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
_UPSTREAM_TIMEOUT = 120.0


def ec2_error_body(code: str, message: str, request_id: str | None = None) -> bytes:
    """An EC2 (query protocol) XML error, as botocore parses it."""
    return (
        f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{xml_escape(code)}</Code>"
        f"<Message>{xml_escape(message)}</Message></Error></Errors>"
        f"<RequestID>{request_id or uuid.uuid4()}</RequestID></Response>"
    ).encode()


def throttle_body(request_id: str | None = None) -> bytes:
    """The EC2 XML error botocore parses as ``RequestLimitExceeded``."""
    return ec2_error_body("RequestLimitExceeded", "Request limit exceeded.", request_id)


def _check_loopback(host: str, what: str) -> None:
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"the aws proxy only uses loopback addresses; {what} {host!r} is not one")


def _query_params(query: str, body: bytes, headers: Any) -> list[tuple[str, str]]:
    """Query-protocol parameters, in order: the query string's, then a form-encoded body's."""
    params = parse_qsl(query, keep_blank_values=True)
    if body and "x-www-form-urlencoded" in (headers.get("Content-Type") or ""):
        params += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return params


_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/")


def _region(headers: Any) -> str | None:
    """The region a request is signed for (its SigV4 credential scope), or None."""
    match = _CREDENTIAL_SCOPE.search(headers.get("Authorization") or "")
    return match.group(1) if match else None


_ERROR_KEY = re.compile(r"^([A-Za-z0-9]+)(?:@([a-z0-9-]+))?(?:~(.+))?$")


def parse_errors(errors: Any) -> tuple[tuple[str, str, str | None, str | None, tuple[int, str, str]], ...]:
    """``errors`` (key -> (status, code, message)) -> matchers (key, action, region, text, answer); ValueError if bad."""
    parsed = []
    for key, answer in dict(errors or {}).items():
        match = _ERROR_KEY.match(key)
        if not match:
            raise ValueError(f"errors: {key!r} is not ACTION[@REGION][~TEXT]")
        try:
            status, code, message = answer
            status = int(status)
        except (TypeError, ValueError):
            raise ValueError(f"errors: the answer of {key!r} must be (status, code, message), not {answer!r}") from None
        if not 400 <= status <= 599:
            raise ValueError(f"errors: the status of {key!r} must be 4xx or 5xx, not {status}")
        parsed.append((key, match.group(1), match.group(2), match.group(3), (status, str(code), str(message))))
    return tuple(parsed)


def _action(path: str, params: list[tuple[str, str]], headers: Any) -> str:
    """The AWS action of a request, for statistics (query protocol, JSON target, else method+path)."""
    action = next((value for name, value in params if name == "Action"), None)
    if action is not None:
        return action
    target = headers.get("X-Amz-Target")
    return target.rsplit(".", 1)[-1] if target else path


# ----------------------------------------------------------------------
# Consistency lag


# create action -> (XML element of the new id in its answer, NotFound code, message of that error)
LAGGED_CREATES: dict[str, tuple[str, str, str]] = {
    "CreateSecurityGroup": ("groupId", "InvalidGroup.NotFound", "The security group '{}' does not exist"),
    "CreateManagedPrefixList": ("prefixListId", "InvalidPrefixListID.NotFound", "The prefix list ID '{}' does not exist"),
}
# describe action -> (list element of its answer, id element of each of its items): lagging ids are left out
FILTERED_DESCRIBES: dict[str, tuple[str, str]] = {
    "DescribeSecurityGroups": ("securityGroupInfo", "groupId"),
    "DescribeManagedPrefixLists": ("prefixListSet", "prefixListId"),
}
TAG_WRITES = ("CreateTags", "DeleteTags")
TAGGED_DESCRIBE = "DescribeSecurityGroups"  # the describe whose tags the proxy caches and shows stale
_TAG_VALUE_PARAM = re.compile(r"(?:^|\.)Tags?\.\d+\.Value$")  # Tag.N.Value, Tags.N.Value, TagSpecification.N.Tag.M.Value
_FILTER_VALUE_PARAM = re.compile(r"^Filter\.\d+\.Value\.\d+$")
_RESOURCE_PARAM = re.compile(r"^ResourceId\.\d+$")
_TAG_PARAM = re.compile(r"^Tag\.(\d+)\.(Key|Value)$")
_XML_TAG = re.compile(r"<(/?)([A-Za-z_][\w:.\-]*)(?:\s(?:[^>\"']|\"[^\"]*\"|'[^']*')*?)?(/?)>")


class _Element:
    """An element of an XML text by character offsets: ``text[start:end]`` is the whole
    element, ``text[inner_start:inner_end]`` its content (empty for ``<x/>``)."""

    __slots__ = ("name", "start", "end", "inner_start", "inner_end", "children")

    def __init__(self, name: str, start: int, end: int) -> None:
        self.name = name
        self.start, self.end = start, end
        self.inner_start = self.inner_end = end
        self.children: list[_Element] = []

    def child(self, name: str) -> _Element | None:
        return next((c for c in self.children if c.name == name), None)

    def text(self, xml: str, name: str) -> str | None:
        """The unescaped text of the direct child ``name`` (None if there is none)."""
        found = self.child(name)
        return None if found is None else html.unescape(xml[found.inner_start:found.inner_end])

    def find(self, name: str) -> _Element | None:
        """The first element ``name`` at any depth (document order)."""
        for c in self.children:
            if c.name == name:
                return c
            deeper = c.find(name)
            if deeper is not None:
                return deeper
        return None


def _scan_xml(xml: str) -> _Element:
    """Element offsets of an XML answer (names without namespace prefix); ValueError if unbalanced.

    Enough for the query protocol's answers (no comments, CDATA or DTD); keeps offsets so a
    rewrite can splice the original text and leave the rest byte-identical."""
    top = _Element("", 0, len(xml))
    top.inner_start, top.inner_end = 0, len(xml)
    stack = [top]
    for match in _XML_TAG.finditer(xml):
        closing, name, empty = match.group(1), match.group(2).rsplit(":", 1)[-1], match.group(3)
        if closing:
            element = stack.pop()
            if element.name != name or not stack:
                raise ValueError(f"unbalanced XML at {match.start()}: </{name}>")
            element.inner_end, element.end = match.start(), match.end()
        else:
            element = _Element(name, match.start(), match.end())
            stack[-1].children.append(element)
            if not empty:
                stack.append(element)
    if len(stack) != 1:
        raise ValueError("unbalanced XML: unclosed elements")
    return top


def _item_tags(xml: str, item: _Element) -> tuple[_Element | None, list[tuple[str, str, _Element]]]:
    """The ``tagSet`` of an answer item and its (key, value, item element) entries."""
    tag_set = item.child("tagSet")
    entries = []
    for entry in tag_set.children if tag_set is not None else ():
        key = entry.text(xml, "key")
        if entry.name == "item" and key is not None:
            entries.append((key, entry.text(xml, "value") or "", entry))
    return tag_set, entries


def _tag_item(key: str, value: str) -> str:
    return f"<item><key>{xml_escape(key)}</key><value>{xml_escape(value)}</value></item>"


class ConsistencyLag:
    """The state of the consistency-lag emulation; thread-safe (own lock), ``clock`` is
    ``time.monotonic`` unless a test passes another.  ``lag_seconds=0`` turns it off."""

    def __init__(self, lag_seconds: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.lag_seconds = float(lag_seconds)
        self._created: dict[str, tuple[float, str, str]] = {}  # new id -> (answered at, NotFound code, message)
        self._seen_tags: dict[str, dict[str, str]] = {}  # group id -> tags in the last DescribeSecurityGroups answer
        self._tag_writes: dict[str, dict[str, tuple[float, str | None]]] = {}  # id -> key -> (answered at, old value)

    @property
    def enabled(self) -> bool:
        return self.lag_seconds > 0

    def _purge(self, now: float) -> None:
        """Forget what is older than the lag (caller holds the lock)."""
        horizon = now - self.lag_seconds
        self._created = {k: v for k, v in self._created.items() if v[0] > horizon}
        for resource in list(self._tag_writes):
            keys = {k: v for k, v in self._tag_writes[resource].items() if v[0] > horizon}
            if keys:
                self._tag_writes[resource] = keys
            else:
                del self._tag_writes[resource]

    def hidden(self, action: str, params: list[tuple[str, str]]) -> tuple[str, str, str] | None:
        """``(id, code, message)`` if the call names an id that is still lagging, else None."""
        if not self.enabled:
            return None
        filtered = action in FILTERED_DESCRIBES
        with self._lock:
            self._purge(self._clock())
            if not self._created:
                return None
            for name, value in params:
                entry = self._created.get(value)
                if entry is None or _TAG_VALUE_PARAM.search(name) or (filtered and _FILTER_VALUE_PARAM.match(name)):
                    continue
                return value, entry[1], entry[2].format(value)
        return None

    def before_forward(self, action: str, params: list[tuple[str, str]]) -> Any:
        """For CreateTags/DeleteTags: the old values of the written keys, taken before the write
        (None when there is nothing to remember); pass it to :meth:`answered`."""
        if not self.enabled or action not in TAG_WRITES:
            return None
        resources = [v for k, v in params if _RESOURCE_PARAM.match(k)]
        pairs: dict[int, dict[str, str]] = {}
        for name, value in params:
            if m := _TAG_PARAM.match(name):
                pairs.setdefault(int(m.group(1)), {})[m.group(2)] = value
        tags = [(p["Key"], p.get("Value")) for _n, p in sorted(pairs.items()) if "Key" in p]
        olds: dict[str, dict[str, str | None]] = {}
        with self._lock:
            self._purge(self._clock())
            for resource in resources:
                seen, pending = self._seen_tags.get(resource), self._tag_writes.get(resource, {})
                if tags:
                    keys = [key for key, _value in tags]
                else:  # DeleteTags without Tag.N: every tag of the resource
                    keys = sorted(set(seen or ()) | set(pending))
                for key in keys:
                    if key in pending:  # still lagging: keep the value from before the first pending write
                        olds.setdefault(resource, {})[key] = pending[key][1]
                    elif seen is not None:
                        olds.setdefault(resource, {})[key] = seen.get(key)  # None: the key did not exist
        return action, resources, tags, olds

    def answered(self, action: str, token: Any, status: int, data: bytes) -> bytes:
        """Learn from a successful answer the client is about to get; rewrite it if it is a
        describe that would show lagging state.  Returns the (possibly rewritten) answer."""
        if not self.enabled or not 200 <= status < 300:
            return data
        if action in LAGGED_CREATES:
            self._learn_created(action, data)
        elif action in TAG_WRITES and token is not None:
            self._learn_tag_write(token)
        elif action in FILTERED_DESCRIBES:
            return self._rewrite_describe(action, data)
        return data

    def _learn_created(self, action: str, data: bytes) -> None:
        element, code, message = LAGGED_CREATES[action]
        try:
            xml = data.decode("utf-8")
            found = _scan_xml(xml).find(element)
        except ValueError:  # UnicodeDecodeError included
            return
        if found is not None and (new_id := html.unescape(xml[found.inner_start:found.inner_end]).strip()):
            with self._lock:
                self._created[new_id] = (self._clock(), code, message)

    def _learn_tag_write(self, token: Any) -> None:
        action, resources, tags, olds = token
        with self._lock:
            now = self._clock()
            for resource, keys in olds.items():
                pending = self._tag_writes.setdefault(resource, {})
                for key, old in keys.items():
                    pending[key] = (now, old)
            for resource in resources:  # the cache follows the write (the next describe refreshes it anyway)
                seen = self._seen_tags.get(resource)
                if seen is None:
                    continue
                if action == "CreateTags":
                    seen.update({key: value or "" for key, value in tags})
                elif not tags:
                    seen.clear()
                else:
                    for key, value in tags:
                        if value is None or seen.get(key) == value:
                            seen.pop(key, None)

    def _rewrite_describe(self, action: str, data: bytes) -> bytes:
        list_name, id_name = FILTERED_DESCRIBES[action]
        try:
            xml = data.decode("utf-8")
            top = _scan_xml(xml)
        except ValueError:  # UnicodeDecodeError included: leave what we cannot read alone
            return data
        response = top.children[0] if top.children else None
        listing = response.child(list_name) if response is not None else None
        if listing is None:
            return data
        items = [(item, item.text(xml, id_name)) for item in listing.children if item.name == "item"]
        edits: list[tuple[int, int, str]] = []
        with self._lock:
            self._purge(self._clock())
            for item, item_id in items:
                if item_id is None:
                    continue
                if action == TAGGED_DESCRIBE:
                    tag_set, entries = _item_tags(xml, item)
                    self._seen_tags[item_id] = {key: value for key, value, _e in entries}
                if item_id in self._created:
                    start = item.start
                    while start > listing.inner_start and xml[start - 1].isspace():
                        start -= 1  # with the indentation before it
                    edits.append((start, item.end, ""))
                elif action == TAGGED_DESCRIBE and item_id in self._tag_writes:
                    edit = self._stale_tags(xml, item, tag_set, entries, self._tag_writes[item_id])
                    if edit is not None:
                        edits.append(edit)
        if not edits:
            return data
        for start, end, replacement in sorted(edits, reverse=True):
            xml = xml[:start] + replacement + xml[end:]
        return xml.encode("utf-8")

    @staticmethod
    def _stale_tags(xml: str, item: _Element, tag_set: _Element | None, entries: list[tuple[str, str, _Element]],
                    pending: dict[str, tuple[float, str | None]]) -> tuple[int, int, str] | None:
        """The edit that shows the old values of the keys written within the lag."""
        olds = {key: old for key, (_at, old) in pending.items()}
        shown, changed = [], False
        for key, value, entry in entries:
            if key not in olds:
                shown.append(xml[entry.start:entry.end])
            elif olds[key] is None:
                changed = True  # a key added within the lag: not there yet
            else:
                changed |= olds[key] != value
                shown.append(xml[entry.start:entry.end] if olds[key] == value else _tag_item(key, olds[key]))
        present = {key for key, _value, _entry in entries}
        for key, old in olds.items():
            if old is not None and key not in present:  # a key deleted within the lag: still there
                shown.append(_tag_item(key, old))
                changed = True
        if not changed:
            return None
        rebuilt = f"<tagSet>{''.join(shown)}</tagSet>" if shown else "<tagSet/>"
        if tag_set is None:
            return item.inner_end, item.inner_end, rebuilt
        return tag_set.start, tag_set.end, rebuilt


class FaultPlan:
    """Thread-safe, seeded fault decisions and statistics."""

    def __init__(self, fault_rate: float, latency_ms: float, seed: int, kinds: Iterable[str],
                 actions: Iterable[str] | None = None, max_faults: int | None = None,
                 lag_seconds: float = 0.0, errors: Any = None) -> None:
        self._lock = threading.Lock()
        self.actions: frozenset[str] | None = None
        self.max_faults: int | None = None
        self.errors: tuple = ()
        self.lag = ConsistencyLag()
        self.configure(fault_rate=fault_rate, latency_ms=latency_ms, seed=seed, kinds=kinds,
                       actions=actions, max_faults=max_faults, lag_seconds=lag_seconds, errors=errors)
        self.reset_stats()

    _UNSET: Any = object()

    def configure(self, fault_rate: float | None = None, latency_ms: float | None = None,
                  seed: int | None = None, kinds: Iterable[str] | None = None,
                  actions: Any = _UNSET, max_faults: Any = _UNSET, lag_seconds: float | None = None,
                  errors: Any = _UNSET) -> None:
        """Change settings; ``actions``/``max_faults`` accept None (= no limit); ``lag_seconds=0``
        turns the consistency lag off (a new value also applies to the ids already remembered);
        ``errors`` replaces the scripted error answers (None or {}: none)."""
        parsed_errors = parse_errors(errors) if errors is not self._UNSET else None
        with self._lock:
            if parsed_errors is not None:
                self.errors = parsed_errors
            if lag_seconds is not None:
                if lag_seconds < 0:
                    raise ValueError(f"lag_seconds must be >= 0, not {lag_seconds}")
                self.lag.lag_seconds = float(lag_seconds)
            if actions is not self._UNSET:
                self.actions = frozenset(actions) if actions is not None else None
            if max_faults is not self._UNSET:
                self.max_faults = None if max_faults is None else int(max_faults)
            if fault_rate is not None:
                if not 0.0 <= fault_rate <= 1.0:
                    raise ValueError(f"fault_rate must be within [0, 1], not {fault_rate}")
                self.fault_rate = float(fault_rate)
            if latency_ms is not None:
                if latency_ms < 0:
                    raise ValueError(f"latency_ms must be >= 0, not {latency_ms}")
                self.latency_ms = float(latency_ms)
            if seed is not None:
                self._random = random.Random(seed)
            if kinds is not None:
                kinds = tuple(kinds)
                unknown = sorted(set(kinds) - set(ALL_KINDS))
                if unknown or not kinds:
                    raise ValueError(f"kinds must be a non-empty subset of {ALL_KINDS}, not {kinds}")
                self.kinds = kinds

    def error_for(self, action: str, region: str | None, params: list[tuple[str, str]]) -> tuple[int, str, str] | None:
        """The scripted error answer of this call (``errors``), counted; None when no key matches."""
        with self._lock:
            for key, wanted, in_region, text, answer in self.errors:
                if wanted != action or (in_region is not None and in_region != region):
                    continue
                if text is not None and not any(text in value for _name, value in params):
                    continue
                self._requests += 1
                self._by_action[action] += 1
                self._errors_answered[key] += 1
                return answer
        return None

    def decide(self, action: str) -> str | None:
        """The fault for the next AWS call (None: forward it normally); counts it."""
        with self._lock:
            kind = None
            eligible = (self.actions is None or action in self.actions) and (
                self.max_faults is None or sum(self._faults.values()) < self.max_faults)
            if eligible and self.fault_rate > 0 and self._random.random() < self.fault_rate:
                kind = self._random.choice(self.kinds)
            self._requests += 1
            self._by_action[action] += 1
            if kind:
                self._faults[kind] += 1
                self._faults_by_action[f"{action}:{kind}"] += 1
            if kind in (None, DROP_AFTER):
                self._forwarded += 1
            return kind

    def count_passthrough(self) -> None:
        with self._lock:
            self._passthrough += 1

    def count_upstream_error(self) -> None:
        with self._lock:
            self._upstream_errors += 1

    def count_lag_hidden(self) -> None:
        """A call counted as forwarded by :meth:`decide` was answered NotFound by the lag instead."""
        with self._lock:
            self._lag_hidden += 1
            self._forwarded -= 1

    def count_lag_rewritten(self) -> None:
        with self._lock:
            self._lag_rewritten += 1

    def reset_stats(self) -> None:
        with self._lock:
            self._requests = self._forwarded = self._passthrough = self._upstream_errors = 0
            self._lag_hidden = self._lag_rewritten = 0
            self._errors_answered: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._by_action: Counter[str] = Counter()
            self._faults_by_action: Counter[str] = Counter()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._requests,  # AWS calls received (faulted or not)
                "forwarded": self._forwarded,  # AWS calls that reached the upstream (incl. drop_after)
                "faults": {kind: self._faults.get(kind, 0) for kind in ALL_KINDS},
                "faults_total": sum(self._faults.values()),
                "by_action": dict(self._by_action),
                "faults_by_action": dict(self._faults_by_action),
                "passthrough": self._passthrough,  # harness / moto-api calls, never faulted
                "upstream_errors": self._upstream_errors,
                "fault_rate": self.fault_rate,
                "latency_ms": self.latency_ms,
                "kinds": list(self.kinds),
                "actions": sorted(self.actions) if self.actions is not None else None,
                "max_faults": self.max_faults,
                "lag_seconds": self.lag.lag_seconds,
                "lag_hidden": self._lag_hidden,  # AWS calls answered NotFound by the lag (not forwarded)
                "lag_rewritten": self._lag_rewritten,  # describe answers rewritten by the lag
                "errors": [key for key, *_rest in self.errors],  # the scripted error keys, in match order
                "errors_answered": dict(self._errors_answered),  # key -> calls it answered (not forwarded)
            }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # no per-request log lines

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET  # noqa: N815

    # ------------------------------------------------------------------
    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        body = self._body()
        split = urlsplit(self.path)
        plan = self.server.plan
        if split.path.startswith("/_proxy/"):
            self._proxy_endpoint(split.path.rstrip("/"))
            return
        if split.path.startswith(NO_FAULT_PREFIXES):
            plan.count_passthrough()
            self._forward_and_answer(body)
            return
        params = _query_params(split.query, body, self.headers)
        action = _action(split.path, params, self.headers)
        error = plan.error_for(action, _region(self.headers), params) if plan.errors else None
        if error is not None:  # a scripted error (role not assumable, region disabled): never reaches moto
            status, code, message = error
            self._answer(status, ec2_error_body(code, message), "text/xml;charset=UTF-8")
            return
        kind = plan.decide(action)
        if plan.latency_ms:
            time.sleep(plan.latency_ms / 1000.0)
        hidden = plan.lag.hidden(action, params) if kind in (None, DROP_AFTER) else None
        if hidden is not None:  # EC2 does not know the new id yet: the call fails there, never reaches moto
            plan.count_lag_hidden()
            _new_id, code, message = hidden
            if kind == DROP_AFTER:
                self._drop()  # ...and that NotFound answer is lost
            else:
                self._answer(400, ec2_error_body(code, message), "text/xml;charset=UTF-8")
        elif kind == THROTTLE:
            self._answer(503, throttle_body(), "text/xml;charset=UTF-8")
        elif kind == UNAVAILABLE:
            self._answer(503, b"", "text/plain")  # empty body: botocore's generic 5xx error (code "503")
        elif kind == DROP_BEFORE:
            self._drop()
        elif kind == DROP_AFTER:
            try:
                self._forward(body)  # executed upstream...
            except OSError:
                plan.count_upstream_error()
            self._drop()  # ...and the answer is lost
        else:
            token = plan.lag.before_forward(action, params)
            self._forward_and_answer(body, lambda status, data: self._lag_answer(action, token, status, data))

    def _lag_answer(self, action: str, token: Any, status: int, data: bytes) -> bytes:
        rewritten = self.server.plan.lag.answered(action, token, status, data)
        if rewritten is not data:
            self.server.plan.count_lag_rewritten()
        return rewritten

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        host, port = self.server.upstream
        conn = http.client.HTTPConnection(host, port, timeout=_UPSTREAM_TIMEOUT)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            headers["Connection"] = "close"
            conn.request(self.command, self.path, body=body if body or self.command not in ("GET", "HEAD") else None,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, resp.getheaders(), data
        finally:
            conn.close()

    def _forward_and_answer(self, body: bytes, transform: Callable[[int, bytes], bytes] | None = None) -> None:
        """Forward the request and pass the answer on (``transform(status, data)`` may rewrite its body)."""
        try:
            status, reason, headers, data = self._forward(body)
        except OSError as exc:
            self.server.plan.count_upstream_error()
            self._answer(502, f"aws proxy: upstream failed: {exc!r}".encode(), "text/plain")
            return
        if transform is not None and not any(k.lower() == "content-encoding" for k, _v in headers):
            data = transform(status, data)
        self.send_response(status, reason)
        for key, value in headers:
            if key.lower() not in _HOP_BY_HOP and key.lower() not in ("content-length", "date", "server"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _answer(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        """Close the client's connection without a single byte of answer."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _proxy_endpoint(self, path: str) -> None:
        plan = self.server.plan
        if (self.command, path) == ("GET", "/_proxy/stats"):
            self._answer(200, json.dumps(plan.stats()).encode(), "application/json")
        elif (self.command, path) == ("POST", "/_proxy/stats/reset"):
            plan.reset_stats()
            self._answer(200, b'{"reset": true}', "application/json")
        else:
            self._answer(404, json.dumps({"error": f"{self.command} {path} is not a proxy endpoint"}).encode(),
                         "application/json")


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], upstream: tuple[str, int], plan: FaultPlan) -> None:
        super().__init__(address, _Handler)
        self.upstream = upstream
        self.plan = plan


class Proxy:
    """Handle on a running proxy: ``.url``, ``.stats()``, ``.configure(...)``, ``.stop()``."""

    def __init__(self, server: _ProxyServer, thread: threading.Thread, upstream_url: str) -> None:
        self._server = server
        self._thread = thread
        self.upstream_url = upstream_url
        self.port = server.server_address[1]
        self.url = f"http://{server.server_address[0]}:{self.port}"

    def stats(self) -> dict[str, Any]:
        return self._server.plan.stats()

    def reset_stats(self) -> None:
        self._server.plan.reset_stats()

    def configure(self, **changes: Any) -> None:
        """Change ``fault_rate``, ``latency_ms``, ``seed`` (restarts the sequence), ``kinds``,
        ``actions``, ``max_faults``, ``lag_seconds`` or ``errors`` live (``max_faults`` counts the faults
        since the last stats reset)."""
        self._server.plan.configure(**changes)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None  # type: ignore[assignment]

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_proxy(upstream_url: str, fault_rate: float = 0.0, latency_ms: float = 0, seed: int = 0,
                kinds: Iterable[str] = ALL_KINDS, port: int = 0, host: str = "127.0.0.1",
                actions: Iterable[str] | None = None, max_faults: int | None = None,
                lag_seconds: float = 0.0, errors: Any = None) -> Proxy:
    """Serve the proxy on loopback in daemon threads; ``port=0`` picks a free port.

    ``actions``: only these AWS actions can be faulted (default: all); ``max_faults``:
    stop injecting after that many faults (default: no limit); ``lag_seconds``: the
    consistency lag (default 0: off); ``errors``: scripted error answers (default none)."""
    split = urlsplit(upstream_url)
    if split.scheme != "http" or not split.hostname or not split.port:
        raise ValueError(f"upstream must be http://HOST:PORT, not {upstream_url!r}")
    _check_loopback(split.hostname, "upstream")
    _check_loopback(host, "listen address")
    if ":" in host:
        raise ValueError("the aws proxy listens on IPv4 loopback (127.0.0.1 or localhost)")
    plan = FaultPlan(fault_rate, latency_ms, seed, kinds, actions, max_faults, lag_seconds, errors)
    server = _ProxyServer((host, port), (split.hostname, split.port), plan)
    thread = threading.Thread(target=server.serve_forever, name=f"aws-proxy-{server.server_address[1]}", daemon=True)
    thread.start()
    return Proxy(server, thread, upstream_url.rstrip("/"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.aws_proxy",
                                     description="loopback AWS reverse proxy with fault injection and latency")
    parser.add_argument("--upstream", required=True, help="URL of the moto harness, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of AWS calls answered with a fault")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added latency per AWS call")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault decisions")
    parser.add_argument("--kinds", default=",".join(ALL_KINDS), help=f"comma-separated subset of {','.join(ALL_KINDS)}")
    parser.add_argument("--actions", help="comma-separated AWS actions that may be faulted (default: all)")
    parser.add_argument("--max-faults", type=int, help="stop injecting faults after this many")
    parser.add_argument("--lag-seconds", type=float, default=0.0,
                        help="emulate EC2's eventual consistency for this long after a create or tag write (0: off)")
    parser.add_argument("--port-file", type=Path, help="write the chosen port to this file")
    parser.add_argument("--error", action="append", default=[], metavar="KEY=STATUS:CODE:MESSAGE",
                        help="answer the calls KEY (ACTION[@REGION][~TEXT]) matches with this error (repeatable)")
    args = parser.parse_args(argv)
    errors = {}
    for item in args.error:
        key, _sep, answer = item.partition("=")
        status, _sep, rest = answer.partition(":")
        code, _sep, message = rest.partition(":")
        errors[key] = (status, code, message)
    try:
        proxy = start_proxy(args.upstream, args.fault_rate, args.latency_ms, args.seed,
                            [k.strip() for k in args.kinds.split(",") if k.strip()], args.port, args.host,
                            [a.strip() for a in args.actions.split(",") if a.strip()] if args.actions else None,
                            args.max_faults, args.lag_seconds, errors)
    except ValueError as err:
        parser.error(str(err))
    return serve_until_signalled(proxy, f"aws proxy listening on {proxy.url} -> {proxy.upstream_url}", args.port_file)


if __name__ == "__main__":
    sys.exit(main())
