# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Argument-spec pieces shared by the modules (documented in doc_fragments/mirror.py)."""

from __future__ import annotations

from ansible_collections.classiclink.mirror.plugins.module_utils.guardrails import parse_guardrails
from ansible_collections.classiclink.mirror.plugins.module_utils.scope import DEFAULT_CONCURRENCY, role_account
from ansible_collections.classiclink.mirror.plugins.module_utils.tags import LINK_TAG_KEYS, is_vpc_id
from ansible_collections.classiclink.mirror.plugins.module_utils.targets import (
    ACCOUNT_PLACEHOLDER,
    DEFAULT_PARTITION,
    ROLE_ARN_PATTERN,
    TargetScope,
    partition_for_region,
    read_targets_option,
)

COMMON_ARGS = dict(
    link_tag_keys=dict(type="list", elements="str", default=list(LINK_TAG_KEYS), no_log=False),
    concurrency=dict(type="int", default=DEFAULT_CONCURRENCY),
    classic_vpc_id=dict(type="str"),
    role_arn=dict(type="str"),
    role_external_id=dict(type="str"),
    role_session_name=dict(type="str", default="classiclink-mirror"),
    account_id=dict(type="str"),
)


# Targets in other accounts and regions (issue 11), shared by the group and info modules.
TARGET_ARGS = dict(
    targets=dict(type="list", elements="str"),
    target_role_arn=dict(type="str"),
    target_role_external_id=dict(type="str"),
    references=dict(type="str", choices=["drop", "addresses"], default="drop"),
    address_kind=dict(type="str", choices=["private", "public"], default="private"),
)


GUARDRAIL_ARGS = dict(
    guardrails=dict(
        type="list",
        elements="dict",
        options=dict(
            protocol=dict(type="str", default="all"),
            ports=dict(type="str"),
            cidr=dict(type="str", required=True),
            action=dict(type="str", choices=["withhold", "fail"], default="withhold"),
        ),
    ),
)


def guardrails_of(module):
    """The guardrails option, parsed; fails the module naming every bad entry, before any AWS call."""
    parsed, errors = parse_guardrails(module.params.get("guardrails"))
    if errors:
        module.fail_json(msg="%d guardrail(s) cannot be used: %s" % (len(errors), "; ".join(errors)))
    return parsed


def check_common(module) -> None:
    """Checks every module makes before any AWS call."""
    params = module.params
    if not params["link_tag_keys"]:
        module.fail_json(msg="link_tag_keys must name at least one tag key")
    if params["concurrency"] < 1:
        module.fail_json(msg="concurrency must be 1 or more, got %d" % params["concurrency"])
    if params.get("role_arn") and not role_account(params["role_arn"]):
        module.fail_json(msg="role_arn: %r is not an IAM role ARN (expected arn:aws:iam::123456789012:role/NAME)" % params["role_arn"])
    if params.get("account_id") and not (len(params["account_id"]) == 12 and params["account_id"].isdigit()):
        module.fail_json(msg="account_id: %r is not an AWS account id (expected 12 digits)" % params["account_id"])
    for option in ("vpc_id", "vpc_ids", "prune_vpc_ids", "classic_vpc_id"):
        values = params.get(option)
        values = [values] if isinstance(values, str) else values or []
        for value in values:
            if not (is_vpc_id(value.strip()) or (option == "classic_vpc_id" and value == "default")):
                module.fail_json(msg="%s: %r is not a VPC id (expected vpc- and 8 or 17 hex digits)" % (option, value))


def targets_option_of(module, home: TargetScope = None):
    """The targets option read against the home scope (None when not given); fails the module naming the bad
    entries and the accepted forms, before any AWS call."""
    values = module.params.get("targets")
    if values is None:
        return None
    if home is None:
        region = module.region or ""
        home = TargetScope(partition_for_region(region) if region else DEFAULT_PARTITION, "", region)
    parsed = read_targets_option(values, home)
    if parsed.error:
        module.fail_json(msg=parsed.error)
    return parsed


def check_targets(module) -> None:
    """The target options' own checks (before any AWS call)."""
    params = module.params
    template = params.get("target_role_arn")
    if template and not ROLE_ARN_PATTERN.match(template.replace(ACCOUNT_PLACEHOLDER, "123456789012")):
        module.fail_json(msg="target_role_arn: %r is not an IAM role ARN (expected arn:aws:iam::{account}:role/NAME, "
                             "{account} being replaced by each target's account)" % template)
    targets_option_of(module)
