"""docs/iam-policy.json: exactly the EC2 actions the collection calls, and enough for a full run.

docs/iam-policy.json is the example that tools/iam_policy.py generates (``make
iam-policy``); tests/security/test_iam_policies.py checks what each generated
statement allows and refuses, call by call, and lints every generated policy with
parliament. Here, three layers:

* static: the policy's EC2 actions are exactly the EC2 operations found in the code
  (plugins/), with and without the generator's opt-ins, and every change is scoped
  by resource ARN, with the documented tag and VPC conditions;
* moto's IAM enforcement, as far as it goes (see docs/iam.md): the full playbook
  run (mirror, link, relink, prune, enable ClassicLink) succeeds with credentials
  limited to the policy, and every action of the policy is used by it; without
  one action the run fails with a message naming that action;
* what moto does not enforce (resource ARNs, conditions) is pinned by a test, so
  that the day moto starts to enforce them these tests say so.
"""

from __future__ import annotations

import ast
import copy
import json
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.session import get_session

from tests.badinput import runner
from tests.support.devpaths import REPO_ROOT
from tests.support.moto_harness import CLASSIC_AMI_ID
from tools import iam_policy

pytestmark = pytest.mark.integration

POLICY_PATH = REPO_ROOT / "docs" / "iam-policy.json"
MIRRORED_FROM = "classiclinkmirror:mirroredFromClassicSecurityGroupId"
LINK_TAG = "classiclinkmirror:linkToVPC"
GUIDE_LINK_TAG = "classicmirror:linkToVPC"
# Executor.rules (plugins/module_utils/apply.py) builds these names from verb and direction.
DYNAMIC_OPERATIONS = {
    '"authorize_security_group_%s"': {f"authorize_security_group_{d}" for d in ("ingress", "egress")},
    '"revoke_security_group_%s"': {f"revoke_security_group_{d}" for d in ("ingress", "egress")},
    '"update_security_group_rule_descriptions_%s"': {f"update_security_group_rule_descriptions_{d}" for d in ("ingress", "egress")},
}
# Calls made by name through the AWS edge (scope.py): ``scope.call("op", ...)``, ``scope.paginate("op", ...)``.
EDGE_CALLS = ("call", "paginate")
# The waiter ``security_group_exists`` (scope.wait_for_groups) calls DescribeSecurityGroups.
WAITER_OPERATIONS = {"security_group_exists": "describe_security_groups"}


def load_policy() -> dict:
    return json.loads(POLICY_PATH.read_text())


def statements(policy: dict) -> list[dict]:
    return policy["Statement"]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def policy_actions(policy: dict) -> set[str]:
    return {action for st in statements(policy) if st["Effect"] == "Allow" for action in as_list(st["Action"])}


def code_operations() -> set[str]:
    """EC2 operations (CamelCase) the collection's Python calls, found in the syntax tree.

    ``scope.call("op", ...)`` and ``scope.paginate("op", ...)`` name them as strings, waiters by name;
    ``client.op`` / ``self.client.op`` as attributes; the rule calls are built from format
    strings (DYNAMIC_OPERATIONS) whose presence is checked so a change there is noticed.
    """
    ec2_ops = {xform_name(name): name for name in get_session().get_service_model("ec2").operation_names}
    found: set[str] = set()
    # What the mirror's principal calls: the modules and their module_utils. The scopes inventory plugin runs
    # on the controller with its own credentials (Organizations, ec2:DescribeRegions; docs/howto-scopes-inventory.md).
    sources = [path for path in (REPO_ROOT / "plugins").rglob("*.py") if "inventory" not in path.parts]
    for path in sources:
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in EDGE_CALLS:
                if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    found.add(node.args[0].value)
            if isinstance(node, ast.Constant) and node.value in WAITER_OPERATIONS:
                found.add(WAITER_OPERATIONS[node.value])
            if isinstance(node, ast.Attribute) and node.attr in ec2_ops:
                base = node.value
                if (isinstance(base, ast.Name) and base.id == "client") or (isinstance(base, ast.Attribute) and base.attr == "client"):
                    found.add(node.attr)
    apply_py = (REPO_ROOT / "plugins" / "module_utils" / "apply_groups.py").read_text()
    for marker, names in DYNAMIC_OPERATIONS.items():
        assert marker in apply_py, f"apply_groups.py no longer builds operation names from {marker}: update DYNAMIC_OPERATIONS"
        found |= names
    unknown = found - set(ec2_ops)
    assert not unknown, f"not EC2 operations: {unknown}"
    return {"ec2:" + ec2_ops[name] for name in found}


# --------------------------------------------------------------------------- static


def ec2_actions(policy: dict) -> set[str]:
    return {action for action in policy_actions(policy) if action.startswith("ec2:")}


def generated_policies() -> dict[str, dict]:
    """The example, and the policies of a deployment with every opt-in and a target in another account."""
    args = iam_policy.parser().parse_args([
        *iam_policy.EXAMPLE_ARGS, "--allow-adopt", "--allow-purge-tags", "--allow-link-tags",
        "--target-vpc", "arn:aws:ec2:eu-west-1:444455556666:vpc/vpc-0123456789abcdef0"])
    return {"docs/iam-policy.json": load_policy(), **iam_policy.policies(iam_policy.deployment_from_args(args))}


def test_policy_lists_exactly_the_ec2_actions_the_code_calls():
    in_code = code_operations()
    for name, policy in generated_policies().items():
        if name.startswith(("target-policy-", "trust-policy-")):
            continue
        in_policy = ec2_actions(policy)
        assert in_code - in_policy == set(), f"called by the collection but not allowed by {name}"
        assert in_policy - in_code == set(), f"allowed by {name} but never called"
        assert policy_actions(policy) - in_policy <= {"sts:AssumeRole"}, name
    target = generated_policies()["target-policy-444455556666.json"]
    assert ec2_actions(target) < in_code, "a target account's policy allows a part of what the code calls"
    assert {"ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:DeleteSecurityGroup"} <= ec2_actions(target)
    assert not {"ec2:AttachClassicLinkVpc", "ec2:DescribeInstances"} & ec2_actions(target)


def test_only_describes_are_unscoped_and_changes_to_existing_groups_need_the_mirror_tag_and_a_target_vpc():
    rule_actions = {"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress",
                    "ec2:RevokeSecurityGroupEgress", "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
                    "ec2:UpdateSecurityGroupRuleDescriptionsEgress", "ec2:DeleteSecurityGroup"}
    for name, policy in generated_policies().items():
        if name.startswith("trust-policy-"):
            continue
        assert all(st["Effect"] == "Allow" for st in statements(policy)), name
        for st in statements(policy):
            actions, resources = as_list(st["Action"]), as_list(st["Resource"])
            if resources == ["*"]:
                assert all(a.startswith("ec2:Describe") for a in actions), st["Sid"]
                continue
            for arn in resources:  # a concrete partition, region and account everywhere
                partition, service, region, account = arn.split(":")[1:5]
                assert "*" not in partition + service + region + account, (name, st["Sid"], arn)
            if rule_actions & set(actions):
                assert set(actions) <= rule_actions, st["Sid"]
                assert st["Condition"]["Null"] == {f"aws:ResourceTag/{MIRRORED_FROM}": "false"}, st["Sid"]
                assert set(st["Condition"]) == {"Null", "ArnEquals"} and "ec2:Vpc" in st["Condition"]["ArnEquals"], st["Sid"]
                assert all(r.endswith(":security-group/*") for r in resources), st["Sid"]
            if {"ec2:CreateTags", "ec2:DeleteTags"} & set(actions):
                assert st.get("Condition"), f"{st['Sid']}: tag writes must be conditioned"
            if "ec2:CreateSecurityGroup" in actions:
                if any(":security-group/" in r for r in resources):
                    assert st["Condition"] == {"Null": {f"aws:RequestTag/{MIRRORED_FROM}": "false"}}, st["Sid"]
                else:  # the VPC side: the target VPCs, by exact ARN
                    assert all(":vpc/vpc-" in r and not r.endswith("*") for r in resources), st["Sid"]
        tag_on_create = [st for st in statements(policy) if st.get("Condition", {}).get("StringEquals", {}).get("ec2:CreateAction")]
        for st in tag_on_create:  # tags in a create call: of a mirror (security group) or of an address list (prefix list)
            create_action = st["Condition"]["StringEquals"]["ec2:CreateAction"]
            kind = {"CreateSecurityGroup": ":security-group/*", "CreateManagedPrefixList": ":prefix-list/*"}[create_action]
            assert all(r.endswith(kind) for r in as_list(st["Resource"])), st["Sid"]
        prefix_list_changes = {"ec2:ModifyManagedPrefixList", "ec2:DeleteManagedPrefixList", "ec2:GetManagedPrefixListEntries"}
        for st in statements(policy):
            actions = set(as_list(st["Action"]))
            if actions & prefix_list_changes:  # only lists carrying the addressesOf tag
                assert actions <= prefix_list_changes and st["Condition"] == {
                    "Null": {f"aws:ResourceTag/{iam_policy.ADDRESSES_OF_TAG}": "false"}}, st["Sid"]
            if "ec2:CreateManagedPrefixList" in actions:
                assert st["Condition"] == {"Null": {f"aws:RequestTag/{iam_policy.ADDRESSES_OF_TAG}": "false"}}, st["Sid"]


# --------------------------------------------------------------------------- what moto enforces


def moto_variant(policy: dict) -> dict:
    """The policy as moto can evaluate it: same statements and actions, every Resource "*".

    moto authorizes every EC2 request against the resource "*" (an ARN pattern never
    matches it) and evaluates no condition for EC2 (see docs/iam.md).
    """
    variant = copy.deepcopy(policy)
    for st in variant["Statement"]:
        st["Resource"] = "*"
    return variant


def without(policy: dict, action: str) -> dict:
    trimmed = copy.deepcopy(policy)
    for st in trimmed["Statement"]:
        st["Action"] = [a for a in as_list(st["Action"]) if a != action]
    trimmed["Statement"] = [st for st in trimmed["Statement"] if st["Action"]]
    return trimmed


def test_moto_iam_enforcement_is_what_docs_iam_md_says(iam_moto):
    """Pin moto's limits: if this fails, moto changed and docs/iam.md (and moto_variant) should too."""
    iam_moto.fresh_account()

    def allowed(statement: dict) -> bool:
        keys = iam_moto.user(f"probe{abs(hash(json.dumps(statement, sort_keys=True)))}",
                             {"Version": "2012-10-17", "Statement": [statement]})
        try:
            iam_moto.client("ec2", keys).describe_security_groups()
            return True
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "AccessDenied"
            assert "ec2:DescribeSecurityGroups" in exc.response["Error"]["Message"]
            return False

    base = {"Effect": "Allow", "Action": "ec2:DescribeSecurityGroups"}
    assert allowed({**base, "Resource": "*"})
    assert not allowed({**base, "Resource": "arn:aws:ec2:*:*:security-group/*"})  # resource ARNs never match
    assert allowed({**base, "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/never": "set"}}})  # ignored
    assert allowed({**base, "Resource": "*", "Condition": {"Null": {"aws:RequestTag/absent": "false"}}})  # ignored
    assert not allowed({**base, "Action": "ec2:DescribeVpcs", "Resource": "*"})  # a missing action is denied
    denier = iam_moto.client("ec2", iam_moto.user("denier", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "ec2:DescribeSecurityGroups", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/never": "set"}}}]}))
    with pytest.raises(ClientError, match="AccessDenied"):  # a conditioned Deny applies unconditionally
        denier.describe_security_groups()
    exact = iam_moto.client("ec2", iam_moto.user("exact", load_policy()))
    assert exact.describe_vpcs()["Vpcs"]  # Resource "*" statements work
    with pytest.raises(ClientError, match="not authorized to perform: ec2:CreateSecurityGroup"):
        exact.create_security_group(GroupName="x", Description="x", TagSpecifications=[
            {"ResourceType": "security-group", "Tags": [{"Key": MIRRORED_FROM, "Value": "sg-12345678"}]}])


def build_world(ec2: Any) -> dict:
    """Sources of every kind the policy must serve, built with the admin keys.

    web (Classic, ingress with a description and a self reference), ssh (Classic, guide
    tag spelling), old (Classic, will be untagged: prune), db (a VPC source in a legacy VPC,
    egress only: mirrored egress); one running Classic instance in web; the target VPC
    without ClassicLink (the run enables it).
    """
    classic = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    target = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    legacy = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]

    def group(name: str, vpc: str, key: str = LINK_TAG) -> str:
        return ec2.create_security_group(GroupName=name, Description=f"{name} group", VpcId=vpc, TagSpecifications=[
            {"ResourceType": "security-group", "Tags": [{"Key": key, "Value": target}]}])["GroupId"]

    web, ssh, old, db = group("web", classic), group("ssh", classic, GUIDE_LINK_TAG), group("old", classic), group("db", legacy)
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "lb"}]},
        {"IpProtocol": "tcp", "FromPort": 7000, "ToPort": 7000, "UserIdGroupPairs": [{"GroupId": web}]}])
    ec2.authorize_security_group_ingress(GroupId=ssh, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}])
    ec2.revoke_security_group_egress(GroupId=db, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.authorize_security_group_egress(GroupId=db, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.1.0.0/16", "Description": "app"}]}])
    instance = ec2.run_instances(ImageId=CLASSIC_AMI_ID, MinCount=1, MaxCount=1, InstanceType="t1.micro",
                                 SecurityGroupIds=[web])["Instances"][0]["InstanceId"]
    return {"target": target, "web": web, "ssh": ssh, "old": old, "db": db, "instance": instance}


def env_for(iam_moto: Any, keys: tuple[str, str]) -> dict:
    """Environment for a module or playbook run with these IAM user keys on the IAM harness."""
    return runner.aws_env(iam_moto.url, access_key=keys[0], secret_key=keys[1])


def mirror_of(ec2: Any, source: str, vpc: str) -> dict | None:
    found = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                  {"Name": f"tag:{MIRRORED_FROM}", "Values": [source]}])["SecurityGroups"]
    return found[0] if found else None


# Actions the code calls (so the policy lists them) that the full playbook run does not make yet.
NOT_IN_THE_PLAYBOOK_RUN = {
    "ec2:DescribeNetworkInterfaces": "usage audit (describe.interface_groups, audit.py), not called by the mirror playbook yet",
    **{action: "address lists (references: addresses, address_lists.py): the default run drops references"
       for action in ("ec2:DescribeManagedPrefixLists", "ec2:GetManagedPrefixListEntries", "ec2:CreateManagedPrefixList",
                      "ec2:ModifyManagedPrefixList", "ec2:DeleteManagedPrefixList")},
}
PLAYBOOK_ARGS = ("-e", "mirror_classic_vpc_id=default", "-e", "mirror_prune=true", "-e", "mirror_enable_classiclink=true")


def test_full_mirror_and_link_run_succeeds_with_exactly_the_policy(iam_moto):
    admin = iam_moto.fresh_account()
    ec2 = iam_moto.client("ec2", admin)
    world = build_world(ec2)
    policy = load_policy()
    env = env_for(iam_moto, iam_moto.user("mirror-runner", moto_variant(policy)))
    iam_moto.harness.reset_calls()

    first = runner.run_playbook("classiclink.mirror.mirror", *PLAYBOOK_ARGS, env=env)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-2000:]
    calls = iam_moto.harness.calls()

    # What the next run has to follow: description changes (both directions), a revoked rule,
    # an untagged source (its mirror is pruned, its mirroredTo tag removed), a relink.
    ec2.update_security_group_rule_descriptions_ingress(GroupId=world["web"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "lb v2"}]}])
    ec2.revoke_security_group_ingress(GroupId=world["web"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 7000, "ToPort": 7000, "UserIdGroupPairs": [{"GroupId": world["web"]}]}])
    ec2.update_security_group_rule_descriptions_egress(GroupId=world["db"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.1.0.0/16", "Description": "app v2"}]}])
    ec2.delete_tags(Resources=[world["old"]], Tags=[{"Key": LINK_TAG}])
    ec2.modify_instance_attribute(InstanceId=world["instance"], Groups=[world["web"], world["ssh"]])
    iam_moto.harness.reset_calls()

    second = runner.run_playbook("classiclink.mirror.mirror", *PLAYBOOK_ARGS, env=env)
    assert second.returncode == 0, second.stdout[-6000:] + second.stderr[-2000:]

    calls = [c for c in calls + iam_moto.harness.calls() if c["service"] == "ec2"]  # the two runs'
    refused = [c for c in calls if c["status"] >= 400]
    assert refused == [], refused
    used = {"ec2:" + c["action"] for c in calls}
    assert used <= policy_actions(policy), "the run used an action the policy does not list"
    unused = policy_actions(policy) - used
    assert unused <= set(NOT_IN_THE_PLAYBOOK_RUN), f"every action of the policy is used by the run, except: {unused}"
    target = world["target"]
    web_m, ssh_m, db_m = (mirror_of(ec2, world[name], target) for name in ("web", "ssh", "db"))
    assert web_m and ssh_m and db_m and mirror_of(ec2, world["old"], target) is None
    linked = ec2.describe_classic_link_instances()["Instances"]
    assert [(i["InstanceId"], i["VpcId"], sorted(g["GroupId"] for g in i["Groups"])) for i in linked] == [
        (world["instance"], target, sorted([web_m["GroupId"], ssh_m["GroupId"]]))]


MISSING = {
    # action left out -> (module, args, resource the message must name)
    "ec2:AuthorizeSecurityGroupIngress": ("classiclink_mirror_group", {"source_group": "web"}, "web"),
    "ec2:DescribeSecurityGroups": ("classiclink_mirror_group", {"source_group": "web"}, "security groups"),
    "ec2:CreateSecurityGroup": ("classiclink_mirror_group", {"source_group": "web"}, "web"),
    "ec2:AttachClassicLinkVpc": ("classiclink_instance_link", {}, "instance"),
}


@pytest.mark.parametrize("action", list(MISSING), ids=[a.split(":")[1] for a in MISSING])
def test_a_missing_action_is_reported_by_name(iam_moto, action):
    admin = iam_moto.fresh_account()
    ec2 = iam_moto.client("ec2", admin)
    world = build_world(ec2)
    ec2.enable_vpc_classic_link(VpcId=world["target"])
    full = env_for(iam_moto, iam_moto.user("full", moto_variant(load_policy())))
    module, args, resource = MISSING[action]
    if module == "classiclink_instance_link":  # mirrors first, with the full policy
        assert runner.run_module("classiclink_mirror_group", {"all_sources": True, "classic_vpc_id": "default"}, full).rc == 0
        args = {"instance_id": world["instance"], "classic_vpc_id": "default"}
        resource = world["instance"]
    env = env_for(iam_moto, iam_moto.user("short", moto_variant(without(load_policy(), action))))

    result = runner.run_module(module, {**args, "classic_vpc_id": "default"}, env)

    assert result.rc != 0
    assert action in result["msg"], result["msg"]
    assert resource in result["msg"], result["msg"]
    # with the action granted again, the same call converges
    again = runner.run_module(module, {**args, "classic_vpc_id": "default"}, full)
    assert again.rc == 0, again.get("msg")


def test_playbook_failure_names_the_missing_action(iam_moto):
    admin = iam_moto.fresh_account()
    build_world(iam_moto.client("ec2", admin))
    env = env_for(iam_moto, iam_moto.user(
        "short", moto_variant(without(load_policy(), "ec2:AuthorizeSecurityGroupIngress"))))

    run = runner.run_playbook("classiclink.mirror.mirror", *PLAYBOOK_ARGS, env=env)

    assert run.returncode != 0
    failure = [line for line in run.stdout.splitlines() if "failures:" in line]
    assert failure and "ec2:AuthorizeSecurityGroupIngress" in failure[-1] and "web" in failure[-1], run.stdout[-5000:]


# --------------------------------------------------------------------------- the target side, under moto IAM

TARGET_ACCOUNT = "444455556666"
TARGET_ROLE = "arn:aws:iam::{account}:role/classiclink-mirror-target"
ADDRESSES_OF = iam_policy.ADDRESSES_OF_TAG


def test_cross_account_run_with_address_lists_succeeds_with_exactly_the_generated_source_target_and_trust_policies(iam_moto):
    """A source-account user with the generated source policy; in another account, the role the collection
    assumes (``target_role_arn``) with the generated target policy and trust policy. One VPC source whose
    link tag is a VPC ARN of the other account, allowing a group with no link tag (unmanaged): with
    ``references: addresses`` the mirror refers to that group's address list, created in the target
    account. The run succeeds, no call is refused. Then the target policy without
    ``ec2:ModifyManagedPrefixList``: a new member of the referenced group makes the next run change the
    list, and it fails with AccessDenied naming that action; with the policy restored it converges.

    What moto checks (as for the source side, see moto_variant and docs/iam.md): the signature and the
    actions of the policies of the caller -- the user's, then the assumed role's (moto's STS AssumeRole
    returns credentials of the role's account, whose IAM role must exist). It authorizes every request
    against the resource "*", so the policies are applied as moto_variant (Resource "*"); it evaluates
    no condition; and, since the resource is "*", it never reads the trust policy (sts:ExternalId and the
    principal are not checked: tests/security/test_iam_policies.py checks the trust policy as a document
    and parliament lints it). The trust policy is nevertheless the role's AssumeRolePolicyDocument here.
    """
    from tests.integration.ec2_world import allow, make_group, tcp

    admin = iam_moto.fresh_accounts(TARGET_ACCOUNT)
    home, other = iam_moto.client("ec2", admin), iam_moto.client("ec2", iam_moto.admins[TARGET_ACCOUNT])
    source_vpc = home.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = home.create_subnet(VpcId=source_vpc, CidrBlock="10.20.0.0/20")["Subnet"]["SubnetId"]
    target = other.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    target_arn = f"arn:aws:ec2:us-east-1:{TARGET_ACCOUNT}:vpc/{target}"
    peer = make_group(home, "peer", vpc_id=source_vpc)  # no link tag: unmanaged, listed by address
    web = make_group(home, "web", vpc_id=source_vpc, link=target_arn)
    allow(home, web, tcp(5432, group=peer, description="db from peer"))

    def launch_member() -> str:
        instance = home.run_instances(ImageId=CLASSIC_AMI_ID, MinCount=1, MaxCount=1, InstanceType="t3.micro", NetworkInterfaces=[
            {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [peer], "DeleteOnTermination": True}])["Instances"][0]
        return "%s/32" % instance["PrivateIpAddress"]

    members = [launch_member()]
    source_account = iam_moto.client("sts", admin).get_caller_identity()["Account"]
    documents = iam_policy.policies(iam_policy.deployment_from_args(iam_policy.parser().parse_args([
        "--source-account", source_account, "--region", "us-east-1", "--target-vpc", target_arn,
        "--target-role-arn", TARGET_ROLE, "--external-id", "mirror-ext"])))
    assert sorted(documents) == ["source-policy.json", f"target-policy-{TARGET_ACCOUNT}.json", f"trust-policy-{TARGET_ACCOUNT}.json"]
    target_policy, trust = documents[f"target-policy-{TARGET_ACCOUNT}.json"], documents[f"trust-policy-{TARGET_ACCOUNT}.json"]
    role_admin = iam_moto.admins[TARGET_ACCOUNT]
    assert iam_moto.role(role_admin, "classiclink-mirror-target", moto_variant(target_policy), trust) == \
        TARGET_ROLE.format(account=TARGET_ACCOUNT)
    env = env_for(iam_moto, iam_moto.user("mirror-runner", moto_variant(documents["source-policy.json"])))
    args = {"source_group": web, "target_role_arn": TARGET_ROLE, "target_role_external_id": "mirror-ext", "references": "addresses"}
    iam_moto.harness.reset_calls()

    result = runner.run_module("classiclink_mirror_group", args, env)

    assert result.rc == 0, result.get("msg")
    calls = [c for c in iam_moto.harness.calls() if c["service"] in ("ec2", "sts")]
    assert [c for c in calls if c["status"] >= 400] == []
    used = {c["action"] for c in calls if c["service"] == "ec2"}
    assert {"CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "CreateManagedPrefixList"} <= used, used
    lists = [pl for pl in other.describe_managed_prefix_lists()["PrefixLists"]
             if ADDRESSES_OF in {t["Key"] for t in pl.get("Tags", [])}]
    assert len(lists) == 1 and lists[0]["OwnerId"] == TARGET_ACCOUNT
    list_id = lists[0]["PrefixListId"]

    def entries() -> list:
        return sorted(e["Cidr"] for e in other.get_managed_prefix_list_entries(PrefixListId=list_id)["Entries"])

    assert entries() == members
    mirror = mirror_of(other, f"arn:aws:ec2:us-east-1:{source_account}:security-group/{web}", target)
    assert mirror is not None and mirror["OwnerId"] == TARGET_ACCOUNT
    assert [p.get("PrefixListId") for rule in mirror["IpPermissions"] for p in rule.get("PrefixListIds", [])] == [list_id]
    assert not home.describe_managed_prefix_lists(
        Filters=[{"Name": "owner-id", "Values": [source_account]}])["PrefixLists"], "no address list in the source account"

    # one action fewer in the target policy: the run that needs it fails naming it
    members.append(launch_member())
    iam_moto.role(role_admin, "classiclink-mirror-target", moto_variant(without(target_policy, "ec2:ModifyManagedPrefixList")), trust)
    short = runner.run_module("classiclink_mirror_group", args, env)
    assert short.rc != 0
    report = short.stdout
    assert "ec2:ModifyManagedPrefixList" in report and "AccessDenied" in report, report[-3000:]
    assert entries() == members[:1]

    iam_moto.role(role_admin, "classiclink-mirror-target", moto_variant(target_policy), trust)
    again = runner.run_module("classiclink_mirror_group", args, env)
    assert again.rc == 0, again.get("msg")
    assert entries() == sorted(members)
