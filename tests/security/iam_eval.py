"""A test evaluator for the subset of the IAM policy language that tools/iam_policy.py writes.

It is not AWS's evaluator: it decides one authorization (an action on one resource
with a request context written by the test) against one identity policy, for the
elements and operators the generator uses, and raises :class:`Unsupported` for
anything else, so that a policy that outgrows it fails the tests instead of being
judged wrongly (it errs on the side of "cannot say", never of "allow").

Supported:

* ``Effect`` Allow and Deny (an explicit Deny wins), ``Action`` (string or list,
  ``*`` and ``?`` wildcards, case-insensitive), ``Resource`` (``*`` or ARNs whose
  six colon-separated parts are matched one by one, with ``*`` / ``?`` wildcards);
  ``NotAction``, ``NotResource``, ``Principal`` and policy variables raise;
* condition operators ``StringEquals``, ``StringNotEquals``, ``StringLike``,
  ``StringNotLike``, ``ArnEquals``, ``ArnLike``, ``ArnNotEquals``, ``ArnNotLike``,
  ``Bool``, each optionally ``...IfExists``, and ``Null``; the set qualifiers
  ``ForAllValues:`` and ``ForAnyValue:`` (not combined with ``IfExists``).

Semantics, as the IAM documentation states them: keys of one operator, and the
operators of one ``Condition``, must all hold; the values of one key are
alternatives (for a negated operator: none may match). A key missing from the
context makes a condition false, except for negated operators and ``...IfExists``
(true), ``ForAllValues`` (true) and ``Null``. Condition key names are compared
case-insensitively, values case-sensitively (``Bool``: ``true``/``false``).

A request is ``Request(action, resource, context)``; an API call that EC2
authorizes against several resources (``CreateSecurityGroup``: the new group and
the VPC, plus ``CreateTags`` for its tags; ``AttachClassicLinkVpc``: instance, VPC,
groups) is a :class:`Call` of several requests, allowed only if each one is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

ALLOW, DENY, IMPLICIT_DENY = "allow", "deny", "implicit deny"

_PLAIN = {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Bool"}
_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


class Unsupported(Exception):
    """The policy uses IAM beyond what this evaluator implements."""


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One API call: allowed only if every authorization it needs is allowed."""

    label: str
    requests: Tuple[Request, ...]


def _list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _glob(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    if "${" in pattern:
        raise Unsupported("policy variables: %r" % pattern)
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE) is not None


def action_matches(pattern: str, action: str) -> bool:
    return _glob(pattern, action, case_sensitive=False)


def arn_matches(pattern: str, arn: str) -> bool:
    """``*`` matches anything; otherwise the six ARN parts are matched separately."""
    if pattern == "*":
        return True
    if arn == "*":
        return False
    wanted, actual = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) != 6 or len(actual) != 6:
        raise Unsupported("not an ARN: %r / %r" % (pattern, arn))
    return all(_glob(w, a) for w, a in zip(wanted, actual))


def _lookup(context: Dict[str, Any], key: str) -> Optional[Any]:
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return value
    return None


def _base_match(operator: str, actual: str, values: List[str]) -> bool:
    if not isinstance(actual, str):
        raise Unsupported("context values are strings: %r" % (actual,))
    if operator in ("StringEquals", "StringNotEquals"):
        hit = any(actual == v for v in values)
    elif operator in ("StringLike", "StringNotLike"):
        hit = any(_glob(v, actual) for v in values)
    elif operator in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        hit = any(arn_matches(v, actual) for v in values)
    elif operator == "Bool":
        hit = any(actual.lower() == str(v).lower() for v in values)
    else:  # pragma: no cover - filtered by the caller
        raise Unsupported(operator)
    return not hit if operator in _NEGATED else hit


def condition_holds(operator: str, key: str, values: Any, context: Dict[str, Any]) -> bool:
    values = [v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else v for v in _list(values)]
    actual = _lookup(context, key)
    missing = actual is None or actual == []
    if operator == "Null":
        if len(values) != 1 or values[0] not in ("true", "false"):
            raise Unsupported("Null takes true or false: %r" % values)
        return missing if values[0] == "true" else not missing
    qualifier, base = operator.rpartition(":")[::2]
    if qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise Unsupported("set qualifier %r" % qualifier)
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
        if qualifier:
            raise Unsupported("%s with IfExists" % qualifier)
    if base not in _PLAIN:
        raise Unsupported("condition operator %r" % operator)
    if qualifier == "ForAllValues":
        return missing or all(_base_match(base, a, values) for a in _list(actual))
    if qualifier == "ForAnyValue":
        return not missing and any(_base_match(base, a, values) for a in _list(actual))
    if missing:
        return if_exists or base in _NEGATED
    if isinstance(actual, (list, tuple)):
        raise Unsupported("multivalued key %s needs ForAllValues/ForAnyValue" % key)
    return _base_match(base, actual, values)


def statement_applies(st: dict, request: Request) -> bool:
    for element in ("NotAction", "NotResource", "Principal", "NotPrincipal"):
        if element in st:
            raise Unsupported("%s in an identity policy statement" % element)
    if st.get("Effect") not in ("Allow", "Deny"):
        raise Unsupported("Effect %r" % st.get("Effect"))
    if not any(action_matches(a, request.action) for a in _list(st["Action"])):
        return False
    if not any(arn_matches(r, request.resource) for r in _list(st["Resource"])):
        return False
    for operator, block in (st.get("Condition") or {}).items():
        for key, values in block.items():
            if not condition_holds(operator, key, values, request.context):
                return False
    return True


def evaluate(policy: dict, request: Request) -> str:
    """``allow``, ``deny`` (an explicit Deny applies) or ``implicit deny``."""
    if set(policy) - {"Version", "Statement", "Id"}:
        raise Unsupported("policy elements %s" % sorted(set(policy) - {"Version", "Statement", "Id"}))
    applying = [st for st in _list(policy["Statement"]) if statement_applies(st, request)]
    if any(st["Effect"] == "Deny" for st in applying):
        return DENY
    return ALLOW if applying else IMPLICIT_DENY


def allowing(policy: dict, request: Request) -> List[str]:
    """Sids of the Allow statements that apply to ``request``."""
    return [st.get("Sid", "?") for st in _list(policy["Statement"]) if st["Effect"] == "Allow" and statement_applies(st, request)]


def decide(policy: dict, call: Call) -> Tuple[bool, List[Tuple[Request, str]]]:
    """(allowed?, the decision for each request of the call)."""
    decisions = [(request, evaluate(policy, request)) for request in call.requests]
    return all(pair[1] == ALLOW for pair in decisions), decisions


def explain(policy: dict, call: Call) -> str:
    lines = [call.label]
    for request, decision in decide(policy, call)[1]:
        lines.append("  %s on %s -> %s %s" % (request.action, request.resource, decision, allowing(policy, request)))
    return "\n".join(lines)
