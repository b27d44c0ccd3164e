"""ClassicLink emulation for the moto test server (test-only code).

moto 5.x implements ``EnableVpcClassicLink`` / ``DisableVpcClassicLink`` /
``DescribeVpcClassicLink`` but not the three instance-level ClassicLink
actions.  This module answers them, in the EC2 query protocol, on top of
moto's own EC2 backend:

* ``AttachClassicLinkVpc``  (``InstanceId``, ``VpcId``, ``SecurityGroupId.N``)
* ``DetachClassicLinkVpc``  (``InstanceId``, ``VpcId``)
* ``DescribeClassicLinkInstances`` (``InstanceId.N``, ``Filter.N.*``,
  ``MaxResults``, ``NextToken``)

Model
-----
* **EC2-Classic instances are ordinary moto instances in moto's default VPC**
  (launch with ``run_instances`` and no subnet).  An instance in any other
  VPC is a "VPC instance" and cannot be linked (``InvalidInstanceID.NotLinkable``).
* The target VPC must exist and have ``classic_link_enabled`` set in moto's
  backend (``EnableVpcClassicLink``).  Note: moto silently refuses to enable
  ClassicLink for VPCs inside ``10.0.0.0/8`` other than ``10.0.0.0/16`` and
  ``10.1.0.0/16`` (it returns ``false``).
* Links are kept per (account, region), at most one per instance, with 1-5
  security groups of the target VPC (group names are captured at link time).
* A link ends when the instance stops being ``running``.  This is checked
  lazily at the start of every emulated call *and* after every mutating EC2
  request the harness forwards to moto (``StopInstances``...), so a link does
  not come back after a stop/start cycle.  A link is also dropped if its VPC is
  deleted or ClassicLink is disabled on it (real EC2 refuses to disable
  ClassicLink while instances are linked; moto does not know about links).
* ``/moto-api/reset`` clears all links (see ``moto_harness``).

Error codes follow the "Error codes for the Amazon EC2 API" reference; where
the reference has no ClassicLink-specific code, the closest documented code is
used and the choice is explained next to the check.  Errors are rendered as EC2
XML (``<Response><Errors><Error>...``) so botocore raises ``ClientError``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
EMULATED_ACTIONS = frozenset({"AttachClassicLinkVpc", "DetachClassicLinkVpc", "DescribeClassicLinkInstances"})
MAX_LINK_GROUPS = 5  # VPC security groups per linked EC2-Classic instance
MIN_PAGE_SIZE, MAX_PAGE_SIZE = 5, 1000  # DescribeClassicLinkInstances MaxResults
DESCRIBE_FILTERS = ("instance-id", "vpc-id", "group-id", "tag-key", "tag-value")

_ID_RE = {prefix: re.compile(rf"^{prefix}-(?:[0-9a-f]{{8}}|[0-9a-f]{{17}})$") for prefix in ("i", "vpc", "sg")}
_MALFORMED_CODE = {
    "i": "InvalidInstanceID.Malformed",
    "vpc": "InvalidVpcID.Malformed",
    "sg": "InvalidGroupId.Malformed",
}

Params = dict[str, str]


class EmulationError(Exception):
    """An EC2 client error, rendered as EC2 error XML."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Link:
    instance_id: str
    vpc_id: str
    groups: tuple[tuple[str, str], ...]  # (group id, group name) pairs


def new_request_id() -> str:
    return str(uuid.uuid4())


def error_xml(code: str, message: str, request_id: str | None = None) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error></Errors>"
        f"<RequestID>{request_id or new_request_id()}</RequestID></Response>"
    )


def _response_xml(action: str, inner: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{action}Response xmlns="{EC2_XMLNS}">'
        f"<requestId>{new_request_id()}</requestId>{inner}</{action}Response>"
    )


def _indexed(params: Params, name: str) -> list[str]:
    """Values of ``Name.1``, ``Name.2``... in index order (empty values dropped)."""
    pattern = re.compile(rf"^{re.escape(name)}\.(\d+)$")
    found = [(int(m.group(1)), v) for k, v in params.items() if (m := pattern.match(k))]
    return [v for _key, v in sorted(found) if v != ""]


def _filters(params: Params) -> dict[str, list[str]]:
    """``Filter.N.Name`` / ``Filter.N.Value.M`` -> {name: [values]} (merged by name)."""
    result: dict[str, list[str]] = {}
    for key, name in params.items():
        if m := re.match(r"^Filter\.(\d+)\.Name$", key):
            result.setdefault(name, []).extend(_indexed(params, f"Filter.{m.group(1)}.Value"))
    return result


def _require(params: Params, name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise EmulationError("MissingParameter", f"The request must contain the parameter {name}")
    return value


def _check_id(value: str, prefix: str) -> None:
    if not _ID_RE[prefix].match(value):
        raise EmulationError(_MALFORMED_CODE[prefix], f'Invalid id: "{value}"')


def _wildcard(pattern: str) -> re.Pattern[str]:
    """EC2 filter value semantics: ``*`` matches any run, ``?`` any one character."""
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$", re.DOTALL)


def _any_match(patterns: Iterable[str], candidates: Iterable[str]) -> bool:
    cands = list(candidates)
    return any(_wildcard(p).match(c) for p in patterns for c in cands)


def _encode_token(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def _decode_token(token: str) -> str:
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        after = None
    if not isinstance(after, str):
        raise EmulationError("InvalidNextToken", "The specified NextToken is not valid.")
    return after


class ClassicLinkEmulator:
    """Thread-safe ClassicLink state plus the three emulated EC2 actions."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._links: dict[tuple[str, str], dict[str, Link]] = {}

    # ----------------------------------------------------------------- state
    def reset(self) -> None:
        with self._lock:
            self._links.clear()

    def all_links(self) -> list[dict[str, Any]]:
        with self._lock:
            for account_id, region in list(self._links):
                self.sweep(account_id, region)
            return [
                {
                    "account": acct,
                    "region": reg,
                    "instance_id": link.instance_id,
                    "vpc_id": link.vpc_id,
                    "group_ids": [g for g, _name in link.groups],
                }
                for (acct, reg), links in sorted(self._links.items())
                for link in sorted(links.values(), key=lambda x: x.instance_id)
            ]

    def sweep(self, account_id: str, region: str) -> None:
        """Drop links whose instance is no longer running (or whose VPC vanished)."""
        with self._lock:
            links = self._links.get((account_id, region))
            if not links:
                return
            backend = self._backend(account_id, region)
            # One pass over the reservations: moto's get_instance_by_id walks (and copies) every
            # reservation for each link, O(links x instances) per mutating call.
            instances = {instance.id: instance for reservation in list(backend.reservations.values())
                         for instance in reservation.instances}
            for instance_id, link in list(links.items()):
                instance = instances.get(instance_id)
                vpc = backend.vpcs.get(link.vpc_id)
                if (
                    instance is None
                    or instance.state != "running"
                    or vpc is None
                    or not getattr(vpc, "classic_link_enabled", False)
                ):
                    del links[instance_id]

    @staticmethod
    def _backend(account_id: str, region: str) -> Any:
        from moto.ec2.models import ec2_backends

        return ec2_backends[account_id][region]

    # -------------------------------------------------------------- dispatch
    def handle(self, action: str, params: Params, account_id: str, region: str) -> tuple[int, str]:
        """Run one emulated action; returns (HTTP status, XML body)."""
        handler = {
            "AttachClassicLinkVpc": self._attach,
            "DetachClassicLinkVpc": self._detach,
            "DescribeClassicLinkInstances": self._describe,
        }[action]
        try:
            with self._lock:
                self.sweep(account_id, region)
                inner = handler(params, account_id, region)
            return 200, _response_xml(action, inner)
        except EmulationError as err:
            return err.status, error_xml(err.code, err.message)

    @staticmethod
    def _dry_run(params: Params) -> None:
        if params.get("DryRun", "").lower() == "true":
            # Real EC2 answers a successful dry run with HTTP 412.
            raise EmulationError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)

    def _attach(self, params: Params, account_id: str, region: str) -> str:
        instance_id = _require(params, "InstanceId")
        vpc_id = _require(params, "VpcId")
        group_ids = _indexed(params, "SecurityGroupId")
        if not group_ids:  # SecurityGroupId.N is required (at least one group)
            raise EmulationError("MissingParameter", "The request must contain the parameter SecurityGroupId")
        _check_id(instance_id, "i")
        _check_id(vpc_id, "vpc")
        for group_id in group_ids:
            _check_id(group_id, "sg")
        if len(set(group_ids)) > MAX_LINK_GROUPS:
            # Documented code for "limit on the number of security groups that
            # you can assign to an instance" (ClassicLink allows 5 VPC groups).
            raise EmulationError(
                "SecurityGroupsPerInstanceLimitExceeded",
                f"You can link an instance with at most {MAX_LINK_GROUPS} security groups.",
            )
        backend = self._backend(account_id, region)
        instance = backend.get_instance_by_id(instance_id)
        if instance is None:
            raise EmulationError("InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist")
        vpc = backend.vpcs.get(vpc_id)
        if vpc is None:
            raise EmulationError("InvalidVpcID.NotFound", f"The vpc ID '{vpc_id}' does not exist")
        if not getattr(vpc, "classic_link_enabled", False):
            # No dedicated code exists; the generic "value cannot be used" one.
            raise EmulationError("InvalidParameterValue", f"VPC '{vpc_id}' is not enabled for ClassicLink.")
        groups: list[tuple[str, str]] = []
        for group_id in dict.fromkeys(group_ids):
            group = backend.get_security_group_from_id(group_id)
            if group is None:
                raise EmulationError("InvalidGroup.NotFound", f"The security group '{group_id}' does not exist")
            if group.vpc_id != vpc_id:
                # The reference documents InvalidGroup.NotFound for "a security
                # group that is in a different AWS Region or VPC than the request".
                raise EmulationError(
                    "InvalidGroup.NotFound",
                    f"The security group '{group_id}' does not exist in VPC '{vpc_id}'",
                )
            groups.append((group.id, group.name))
        default_vpc = backend.get_default_vpc()
        if instance.vpc_id is not None and (default_vpc is None or instance.vpc_id != default_vpc.id):
            raise EmulationError(
                "InvalidInstanceID.NotLinkable",
                f"Instance '{instance_id}' is a VPC instance (only EC2-Classic instances can be linked).",
            )
        if instance.state != "running":
            # Documented: "cannot be linked ... wait until the instance is in the running state".
            raise EmulationError(
                "InvalidInstanceID.NotLinkable",
                f"Instance '{instance_id}' is not in the running state (state: {instance.state}).",
            )
        current = self._links.get((account_id, region), {}).get(instance_id)
        if current is not None:
            # "You cannot link an EC2-Classic instance to more than one VPC at a
            # time"; documented code for a resource that is already in use.
            raise EmulationError(
                "Resource.AlreadyAssociated",
                f"Instance '{instance_id}' is already linked to VPC '{current.vpc_id}'.",
            )
        self._dry_run(params)
        link = Link(instance_id, vpc_id, tuple(groups))
        self._links.setdefault((account_id, region), {})[instance_id] = link
        return "<return>true</return>"

    def _detach(self, params: Params, account_id: str, region: str) -> str:
        instance_id = _require(params, "InstanceId")
        vpc_id = _require(params, "VpcId")
        _check_id(instance_id, "i")
        _check_id(vpc_id, "vpc")
        backend = self._backend(account_id, region)
        if backend.get_instance_by_id(instance_id) is None:
            raise EmulationError("InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist")
        if vpc_id not in backend.vpcs:
            raise EmulationError("InvalidVpcID.NotFound", f"The vpc ID '{vpc_id}' does not exist")
        links = self._links.get((account_id, region), {})
        current = links.get(instance_id)
        if current is None or current.vpc_id != vpc_id:
            # The reference: "Returns true if the request succeeds; otherwise, it
            # returns an error" (never false).  IncorrectState is the documented
            # code for "the resource is in an incorrect state for the request".
            raise EmulationError("IncorrectState", f"Instance '{instance_id}' is not linked to VPC '{vpc_id}'.")
        self._dry_run(params)
        del links[instance_id]
        return "<return>true</return>"

    def _describe(self, params: Params, account_id: str, region: str) -> str:
        instance_ids = _indexed(params, "InstanceId")
        filters = _filters(params)
        raw_max = params.get("MaxResults", "")
        for instance_id in instance_ids:
            _check_id(instance_id, "i")
        for name in filters:
            if name not in DESCRIBE_FILTERS and not name.startswith("tag:"):
                raise EmulationError("InvalidParameterValue", f"The filter '{name}' is invalid")
        page_size: int | None = None
        if raw_max:
            if instance_ids:
                # Older API reference: "You cannot specify this parameter and the
                # instance IDs parameter in the same request."
                raise EmulationError(
                    "InvalidParameterCombination",
                    "The parameter instancesSet cannot be used with the parameter maxResults",
                )
            try:
                page_size = int(raw_max)
            except ValueError:
                raise EmulationError("InvalidParameterValue", f"Invalid value '{raw_max}' for maxResults") from None
            if page_size < MIN_PAGE_SIZE:
                raise EmulationError(
                    "InvalidParameterValue",
                    f"Value ( {page_size} ) for parameter maxResults is invalid. "
                    f"Expecting a value greater than {MIN_PAGE_SIZE}.",
                )
            page_size = min(page_size, MAX_PAGE_SIZE)  # "we return only 1000 items"
        after = _decode_token(params["NextToken"]) if params.get("NextToken") else None
        self._dry_run(params)

        backend = self._backend(account_id, region)
        missing = [i for i in instance_ids if backend.get_instance_by_id(i) is None]
        if missing:
            raise EmulationError("InvalidInstanceID.NotFound", f"The instance IDs '{', '.join(missing)}' do not exist")
        rows = []
        for link in sorted(self._links.get((account_id, region), {}).values(), key=lambda x: x.instance_id):
            tags = dict(backend.tags.get(link.instance_id, {}))
            if instance_ids and link.instance_id not in instance_ids:
                continue  # existing but unlinked instances are simply not listed
            if not self._matches(link, tags, filters):
                continue
            if after is not None and link.instance_id <= after:
                continue
            rows.append((link, tags))
        next_token = ""
        if page_size is not None and len(rows) > page_size:
            rows = rows[:page_size]
            next_token = f"<nextToken>{_encode_token(rows[-1][0].instance_id)}</nextToken>"
        items = "".join(self._item_xml(link, tags) for link, tags in rows)
        return f"<instancesSet>{items}</instancesSet>{next_token}"

    @staticmethod
    def _matches(link: Link, tags: dict[str, str], filters: dict[str, list[str]]) -> bool:
        """All filters must match (AND); any value of one filter may match (OR)."""
        for name, values in filters.items():
            if name == "instance-id":
                ok = _any_match(values, [link.instance_id])
            elif name == "vpc-id":
                ok = _any_match(values, [link.vpc_id])
            elif name == "group-id":
                ok = _any_match(values, [g for g, _name in link.groups])
            elif name == "tag-key":
                ok = _any_match(values, tags.keys())
            elif name == "tag-value":
                ok = _any_match(values, tags.values())
            else:  # tag:<key>
                key = name[len("tag:") :]
                ok = key in tags and _any_match(values, [tags[key]])
            if not ok:
                return False
        return True

    @staticmethod
    def _item_xml(link: Link, tags: dict[str, str]) -> str:
        groups = "".join(
            f"<item><groupId>{escape(gid)}</groupId><groupName>{escape(name)}</groupName></item>"
            for gid, name in link.groups
        )
        tag_items = "".join(
            f"<item><key>{escape(k)}</key><value>{escape(v)}</value></item>" for k, v in sorted(tags.items())
        )
        return (
            f"<item><instanceId>{link.instance_id}</instanceId><vpcId>{link.vpc_id}</vpcId>"
            f"<groupSet>{groups}</groupSet><tagSet>{tag_items}</tagSet></item>"
        )
