# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The AWS edge: one EC2 client per scope, retried the amazon.aws way.

This is the only file that knows amazon.aws's client, retry, waiter and error
API. Everything else calls ``scope.call("operation", ...)``,
``scope.paginate(...)`` and reads failures through :func:`problem_of`.

Retries, one layer: the client is made with ``module.client(...,
retry_decorator=...)`` and every call passes ``aws_retry=True``. The decorator
is amazon.aws's ``AWSRetry.jittered_backoff`` with one addition, measured in
the fault suite: an answer botocore cannot parse (an HTML 500 from a proxy or
an overloaded endpoint) is retried like a throttle. Calls that name a group
this run created also retry ``InvalidGroup.NotFound`` for a bounded time:
EC2 is eventually consistent, and a new group can be unknown to other calls
for a few seconds after ``CreateSecurityGroup`` answered.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, List, Optional

try:
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError
    from botocore.parsers import ResponseParserError
except ImportError:  # pragma: no cover - AnsibleAWSModule reports the missing library
    BotoCoreError = ClientError = ResponseParserError = WaiterError = Exception  # type: ignore[misc,assignment]

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.waiters import get_waiter

from ansible_collections.classiclink.mirror.plugins.module_utils.model import Problem
from ansible_collections.classiclink.mirror.plugins.module_utils.targets import TargetScope, partition_for_region, role_arn_for

DEFAULT_CONCURRENCY = 8
GROUP_NOT_FOUND = "InvalidGroup.NotFound"
UNPARSABLE = "ResponseParserError"  # the pseudo error code of an answer botocore cannot parse
# How long a call naming a group created by this run may see it as unknown (EC2 eventual
# consistency): 7 attempts, the 6 jittered waits between them at most 1, 2, 4, 8, 8, 8 s (31 s at worst).
FRESH_RETRIES = dict(retries=7, delay=1, max_delay=8, catch_extra_error_codes=[GROUP_NOT_FOUND])
THROTTLE_RETRIES = dict(retries=10, delay=1, max_delay=30)


class EC2Retry(AWSRetry):
    """AWSRetry that also retries an answer botocore could not parse."""

    base_class = (ClientError, ResponseParserError)

    @staticmethod
    def status_code_from_exception(error):
        if isinstance(error, ResponseParserError):
            return UNPARSABLE
        return AWSRetry.status_code_from_exception(error)

    @staticmethod
    def found(response_code, catch_extra_error_codes=None):
        return response_code == UNPARSABLE or AWSRetry.found(response_code, catch_extra_error_codes)


def aws_code(exc: BaseException) -> Optional[str]:
    """EC2's error code of a failed call (None for client-side failures)."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def is_code(exc: BaseException, *codes: str) -> bool:
    return isinstance(exc, is_boto3_error_code(list(codes), exc))


def error_text(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return "%s: %s" % (error.get("Code", "Error"), error.get("Message", ""))
    return str(exc)


def problem_of(exc: BaseException, what: str) -> Problem:
    """A failed call -> Problem (code ``not_found`` for a group that is gone, else ``aws_error``)."""
    code = "not_found" if is_code(exc, GROUP_NOT_FOUND) else "aws_error"
    return Problem(code, "%s failed: %s" % (what, error_text(exc)), aws_code(exc))


class Scope:
    """One (account, region): its EC2 client and the retry policy of every call."""

    def __init__(self, client, region: Optional[str] = None, credentials: Optional[dict] = None, role_arn: Optional[str] = None):
        self.client = client  # made with retry_decorator: calls take aws_retry=True
        self.region = region
        self.credentials = credentials  # None: the module's own
        self.role_arn = role_arn  # the role assumed for this scope, if any (for messages)
        self.target: Optional[TargetScope] = None  # (partition, account, region) once known
        self._fresh_retry = EC2Retry.jittered_backoff(**FRESH_RETRIES)

    @classmethod
    def connect(cls, module, region: Optional[str] = None, credentials: Optional[dict] = None, role_arn: Optional[str] = None,
                target: Optional[TargetScope] = None) -> "Scope":
        """The scope of ``region`` (default: the module's) with ``credentials`` (default: the module's): those of
        ``role_arn`` when given; ``target``: its (partition, account, region) when known."""
        extra = dict(credentials or {})
        if region:
            extra["region"] = region
        client = module.client("ec2", retry_decorator=EC2Retry.jittered_backoff(**THROTTLE_RETRIES), **extra)
        scope = cls(client, region or module.region, credentials, role_arn)
        scope.target = target
        return scope

    @classmethod
    def of_module(cls, module) -> "Scope":
        """The module's scope: its region, with the credentials of O(role_arn) when set (assumed
        here, so that a scope's whole run is one process). With O(account_id), credentials of
        another account fail the module before any EC2 call."""
        params = module.params
        role_arn, account_id = params.get("role_arn"), params.get("account_id")
        credentials = None
        try:
            if account_id:  # a role names its account: no call needed to refuse another account's
                found = role_account(role_arn) if role_arn else caller_account(module)
                if found != account_id:
                    module.fail_json(msg=(
                        "scope account %s, region %s: the credentials are account %s's; set role_arn to a role of account %s "
                        "(the classiclink.mirror.scopes inventory's role_arn) or use credentials of that account"
                        % (account_id, module.region, found, account_id)))
            if role_arn:
                credentials = assume_role(module, role_arn, params.get("role_external_id"), params.get("role_session_name"))
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            module.fail_json_aws(exc, msg="scope account %s, region %s: could not %s" % (
                account_id or role_account(role_arn) or "(of the credentials)", module.region,
                "assume role %s" % role_arn if role_arn else "read the account of the credentials (sts:GetCallerIdentity)"))
        return cls.connect(module, credentials=credentials, role_arn=role_arn)

    def home_target(self, module, need_account: bool = True) -> TargetScope:
        """This (home) scope as a TargetScope: the account of O(role_arn), else O(account_id), else one
        sts:GetCallerIdentity (only when ``need_account``: bare VPC ids need no account). Cached."""
        if self.target is None or (need_account and not self.target.account):
            params = module.params
            account = role_account(self.role_arn) or params.get("account_id") or ""
            if not account and need_account:
                try:
                    account = caller_account(module, self.credentials)
                except (BotoCoreError, ClientError, ResponseParserError) as exc:
                    module.fail_json_aws(exc, msg="region %s: could not read the account of the credentials (sts:GetCallerIdentity), "
                                                  "needed for targets given as VPC ARNs" % self.region)
            region = self.region or ""
            self.target = TargetScope(partition_for_region(region), account, region)
        return self.target

    def other(self, module, target: TargetScope, role_template: Optional[str], external_id: Optional[str] = None,
              session_name: Optional[str] = None):
        """The Scope of another account or region -> (Scope, None), or (None, Problem) naming account, region and role.

        Same account: this scope's credentials in another region. Another account: ``role_template`` (O(target_role_arn),
        ``{account}`` replaced) assumed with this scope's credentials. Nothing is called for a target without a usable role."""
        home = self.target
        if home is not None and target.account == home.account:
            return Scope.connect(module, target.region, self.credentials, self.role_arn, target), None
        role, why = role_arn_for(role_template, target)
        if why:
            return None, Problem("no_target_role", why)
        try:
            credentials = assume_role(module, role, external_id, session_name, self.credentials)
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            return None, Problem("unreachable_scope", "%s: could not assume role %s (target_role_arn): %s" % (
                target.label, role, error_text(exc)), aws_code(exc))
        return Scope.connect(module, target.region, credentials, role, target), None

    def unreachable(self, exc: BaseException) -> Problem:
        """A scope whose describe failed: its pairs fail with this (account, region and role named)."""
        target = self.target
        where = target.label if target is not None else "region %s" % self.region
        role = " with role %s" % self.role_arn if self.role_arn else " with the module's credentials"
        return Problem("unreachable_scope", "%s could not be read%s: %s" % (where, role, error_text(exc)), aws_code(exc))

    def call(self, operation: str, fresh: bool = False, **params):
        """One EC2 call, retried on throttling; ``fresh``: it names a group this run created,
        so ``InvalidGroup.NotFound`` is retried too (bounded) instead of failing."""
        if fresh:  # one retry layer: the unwrapped method under the fresh-group policy
            raw = getattr(self.client, "client", self.client)
            return self._fresh_retry(getattr(raw, operation))(**params)
        return getattr(self.client, operation)(aws_retry=True, **params)

    def paginate(self, operation: str, key: str, **params) -> List[dict]:
        """All pages of one describe, retried as a whole (paginators bypass the client's retry wrapper)."""

        @EC2Retry.jittered_backoff(**THROTTLE_RETRIES)
        def all_pages():
            return self.client.get_paginator(operation).paginate(**params).build_full_result()

        return all_pages().get(key, [])

    def wait_for_groups(self, group_ids: List[str], delay: float = 1, max_attempts: int = 30) -> bool:
        """amazon.aws's ``security_group_exists`` waiter over groups this run created; False if it gave up."""
        if not group_ids:
            return True
        try:
            get_waiter(self.client, "security_group_exists").wait(
                GroupIds=list(group_ids), WaiterConfig={"Delay": delay, "MaxAttempts": max_attempts})
        except (WaiterError, BotoCoreError, ClientError, ResponseParserError):
            return False
        return True


ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]+$")
SESSION_NAME_MAX = 64


def role_account(role_arn: Optional[str]) -> Optional[str]:
    """The account of an IAM role ARN (None when it is not one)."""
    match = ROLE_ARN.match(role_arn or "")
    return match.group(1) if match else None


def assume_role(module, role_arn: str, external_id: Optional[str] = None, session_name: Optional[str] = None,
                credentials: Optional[dict] = None) -> dict:
    """Temporary credentials of ``role_arn`` (assumed with ``credentials``, default the module's), as ``module.client`` takes them."""
    sts = module.client("sts", retry_decorator=AWSRetry.jittered_backoff(**THROTTLE_RETRIES), **(credentials or {}))
    params = dict(RoleArn=role_arn, RoleSessionName=re.sub(r"[^\w+=,.@-]", "-", session_name or "classiclink-mirror")[:SESSION_NAME_MAX])
    if external_id:
        params["ExternalId"] = external_id
    creds = sts.assume_role(aws_retry=True, **params)["Credentials"]
    return dict(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"])


def caller_account(module, credentials: Optional[dict] = None) -> str:
    """The account of the module's own credentials, or of ``credentials`` (one sts:GetCallerIdentity)."""
    sts = module.client("sts", retry_decorator=AWSRetry.jittered_backoff(**THROTTLE_RETRIES), **(credentials or {}))
    return sts.get_caller_identity(aws_retry=True)["Account"]


def run_concurrently(items: Iterable, work: Callable, concurrency: int) -> None:
    """``work(item)`` for each item, at most ``concurrency`` at a time; ``work`` handles its own errors."""
    items = list(items)
    if concurrency <= 1 or len(items) < 2:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items))) as pool:
        list(pool.map(work, items))
