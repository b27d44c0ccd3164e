"""No secret key or session token in any output, even at -vvv.

Module arguments are logged at -vvv (``invocation.module_args``): the
credential options must be no_log, and nothing else may echo them (failure
messages, diffs, warnings).  Credentials given from the environment must not
show up either.

The runs use an assumed role's temporary credentials on the IAM-enforcing
harness (tests/security/iam_harness.py): moto checks the signature and the
session token, so each successful run proves the credentials were really taken
from where the test put them (module options, module_defaults, environment).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pytest

from tests.badinput import runner
from tests.integration.ec2_world import launch, make_group, make_vpc
from tests.security.test_least_privilege import load_policy, moto_variant

pytestmark = pytest.mark.integration

ROLE_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/admin"}, "Action": "sts:AssumeRole"}]}
MASKED = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


@dataclass(frozen=True)
class Credentials:
    access_key: str  # not a secret: AWS and Ansible show access key ids
    secret_key: str
    session_token: str

    @property
    def options(self) -> dict:
        return {"access_key": self.access_key, "secret_key": self.secret_key, "session_token": self.session_token}

    @property
    def secrets(self) -> tuple:
        """Whole values and distinctive pieces: a leak may be truncated or wrapped."""
        pieces = []
        for value in (self.secret_key, self.session_token):
            pieces += [value, value[:16], value[-16:]]
        return tuple(pieces)


def assert_no_secret(creds: Credentials, *outputs: str) -> None:
    text = "\n".join(outputs)
    leaked = [s for s in creds.secrets if s in text]
    assert not leaked, "secret material in the output:\n" + "\n".join(
        line for line in text.splitlines() if any(s in line for s in leaked))[:4000]


@pytest.fixture
def creds(iam_moto) -> Credentials:
    """A world on the IAM-enforcing harness (a tagged group, a member instance) and role credentials."""
    admin = iam_moto.fresh_account()
    ec2 = iam_moto.client("ec2", admin)
    vpc = make_vpc(ec2)
    web = make_group(ec2, "web", link=vpc)
    launch(ec2, [web])
    iam = iam_moto.client("iam", admin)
    iam.create_role(RoleName="mirror", AssumeRolePolicyDocument=json.dumps(ROLE_TRUST))
    iam.put_role_policy(RoleName="mirror", PolicyName="mirror", PolicyDocument=json.dumps(moto_variant(load_policy())))
    issued = iam_moto.client("sts", admin).assume_role(RoleArn="arn:aws:iam::123456789012:role/mirror",
                                                       RoleSessionName="secrets-test")["Credentials"]
    return Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])


def env_with(iam_moto, creds: Optional[Credentials] = None) -> dict:
    """The IAM harness; with ``creds`` in the environment, else with keys it would refuse."""
    if creds is None:
        return runner.aws_env(iam_moto.url, access_key="AKIAENVNOTUSED000000", secret_key="env-secret-not-used")
    return runner.aws_env(iam_moto.url, access_key=creds.access_key, secret_key=creds.secret_key,
                          AWS_SESSION_TOKEN=creds.session_token)


def test_playbook_with_credentials_as_module_options_at_vvv(iam_moto, creds):
    extra = {"fake_access_key": creds.access_key, "fake_secret_key": creds.secret_key,
             "fake_session_token": creds.session_token}

    run = runner.run_playbook("tests/security/playbooks/credentials.yml", "-vvv", "-e", json.dumps(extra),
                              env=env_with(iam_moto))

    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert MASKED in run.stdout  # the arguments were logged, masked
    assert_no_secret(creds, run.stdout, run.stderr)


def test_mirror_playbook_with_credentials_from_the_environment_at_vvv(iam_moto, creds):
    run = runner.run_playbook("classiclink.mirror.mirror", "-vvv", "-e", "mirror_classic_vpc_id=default",
                              env=env_with(iam_moto, creds))

    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert '"invocation"' in run.stdout  # -vvv printed the module results with their arguments
    assert_no_secret(creds, run.stdout, run.stderr)


def test_failing_mirror_playbook_with_credentials_from_the_environment_at_vvv(iam_moto, creds):
    iam_moto.client("ec2", iam_moto.admin).create_security_group(
        GroupName="bad", Description="bad pair", TagSpecifications=[
            {"ResourceType": "security-group", "Tags": [{"Key": "classiclinkmirror:linkToVPC", "Value": "vpc-XYZ"}]}])

    run = runner.run_playbook("classiclink.mirror.mirror", "-vvv", "-e", "mirror_classic_vpc_id=default",
                              env=env_with(iam_moto, creds))

    assert run.returncode != 0 and "vpc-XYZ" in run.stdout, run.stdout[-5000:]
    assert_no_secret(creds, run.stdout, run.stderr)


@pytest.mark.parametrize("module,args,ok", [
    ("classiclink_mirror_group", {"source_group": "web", "classic_vpc_id": "default"}, True),
    ("classiclink_mirror_group", {"source_group": "no-such-group"}, False),  # failure path
    ("classiclink_mirror_group", {"source_group": "web", "rules_quota": 0}, False),  # fails before any call
    ("classiclink_instance_link", {"classic_vpc_id": "default"}, True),
    ("classiclink_mirror_info", {"classic_vpc_id": "default"}, True),
], ids=["mirror", "mirror-failing", "mirror-bad-option", "link", "info"])
def test_module_output_never_contains_the_credentials(iam_moto, creds, module, args, ok):
    if module == "classiclink_instance_link":  # the mirror to link to
        assert runner.run_module("classiclink_mirror_group", {"all_sources": True, **creds.options}, env_with(iam_moto)).rc == 0
    result = runner.run_module(module, {**args, **creds.options}, env_with(iam_moto), diff=True)

    assert (result.rc == 0) is ok, result.get("msg")
    assert_no_secret(creds, result.stdout, result.stderr)
    logged = result["invocation"]["module_args"]
    assert logged["secret_key"] == logged["session_token"] == MASKED


def test_refused_credentials_are_reported_without_the_secret(iam_moto, creds):
    wrong = Credentials(creds.access_key, creds.secret_key[::-1], creds.session_token)  # the signature cannot match
    result = runner.run_module("classiclink_mirror_info", wrong.options, env_with(iam_moto))

    assert result.rc != 0 and "AuthFailure" in result["msg"], result.get("msg")
    assert_no_secret(wrong, result.stdout, result.stderr)
    assert_no_secret(creds, result.stdout, result.stderr)
