"""The scopes inventory plugin (classiclink.mirror.scopes) against moto Organizations.

``ansible-inventory --list`` and ``ansible-playbook`` run as subprocesses, as a
user would run them, with the moto harness as their AWS endpoint; the calls
the plugin makes are counted at the harness.  The organization:

    root
    |- legacy              alpha (team=payments, classic=yes)
    |  `- legacy-eu        beta (team=search, classic=yes, lifecycle=retiring)
    |                      delta (classic=yes), closed -> SUSPENDED
    |- modern              gamma (classic=no)
    |- epsilon             (no tags)
    `- master              the management account, 123456789012
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config

from tests.support.devpaths import REPO_ROOT
from tests.support.harness_env import harness_env
from tests.support.world import build_world, classic_links, mirror_of

from ansible_collections.classiclink.mirror.plugins.inventory import scopes as plugin

ANSIBLE_INVENTORY = str(REPO_ROOT / ".venv" / "bin" / "ansible-inventory")
ANSIBLE_PLAYBOOK = str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook")
ASSUME_ROLE_PLAYBOOK = "playbooks/mirror.yml"
MANAGEMENT = "123456789012"  # moto's default account, the organization's management account
ACCESS_ROLE = "OrganizationAccountAccessRole"  # made by moto in every account it creates
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


# --- the organization ---------------------------------------------------------------------------------


@dataclass
class Org:
    root: str
    ous: dict[str, str]  # name -> id
    accounts: dict[str, str]  # name -> id (master, alpha, beta, gamma, delta, epsilon)

    def ids(self, *names: str) -> set[str]:
        return {self.accounts[n] for n in names}


@pytest.fixture
def org(aws_client) -> Org:
    client = aws_client("organizations")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]

    def ou(name: str, parent: str) -> str:
        return client.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]

    ous = {"legacy": ou("legacy", root)}
    ous["legacy-eu"] = ou("legacy-eu", ous["legacy"])
    ous["modern"] = ou("modern", root)

    accounts = {"master": MANAGEMENT}

    def account(name: str, parent: str | None, **tags: str) -> None:
        status = client.create_account(AccountName=name, Email=f"{name}@example.com",
                                       Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        accounts[name] = account_id = status["CreateAccountStatus"]["AccountId"]
        if parent:
            client.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)

    account("alpha", ous["legacy"], team="payments", classic="yes")
    account("beta", ous["legacy-eu"], team="search", classic="yes", lifecycle="retiring")
    account("gamma", ous["modern"], classic="no")
    account("delta", ous["legacy-eu"], classic="yes")
    account("epsilon", None)
    client.close_account(AccountId=accounts["delta"])
    states = {a["Id"]: a["State"] for a in client.list_accounts()["Accounts"]}
    assert states[accounts["delta"]] == "SUSPENDED" and states[accounts["alpha"]] == "ACTIVE"
    return Org(root, ous, accounts)


# --- running ansible-inventory -------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """ansible-inventory --list JSON without ansible-core 2.19's ``{"__ansible_unsafe": ...}`` wrappers."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return plain(value["__ansible_unsafe"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass
class Inventory:
    rc: int
    stdout: str
    stderr: str
    data: dict[str, Any]

    @property
    def hostvars(self) -> dict[str, dict[str, Any]]:
        return self.data.get("_meta", {}).get("hostvars", {})

    def hosts(self, group: str = "mirror_scopes") -> set[str]:
        return set(self.data.get(group, {}).get("hosts", []))

    def accounts(self) -> set[str]:
        return {v["aws_account_id"] for v in self.hostvars.values()}

    def explain(self) -> str:
        return f"rc={self.rc}\n--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"


@pytest.fixture
def inventory(aws_env: dict[str, str], tmp_path: Path):
    """``inventory(config, name="test.aws_scopes.yml", env=None, args=())`` -> Inventory (ansible-inventory --list)."""

    def run(config: dict[str, Any] | str, name: str = "test.aws_scopes.yml", env: dict[str, str] | None = None,
            args: tuple[str, ...] = ()) -> Inventory:
        path = tmp_path / name
        path.write_text(config if isinstance(config, str) else yaml.safe_dump(
            {"plugin": "classiclink.mirror.scopes", **config}, sort_keys=False))
        proc = subprocess.run([ANSIBLE_INVENTORY, "-i", str(path), "--list", *args], cwd=REPO_ROOT,
                              env=env or aws_env, capture_output=True, text=True, timeout=120, check=False)
        try:
            data = plain(json.loads(proc.stdout)) if proc.returncode == 0 else {}
        except ValueError:
            data = {}
        return Inventory(proc.returncode, proc.stdout, proc.stderr, data)

    return run


def actions(moto: Any, service: str | None = None) -> list[str]:
    return [c["action"] for c in moto.calls() if service is None or c["service"] == service]


def scope_names(ids: set[str], regions: tuple[str, ...]) -> set[str]:
    return {f"{a}-{r}" for a in ids for r in regions}


# --- accounts -------------------------------------------------------------------------------------------


def test_plain_accounts_and_regions_make_no_aws_call(inventory, moto):
    inv = inventory({"accounts": ["111111111111", {"id": "222222222222", "name": "two"}],
                     "regions": ["us-east-1", "eu-west-1"]})
    assert inv.rc == 0, inv.explain()
    assert inv.hosts() == scope_names({"111111111111", "222222222222"}, ("us-east-1", "eu-west-1"))
    assert inv.hostvars["222222222222-eu-west-1"] == {
        "aws_account_id": "222222222222", "aws_account_name": "two", "aws_region": "eu-west-1"}
    assert inv.hostvars["111111111111-us-east-1"]["aws_account_name"] == ""
    assert "mirror_role_arn" not in inv.hostvars["111111111111-us-east-1"]
    assert actions(moto) == []


def test_whole_organization_active_accounts_only(inventory, moto, org):
    moto.reset_calls()
    # Only AWS_ENDPOINT_URL, botocore's own variable (not amazon.aws's AWS_URL), points at the harness.
    inv = inventory({"regions": ["us-east-1"]}, env=harness_env(moto.url, AWS_URL=None))
    assert inv.rc == 0, inv.explain()
    assert inv.accounts() == org.ids("master", "alpha", "beta", "gamma", "epsilon")  # not delta (SUSPENDED)
    assert inv.hosts() == scope_names(inv.accounts(), ("us-east-1",))
    alpha = inv.hostvars[f"{org.accounts['alpha']}-us-east-1"]
    assert alpha == {"aws_account_id": org.accounts["alpha"], "aws_account_name": "alpha", "aws_region": "us-east-1"}
    assert actions(moto) == ["ListAccounts"]  # no tag filters: no ListTagsForResource


def test_organizational_units_recurse_into_child_units(inventory, moto, org):
    moto.reset_calls()
    inv = inventory({"organizational_units": [org.ous["legacy"]], "regions": ["us-east-1"]})
    assert inv.rc == 0, inv.explain()
    assert inv.accounts() == org.ids("alpha", "beta")  # beta from the child OU; delta is SUSPENDED
    by_account = {v["aws_account_id"]: v for v in inv.hostvars.values()}
    assert by_account[org.accounts["alpha"]]["aws_organizational_unit_id"] == org.ous["legacy"]
    assert by_account[org.accounts["beta"]]["aws_organizational_unit_id"] == org.ous["legacy-eu"]
    calls = actions(moto)
    assert sorted(calls) == sorted(["ListAccountsForParent", "ListOrganizationalUnitsForParent"] * 2)

    # several units, and a root id, each account once
    inv = inventory({"organizational_units": [org.ous["modern"], org.ous["legacy-eu"]], "regions": ["us-east-1"]})
    assert inv.accounts() == org.ids("beta", "gamma"), inv.explain()
    inv = inventory({"organizational_units": [org.root, org.ous["legacy"]], "regions": ["us-east-1"]})
    assert inv.accounts() == org.ids("master", "alpha", "beta", "gamma", "epsilon"), inv.explain()


def test_include_and_exclude_accounts_by_id(inventory, org):
    a = org.accounts
    inv = inventory({"include_accounts": [a["alpha"], a["beta"], a["gamma"], a["delta"]],
                     "exclude_accounts": [a["beta"]], "regions": ["us-east-1"]})
    assert inv.rc == 0, inv.explain()
    assert inv.accounts() == org.ids("alpha", "gamma")  # delta is included by id but SUSPENDED

    inv = inventory({"exclude_accounts": [MANAGEMENT], "regions": ["us-east-1"]})
    assert inv.accounts() == org.ids("alpha", "beta", "gamma", "epsilon"), inv.explain()

    # the id filters apply to a plain list too
    inv = inventory({"accounts": ["111111111111", "222222222222"], "exclude_accounts": ["222222222222"],
                     "regions": ["us-east-1"]})
    assert inv.accounts() == {"111111111111"}, inv.explain()


def test_include_and_exclude_accounts_by_tag(inventory, moto, org):
    moto.reset_calls()
    inv = inventory({"include_account_tags": {"classic": "yes"}, "exclude_account_tags": {"lifecycle": ["retiring"]},
                     "regions": ["us-east-1"]})
    assert inv.rc == 0, inv.explain()
    assert inv.accounts() == org.ids("alpha")
    alpha = inv.hostvars[f"{org.accounts['alpha']}-us-east-1"]
    assert alpha["aws_account_tags"] == {"team": "payments", "classic": "yes"}
    # one ListTagsForResource per ACTIVE account, none for the suspended one
    assert sorted(actions(moto)) == sorted(["ListAccounts"] + ["ListTagsForResource"] * 5)

    # null: the tag must be present, any value; a list: any of the values; include needs every key
    inv = inventory({"include_account_tags": {"team": None}, "regions": ["us-east-1"]})
    assert inv.accounts() == org.ids("alpha", "beta"), inv.explain()
    inv = inventory({"include_account_tags": {"classic": ["yes", "no"], "team": None}, "regions": ["us-east-1"]})
    assert inv.accounts() == org.ids("alpha", "beta"), inv.explain()
    inv = inventory({"exclude_account_tags": {"classic": None}, "regions": ["us-east-1"]})
    assert inv.accounts() == org.ids("master", "epsilon"), inv.explain()

    # with OUs, and with a plain list of member accounts
    inv = inventory({"organizational_units": [org.ous["legacy"]], "exclude_account_tags": {"team": "search"},
                     "regions": ["us-east-1"]})
    assert inv.accounts() == org.ids("alpha"), inv.explain()
    inv = inventory({"accounts": [org.accounts["gamma"], org.accounts["alpha"]],
                     "include_account_tags": {"classic": "no"}, "regions": ["us-east-1"]})
    assert inv.accounts() == org.ids("gamma"), inv.explain()


# --- regions --------------------------------------------------------------------------------------------


def test_regions_default_to_the_enabled_regions(inventory, moto, ec2):
    every = ec2.describe_regions(AllRegions=True)["Regions"]
    enabled = {r["RegionName"] for r in every if r["OptInStatus"] in ("opt-in-not-required", "opted-in")}
    not_opted_in = {r["RegionName"] for r in every if r["OptInStatus"] == "not-opted-in"}
    assert not_opted_in, "moto should list some opt-in regions as not opted in"
    moto.reset_calls()

    inv = inventory({"accounts": ["111111111111"]})
    assert inv.rc == 0, inv.explain()
    regions = {v["aws_region"] for v in inv.hostvars.values()}
    assert {"us-east-1", "eu-west-1", "us-west-2"} <= regions
    assert regions == enabled and not regions & not_opted_in
    assert [(c["service"], c["action"]) for c in moto.calls()] == [("ec2", "DescribeRegions")]

    # an empty list is the same as none; a region given twice is one scope
    assert inventory({"accounts": ["111111111111"], "regions": []}).hosts() == inv.hosts()
    inv = inventory({"accounts": ["111111111111"], "regions": ["eu-west-1", "eu-west-1", "{{ 'us-east-1' }}"]})
    assert inv.hosts() == {"111111111111-eu-west-1", "111111111111-us-east-1"}, inv.explain()


# --- host variables, names, constructed -------------------------------------------------------------------


def test_role_arn_external_id_and_hostname_template(inventory, org):
    inv = inventory({"include_accounts": [org.accounts["alpha"]], "regions": ["us-east-1", "eu-west-1"],
                     "role_arn": "arn:aws:iam::{account}:role/classiclink-mirror",
                     "role_external_id": "mirror-{account_name}",
                     "hostname_template": "{account_name}.{region}"})
    assert inv.rc == 0, inv.explain()
    assert inv.hosts() == {"alpha.us-east-1", "alpha.eu-west-1"}
    assert inv.hostvars["alpha.eu-west-1"] == {
        "aws_account_id": org.accounts["alpha"],
        "aws_account_name": "alpha",
        "aws_region": "eu-west-1",
        "mirror_role_arn": f"arn:aws:iam::{org.accounts['alpha']}:role/classiclink-mirror",
        "mirror_role_external_id": "mirror-alpha",
    }


def test_constructed_keyed_groups_compose_and_groups(inventory, org):
    inv = inventory({
        "organizational_units": [org.ous["legacy"], org.ous["modern"]],
        "regions": ["us-east-1", "eu-west-1"],
        "fetch_account_tags": True,
        "keyed_groups": [{"key": "aws_region", "prefix": "region"},
                         {"key": "aws_account_tags.team | default('none')", "prefix": "team"}],
        "compose": {"mirror_prune": "aws_account_name == 'alpha'", "ansible_connection": "'local'"},
        "groups": {"classic": "aws_account_tags.classic | default('') == 'yes'"},
    })
    assert inv.rc == 0, inv.explain()
    a, b, g = (org.accounts[n] for n in ("alpha", "beta", "gamma"))
    assert inv.hosts("region_us_east_1") == {f"{a}-us-east-1", f"{b}-us-east-1", f"{g}-us-east-1"}
    assert inv.hosts("region_eu_west_1") == {f"{a}-eu-west-1", f"{b}-eu-west-1", f"{g}-eu-west-1"}
    assert inv.hosts("team_payments") == {f"{a}-us-east-1", f"{a}-eu-west-1"}
    assert inv.hosts("team_none") == {f"{g}-us-east-1", f"{g}-eu-west-1"}
    assert inv.hosts("classic") == scope_names({a, b}, ("us-east-1", "eu-west-1"))
    assert inv.hostvars[f"{a}-us-east-1"]["mirror_prune"] is True
    assert inv.hostvars[f"{b}-us-east-1"]["mirror_prune"] is False
    assert inv.hostvars[f"{g}-eu-west-1"]["aws_account_tags"] == {"classic": "no"}
    assert {v["ansible_connection"] for v in inv.hostvars.values()} == {"local"}
    # every host is in mirror_scopes as well
    assert inv.hosts() == scope_names({a, b, g}, ("us-east-1", "eu-west-1"))


# --- cache ----------------------------------------------------------------------------------------------


def test_cache_answers_the_second_run_until_the_selection_changes(inventory, moto, org, tmp_path):
    cache_dir = tmp_path / "cache"
    config = {"regions": ["us-east-1"], "include_account_tags": {"classic": "yes"},
              "role_arn": "arn:aws:iam::{account}:role/one",
              "cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(cache_dir)}
    moto.reset_calls()
    first = inventory(config)
    assert first.rc == 0, first.explain()
    assert first.accounts() == org.ids("alpha", "beta")
    assert "ListAccounts" in actions(moto)
    assert [p.name for p in cache_dir.iterdir()], "the jsonfile cache should hold an entry"

    moto.reset_calls()
    config["role_arn"] = "arn:aws:iam::{account}:role/two"  # not part of the selection: the cache still answers
    second = inventory(config)
    assert second.rc == 0, second.explain()
    assert actions(moto) == [], "the second run should be answered from the cache"
    assert second.accounts() == first.accounts()
    assert {v["mirror_role_arn"].rsplit("/", 1)[1] for v in second.hostvars.values()} == {"two"}

    # an account closed meanwhile is still listed from the cache...
    aws = boto3.client("organizations", region_name="us-east-1", endpoint_url=moto.url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    aws.close_account(AccountId=org.accounts["beta"])
    moto.reset_calls()
    assert inventory(config).accounts() == org.ids("alpha", "beta")
    assert actions(moto) == []
    # ...until --flush-cache, or a change of the options that select the scopes
    assert inventory(config, args=("--flush-cache",)).accounts() == org.ids("alpha")
    assert "ListAccounts" in actions(moto)
    aws.close_account(AccountId=org.accounts["alpha"])
    moto.reset_calls()
    config["exclude_accounts"] = [MANAGEMENT]
    assert inventory(config).accounts() == set()
    assert "ListAccounts" in actions(moto)


# --- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"accounts": ["12345"]}, "'12345' is not an AWS account id"),
        ({"accounts": [{"name": "x"}]}, "has no id"),
        ({"accounts": ["111111111111"], "exclude_accounts": ["abc"]}, "exclude_accounts: 'abc'"),
        ({"accounts": ["111111111111"], "role_arn": "arn:aws:iam::{acount}:role/x"}, "unknown field {acount}"),
        ({"accounts": ["111111111111"], "regions": ["us-east-1", "eu-west-1"], "hostname_template": "{account}"},
         "gives two scopes the same name '111111111111'"),
        ({"accounts": ["111111111111"], "include_account_tags": {"team": {"a": "b"}}},
         "must be a string, a list of strings or null"),
    ],
    ids=["short-id", "no-id", "bad-exclude", "unknown-field", "duplicate-names", "tag-value-dict"],
)
def test_bad_options_fail_before_listing_anything(inventory, moto, config, message):
    inv = inventory({"regions": ["us-east-1"], **config}, args=("-vvv",))
    assert inv.rc != 0 or not inv.hosts(), inv.explain()
    assert message in inv.stdout + inv.stderr, inv.explain()
    assert actions(moto) == []


def test_unquoted_account_id_is_refused_not_guessed(inventory, moto):
    # 012345670123 unquoted is an octal number in YAML 1.1: the plugin cannot know the id meant.
    inv = inventory("plugin: classiclink.mirror.scopes\naccounts: [012345670123]\nregions: [us-east-1]\n",
                    args=("-vvv",))
    assert "quote account ids" in inv.stdout + inv.stderr, inv.explain()
    assert not inv.hosts()


def test_an_organizations_error_is_a_clear_error(inventory, moto, org):
    missing = "ou-" + org.root[2:] + "-zzzzzzzz"
    inv = inventory({"organizational_units": [missing], "regions": ["us-east-1"]}, args=("-vvv",))
    assert not inv.hosts()
    assert f"Failed to list the accounts of {missing}" in inv.stdout + inv.stderr, inv.explain()
    # with ANSIBLE_INVENTORY_UNPARSED_FAILED, the run fails
    env = harness_env(moto.url, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    failed = inventory({"organizational_units": [missing], "regions": ["us-east-1"]}, env=env)
    assert failed.rc != 0 and "Failed to list the accounts of" in failed.stderr, failed.explain()


def test_empty_account_list_means_no_scopes(inventory, moto, org):
    moto.reset_calls()
    inv = inventory({"accounts": [], "regions": ["us-east-1"]})
    assert inv.rc == 0, inv.explain()
    assert inv.hostvars == {} and actions(moto, "organizations") == []
    assert "the option accounts is an empty list" in inv.stderr


def test_files_not_named_scopes_yml_are_not_this_plugins(inventory, moto):
    inv = inventory({"accounts": ["111111111111"], "regions": ["us-east-1"]}, name="test.aws_ec2.yml",
                    args=("-vvv",))
    assert not inv.hosts()


# --- the filters, in-process ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "active"),
    [
        ({"Status": "ACTIVE", "State": "ACTIVE"}, True),
        ({"Status": "ACTIVE"}, True),  # before State existed
        ({"State": "ACTIVE"}, True),  # after Status is gone
        ({"Status": "SUSPENDED", "State": "SUSPENDED"}, False),
        ({"Status": "PENDING_CLOSURE", "State": "PENDING_CLOSURE"}, False),
        ({"Status": "ACTIVE", "State": "CLOSED"}, False),  # State wins
        ({"State": "PENDING_ACTIVATION"}, False),
        ({}, False),
    ],
)
def test_only_active_accounts_are_scopes(account, active):
    assert plugin.is_active({"Id": "111111111111", **account}) is active


def test_tag_and_account_id_helpers():
    tags = {"team": "payments", "classic": "yes"}
    assert plugin.tags_selected(tags, {"classic": "yes", "team": None}, {})
    assert not plugin.tags_selected(tags, {"classic": "yes", "owner": None}, {})
    assert not plugin.tags_selected(tags, {}, {"team": ["search", "payments"]})
    assert plugin.tags_selected(tags, {"classic": ["no", "yes"]}, {"lifecycle": None})
    assert plugin.tag_matches({"n": "1"}, "n", 1)  # YAML numbers compare as strings
    assert plugin.normalize_account_id(111111111111) == "111111111111"
    assert plugin.normalize_account_entry({"id": "012345678901", "name": "x"}) == {"id": "012345678901", "name": "x"}
    for bad in (True, 1234, "1234567890123", " ", {"id": "1", "nme": "x"}):
        with pytest.raises(ValueError):
            plugin.normalize_account_entry(bad)


# --- the playbook ----------------------------------------------------------------------------------------


def run_playbook(playbook: Path | str, inventory_file: Path, env: dict[str, str], *args: str):
    cmd = [ANSIBLE_PLAYBOOK, str(playbook), "-i", str(inventory_file), "-e", "mirror_classic_vpc_id=default", *args]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
    recap = {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "failed": int(m.group(5))}
             for m in RECAP.finditer(proc.stdout)}
    return proc, recap


def test_mirror_playbook_takes_the_inventory_as_is(aws_env, moto, ec2, tmp_path):
    world = build_world(ec2)
    source = tmp_path / "check.aws_scopes.yml"
    source.write_text(yaml.safe_dump({"plugin": "classiclink.mirror.scopes", "accounts": [MANAGEMENT],
                                      "regions": ["us-east-1"]}))
    moto.reset_calls()
    proc, recap = run_playbook("playbooks/mirror.yml", source, aws_env, "--check", "--diff")
    explain = f"rc={proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, explain
    assert recap[f"{MANAGEMENT}-us-east-1"]["failed"] == 0, explain
    assert "new-mirror-of-" + world.backend_group_id in proc.stdout, explain  # the scope saw the estate
    assert [c for c in moto.calls() if c["mutating"]] == [], explain
    assert mirror_of(ec2, world, world.backend_group_id) is None


def member_ec2(url: str, role_arn: str, region: str = "us-east-1") -> Any:
    """EC2 client in a member account: moto maps assumed-role keys to the role's account."""
    sts = boto3.client("sts", region_name=region, endpoint_url=url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="test")["Credentials"]
    return boto3.client("ec2", region_name=region, endpoint_url=url, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
                        config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


def test_the_role_accepts_the_names_the_playbook_uses_to_assume_roles():
    from ansible_collections.classiclink.mirror.plugins.filter.mirror_unknown_vars import mirror_unknown_vars

    names = ["mirror_role_arn", "mirror_role_external_id"]
    assert mirror_unknown_vars(names, []) == []


def test_mirror_playbook_never_runs_a_role_scope_with_the_callers_credentials(aws_env, moto, org, ec2, tmp_path):
    """playbooks/mirror.yml with scopes that name a role: it assumes the role, or it refuses to run (never both
    silently ignoring the role and changing the account of the credentials it was started with)."""
    world = build_world(ec2)
    source = tmp_path / "roles.aws_scopes.yml"
    source.write_text(yaml.safe_dump({"plugin": "classiclink.mirror.scopes", "include_accounts": [org.accounts["alpha"]],
                                      "regions": ["us-east-1"], "role_arn": "arn:aws:iam::{account}:role/" + ACCESS_ROLE}))
    proc, _recap = run_playbook("playbooks/mirror.yml", source, aws_env)
    explain = f"rc={proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert mirror_of(ec2, world, world.backend_group_id) is None, explain
    assert classic_links(ec2) == {}, explain


def test_playbook_assumes_each_scopes_role(aws_env, moto, org, ec2, tmp_path):
    """playbooks/mirror.yml assumes the role of every scope that names one (mirror_role_arn)."""
    role = "arn:aws:iam::{account}:role/" + ACCESS_ROLE
    alpha_ec2 = member_ec2(moto.url, role.format(account=org.accounts["alpha"]))
    alpha_world = build_world(alpha_ec2)
    management_world = build_world(ec2)
    source = tmp_path / "roles.aws_scopes.yml"
    source.write_text(yaml.safe_dump({"plugin": "classiclink.mirror.scopes", "include_accounts": [org.accounts["alpha"]],
                                      "regions": ["us-east-1"], "role_arn": role,
                                      "role_external_id": "classiclink-mirror"}))

    moto.reset_calls()
    check, recap = run_playbook(ASSUME_ROLE_PLAYBOOK, source, aws_env, "--check")
    explain = f"rc={check.returncode}\n{check.stdout[-6000:]}\n{check.stderr[-3000:]}"
    assert check.returncode == 0 and recap[f"{org.accounts['alpha']}-us-east-1"]["failed"] == 0, explain
    assert [c["action"] for c in moto.calls() if c["mutating"]] == ["AssumeRole"], explain
    assert "sts_creds" not in check.stdout and "SecretAccessKey" not in check.stdout  # no_log

    real, recap = run_playbook(ASSUME_ROLE_PLAYBOOK, source, aws_env)
    explain = f"rc={real.returncode}\n{real.stdout[-6000:]}\n{real.stderr[-3000:]}"
    assert real.returncode == 0, explain
    # the mirrors and links are in alpha's account, nothing in the management account
    assert mirror_of(alpha_ec2, alpha_world, alpha_world.backend_group_id) is not None, explain
    assert mirror_of(alpha_ec2, alpha_world, alpha_world.ssh_group_id) is not None, explain
    assert set(classic_links(alpha_ec2)) == set(alpha_world.instance_ids)
    assert mirror_of(ec2, management_world, management_world.backend_group_id) is None
    assert classic_links(ec2) == {}

    # a scope without mirror_role_arn runs with the play's own credentials (the management account)
    plain_source = tmp_path / "plain.aws_scopes.yml"
    plain_source.write_text(yaml.safe_dump({"plugin": "classiclink.mirror.scopes", "accounts": [MANAGEMENT],
                                            "regions": ["us-east-1"]}))
    moto.reset_calls()
    own, recap = run_playbook(ASSUME_ROLE_PLAYBOOK, plain_source, aws_env)
    explain = f"rc={own.returncode}\n{own.stdout[-6000:]}\n{own.stderr[-3000:]}"
    assert own.returncode == 0, explain
    assert "AssumeRole" not in actions(moto), explain
    assert mirror_of(ec2, management_world, management_world.backend_group_id) is not None, explain

    # a scope of another account without a role fails before any change
    other = tmp_path / "other.aws_scopes.yml"
    other.write_text(yaml.safe_dump({"plugin": "classiclink.mirror.scopes", "accounts": [org.accounts["gamma"]],
                                     "regions": ["us-east-1"]}))
    moto.reset_calls()
    wrong, recap = run_playbook(ASSUME_ROLE_PLAYBOOK, other, aws_env)
    explain = f"rc={wrong.returncode}\n{wrong.stdout[-6000:]}\n{wrong.stderr[-3000:]}"
    assert wrong.returncode != 0 and recap[f"{org.accounts['gamma']}-us-east-1"]["failed"] == 1, explain
    assert f"scope account {org.accounts['gamma']}, region us-east-1: the credentials are account {MANAGEMENT}'s" in wrong.stdout, explain
    assert [c for c in moto.calls() if c["mutating"]] == [], explain
