# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: scopes
short_description: One inventory host per (account, region) scope for the classiclink.mirror playbook
version_added: 0.1.0
description:
  - Makes one host per B(scope), a region of an account, in group C(mirror_scopes), the group the playbook
    C(classiclink.mirror.mirror) runs on. Each host has the variables C(aws_account_id), C(aws_account_name),
    C(aws_region) and, with O(role_arn), the role to assume in its account (C(mirror_role_arn),
    C(mirror_role_external_id)).
  - B(Accounts) are the plain list O(accounts) or, without it, the B(ACTIVE) accounts of the AWS Organization
    (C(ListAccounts)), or only those under O(organizational_units) (C(ListAccountsForParent), recursively through
    child OUs with C(ListOrganizationalUnitsForParent)). Suspended or closing accounts are never scopes.
    O(include_accounts), O(exclude_accounts), O(include_account_tags) and O(exclude_account_tags) narrow them.
  - B(Regions) are the list O(regions) or, without it, the regions enabled for the credentials' account
    (C(DescribeRegions), opt-in status V(opt-in-not-required) or V(opted-in)). Every account gets every region.
  - The plugin itself only reads (Organizations C(List*), EC2 C(DescribeRegions)); it assumes no role in the
    member accounts. O(assume_role_arn) is the role the plugin uses for its own calls, for example a read-only role
    in the management account or in a delegated administrator account.
  - The inventory file is a YAML file whose name ends with C(scopes.yml) or C(scopes.yaml), for example
    C(prod.aws_scopes.yml).
  - Constructable (O(compose), O(groups), O(keyed_groups)) and cacheable (O(cache)) like P(amazon.aws.aws_ec2#inventory).
    The cache holds the scopes found (accounts, names, tags, regions); it is ignored when the options that select
    them changed since it was written.
author:
  - classiclink.mirror maintainers (@classiclink-mirror)
requirements:
  - boto3
  - botocore
extends_documentation_fragment:
  - inventory_cache
  - constructed
  - amazon.aws.boto3
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
  - amazon.aws.assume_role.plugins
notes:
  - Host variables, set before O(compose), O(groups) and O(keyed_groups) are applied, so those can use them -
    C(aws_account_id) (12 digits, a string), C(aws_account_name) (the Organizations name, or the C(name) of a
    O(accounts) entry; empty when unknown), C(aws_region), C(mirror_role_arn) and C(mirror_role_external_id) (only
    with O(role_arn) and O(role_external_id)), C(aws_account_tags) (a dict, only when tags were read, see
    O(fetch_account_tags)), and C(aws_organizational_unit_id) (the OU or root directly holding the account, only
    when the accounts come from O(organizational_units)).
  - O(region) (or C(AWS_REGION)) is the region of the plugin's own calls (Organizations, C(DescribeRegions));
    V(us-east-1) when unset. It is not a scope region.
  - Opt-in regions are enabled per account. C(DescribeRegions) runs with the plugin's credentials, so an opt-in region
    enabled there but not in a member account gives that account a scope whose modules will be refused; list
    O(regions) explicitly when member accounts differ.
  - The playbook C(classiclink.mirror.mirror) takes these hosts as they are (C(aws_region) becomes the C(region) of its
    modules). Each scope's module assumes C(mirror_role_arn) (with C(mirror_role_external_id)) itself, and refuses
    credentials of another account than C(aws_account_id); see the collection's docs/howto-scopes-inventory.md.
options:
  plugin:
    description: The name of this plugin; it makes the file an inventory source of this plugin.
    type: str
    required: true
    choices: ['classiclink.mirror.scopes']
  accounts:
    description:
      - The accounts, as a plain list; the AWS Organization is then not asked for accounts.
      - An entry is an account id or a dict with C(id) and an optional C(name) (the C(aws_account_name) of its hosts).
      - Quote account ids, V('012345678901'); YAML reads an unquoted id with a leading zero as a number without that
        zero, or as an octal number, which is an error here.
      - When unset, the accounts come from the AWS Organization (see O(organizational_units)).
      - An empty list means no accounts, hence no hosts (with a warning), not the whole organization.
    type: list
    elements: raw
  organizational_units:
    description:
      - Organizational unit ids (V(ou-...)) or root ids (V(r-...)) whose accounts are scopes, including the accounts of
        every OU below them.
      - When unset (and O(accounts) is unset), every account of the organization (C(ListAccounts)).
      - Ignored when O(accounts) is set.
    type: list
    elements: str
  include_accounts:
    description:
      - Only these account ids (quoted, as in O(accounts)). Empty means no restriction.
      - Applies to O(accounts) too.
    type: list
    elements: str
    default: []
  exclude_accounts:
    description:
      - Never these account ids (the management account, for example).
      - Applies to O(accounts) too.
    type: list
    elements: str
    default: []
  include_account_tags:
    description:
      - Only accounts carrying B(every) one of these Organizations tags. Each value is the tag value to match, a list of
        accepted values, or V(null) for any value (the tag must be present).
      - Tags are read with Organizations C(ListTagsForResource), one call per account left after the id filters; this
        works for O(accounts) too, as long as they are members of the organization.
    type: dict
    default: {}
  exclude_account_tags:
    description:
      - Never accounts carrying B(any) of these Organizations tags; values as in O(include_account_tags).
    type: dict
    default: {}
  fetch_account_tags:
    description:
      - Read the tags of every account (C(ListTagsForResource)) and set them as the host variable C(aws_account_tags),
        for O(keyed_groups) or O(compose) for example.
      - Tags are always read, and set, when O(include_account_tags) or O(exclude_account_tags) is given.
    type: bool
    default: false
  regions:
    description:
      - The regions of every account.
      - When unset or empty, the regions enabled for the plugin's credentials (EC2 C(DescribeRegions), opt-in status
        V(opt-in-not-required) or V(opted-in)).
    type: list
    elements: str
  role_arn:
    description:
      - The role to assume in each scope's account, as a template with the fields C({account}) (the account id),
        C({account_name}) and C({region}), for example V(arn:aws:iam::{account}:role/classiclink-mirror).
      - Rendered into the host variable C(mirror_role_arn). When unset, the hosts have no C(mirror_role_arn) and the
        playbook uses the credentials it was started with.
    type: str
  role_external_id:
    description:
      - The external id for assuming O(role_arn), set as the host variable C(mirror_role_external_id). Same template
        fields as O(role_arn).
    type: str
  hostname_template:
    description:
      - The name of each host, with the fields C({account}), C({account_name}) and C({region}).
      - Names must be unique; a template that gives two scopes the same name is an error.
    type: str
    default: '{account}-{region}'
"""

EXAMPLES = r"""
# prod.aws_scopes.yml - every ACTIVE account of the organization, two regions, the role of each account.
plugin: classiclink.mirror.scopes
regions: [us-east-1, eu-west-1]
role_arn: arn:aws:iam::{account}:role/classiclink-mirror
exclude_accounts: ['111111111111']      # the management account

---
# legacy.aws_scopes.yml - the accounts under two OUs (and their child OUs) tagged classic=yes,
# every enabled region, read through a role of the management account, groups per region and per team.
plugin: classiclink.mirror.scopes
assume_role_arn: arn:aws:iam::111111111111:role/org-reader
organizational_units: [ou-ab12-34cd56ef, ou-ab12-78gh90ij]
include_account_tags:
  classic: 'yes'
exclude_account_tags:
  lifecycle: [retiring, sandbox]
role_arn: arn:aws:iam::{account}:role/classiclink-mirror
role_external_id: classiclink-mirror
keyed_groups:
  - key: aws_region
    prefix: region
  - key: aws_account_tags.team | default('none')
    prefix: team
compose:
  mirror_prune: "'prune' in aws_account_tags"

---
# two.aws_scopes.yml - a plain list of accounts, no Organizations calls.
plugin: classiclink.mirror.scopes
accounts:
  - '222222222222'
  - id: '333333333333'
    name: staging
regions: [us-east-1]
hostname_template: '{account_name}-{region}'
role_arn: arn:aws:iam::{account}:role/classiclink-mirror

---
# cached.aws_scopes.yml - Organizations is asked at most once an hour.
plugin: classiclink.mirror.scopes
regions: [us-east-1]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/classiclink-mirror-scopes
cache_timeout: 3600
"""

import re

try:
    import botocore
except ImportError:
    pass  # reported by AWSInventoryBase.require_aws_sdk

from ansible.plugins.inventory import BaseInventoryPlugin

from ansible_collections.amazon.aws.plugins.plugin_utils.inventory import AWSInventoryBase

GROUP = "mirror_scopes"
ACTIVE = "ACTIVE"
ENABLED_REGION_STATUSES = ("opt-in-not-required", "opted-in")
DEFAULT_API_REGION = "us-east-1"
TEMPLATE_FIELDS = ("account", "account_name", "region")
ACCOUNT_ID_RE = re.compile(r"^\d{12}$")
# Organizations allows few requests per second; let botocore wait and retry when throttled.
RETRY_CONFIG = {"retries": {"mode": "adaptive", "max_attempts": 10}}
# The options that decide which scopes exist; a cache entry written with other values is not used.
SELECTION_OPTIONS = (
    "accounts",
    "organizational_units",
    "include_accounts",
    "exclude_accounts",
    "include_account_tags",
    "exclude_account_tags",
    "fetch_account_tags",
    "regions",
)
CACHE_FORMAT = 1


def normalize_account_id(value, where="accounts"):
    """An account id as 12 digits; YAML may have read it as an int (and dropped leading zeros)."""
    if isinstance(value, bool):
        raise ValueError(f"{where}: {value!r} is not an AWS account id")
    if isinstance(value, int):
        # An unquoted id with a leading zero is lost: YAML reads 0123... as octal, or drops the zero.
        if value < 10 ** 11:
            raise ValueError(f"{where}: {value!r} was read as a number; quote account ids, e.g. '012345678901'")
        value = str(value)
    value = str(value).strip()
    if not ACCOUNT_ID_RE.match(value):
        raise ValueError(f"{where}: {value!r} is not an AWS account id (12 digits)")
    return value


def normalize_account_entry(entry):
    """``{"id": ..., "name": ...}`` from an entry of the ``accounts`` option."""
    if isinstance(entry, dict):
        unknown = sorted(set(entry) - {"id", "name"})
        if unknown:
            raise ValueError(f"accounts: unknown key(s) {', '.join(unknown)} in {entry!r} (expected id, name)")
        if "id" not in entry:
            raise ValueError(f"accounts: {entry!r} has no id")
        return {"id": normalize_account_id(entry["id"]), "name": str(entry.get("name") or "")}
    return {"id": normalize_account_id(entry), "name": ""}


def is_active(account):
    """Whether an Organizations account (ListAccounts item) is ACTIVE.

    ``State`` replaces the deprecated ``Status``; either may be missing.
    """
    state = account.get("State") or account.get("Status")
    return state == ACTIVE


def tag_matches(tags, key, expected):
    """Whether ``tags`` (dict) has ``key`` with a value ``expected`` accepts (str, list of str, None = any)."""
    if key not in tags:
        return False
    if expected is None:
        return True
    if isinstance(expected, (list, tuple)):
        return tags[key] in [str(v) for v in expected]
    return tags[key] == str(expected)


def tags_selected(tags, include, exclude):
    """Include: every key must match; exclude: any matching key drops the account."""
    if any(not tag_matches(tags, key, value) for key, value in include.items()):
        return False
    return not any(tag_matches(tags, key, value) for key, value in exclude.items())


def render(template, option, **fields):
    """``template.format(**fields)`` with a readable error for unknown or bad fields."""
    try:
        return template.format(**fields)
    except KeyError as err:
        raise ValueError(
            f"{option}: unknown field {{{err.args[0]}}} in {template!r}; the fields are "
            + ", ".join("{%s}" % f for f in TEMPLATE_FIELDS)
        ) from None
    except (IndexError, ValueError) as err:
        raise ValueError(f"{option}: {template!r} is not a valid template ({err}); "
                         "literal braces are written {{ and }}") from None


class InventoryModule(AWSInventoryBase):
    NAME = "classiclink.mirror.scopes"
    INVENTORY_FILE_SUFFIXES = ("scopes.yml", "scopes.yaml")

    def __init__(self):
        super().__init__()
        self._org_client = None

    # --- options -----------------------------------------------------------------------------------------

    def get_option(self, option, hostvars=None):
        if option != "regions":
            return super().get_option(option, hostvars)
        # AWSInventoryBase templates every element of a list option with disable_lookups, which ansible-core
        # 2.19 deprecates (a warning on every run); template the regions here instead, lookups allowed.
        value = BaseInventoryPlugin.get_option(self, option, hostvars)
        templar = getattr(self, "templar", None)
        if not value or templar is None:
            return value
        return [templar.template(v) if isinstance(v, str) and templar.is_template(v) else v for v in value]

    def _settings(self):
        """The options, checked and normalised, before any AWS call."""
        settings = {name: self.get_option(name) for name in SELECTION_OPTIONS}
        for name in ("role_arn", "role_external_id", "hostname_template"):
            settings[name] = self.get_option(name)
        try:
            if settings["accounts"] is not None:
                settings["accounts"] = [normalize_account_entry(e) for e in settings["accounts"]]
            for name in ("include_accounts", "exclude_accounts"):
                settings[name] = [normalize_account_id(v, name) for v in settings[name] or []]
            for name in ("include_account_tags", "exclude_account_tags"):
                tags = settings[name] or {}
                for key, value in tags.items():
                    if isinstance(value, dict) or (
                        isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list)) for v in value)
                    ):
                        raise ValueError(f"{name}: the value of {key!r} must be a string, a list of strings or null")
                settings[name] = dict(tags)
            settings["organizational_units"] = [str(ou).strip() for ou in settings["organizational_units"] or []]
            settings["regions"] = [str(r).strip() for r in settings["regions"] or [] if str(r).strip()]
            sample = {"account": "123456789012", "account_name": "name", "region": "us-east-1"}
            for name in ("role_arn", "role_external_id", "hostname_template"):
                if settings[name]:
                    render(settings[name], name, **sample)
            if not settings["hostname_template"]:
                raise ValueError("hostname_template must not be empty")
        except ValueError as err:
            self.fail_aws(str(err))
        return settings

    def _selection(self, settings):
        return {"format": CACHE_FORMAT, **{name: settings[name] for name in SELECTION_OPTIONS}}

    # --- AWS ---------------------------------------------------------------------------------------------

    def _api_region(self):
        return self.region or DEFAULT_API_REGION

    def _organizations(self):
        if self._org_client is None:
            self._org_client = self.client("organizations", region=self._api_region(), config=RETRY_CONFIG)
        return self._org_client

    def _paginate(self, client, operation, key, what, **params):
        try:
            items = []
            for page in client.get_paginator(operation).paginate(**params):
                items.extend(page.get(key, []))
            return items
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
            self.fail_aws(f"Failed to {what}", exception=err)

    def _organization_accounts(self, organizational_units):
        """ACTIVE accounts of the organization, or of the OUs and every OU below them.

        Returns ``[{"id", "name", "ou"?}]``, each account once.
        """
        client = self._organizations()
        found = {}
        if not organizational_units:
            listed = self._paginate(client, "list_accounts", "Accounts", "list the accounts of the organization")
            for account in listed:
                found.setdefault(account["Id"], {"account": account})
        else:
            pending = list(organizational_units)
            seen = set()
            while pending:
                parent = pending.pop(0)
                if parent in seen:
                    continue
                seen.add(parent)
                listed = self._paginate(client, "list_accounts_for_parent", "Accounts",
                                        f"list the accounts of {parent}", ParentId=parent)
                for account in listed:
                    found.setdefault(account["Id"], {"account": account, "ou": parent})
                children = self._paginate(client, "list_organizational_units_for_parent", "OrganizationalUnits",
                                          f"list the organizational units under {parent}", ParentId=parent)
                pending.extend(child["Id"] for child in children)
        accounts = []
        for account_id, item in found.items():
            account = item["account"]
            if not is_active(account):
                continue
            entry = {"id": account_id, "name": account.get("Name") or ""}
            if "ou" in item:
                entry["ou"] = item["ou"]
            accounts.append(entry)
        return accounts

    def _account_tags(self, account_id):
        tags = self._paginate(self._organizations(), "list_tags_for_resource", "Tags",
                              f"list the tags of account {account_id}", ResourceId=account_id)
        return {tag["Key"]: tag.get("Value", "") for tag in tags}

    def _enabled_regions(self):
        client = self.client("ec2", region=self._api_region(), config=RETRY_CONFIG)
        try:
            regions = client.describe_regions(AllRegions=False).get("Regions", [])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
            self.fail_aws("Failed to describe the regions (set the option regions to skip this call)", exception=err)
        return sorted(
            r["RegionName"] for r in regions if r.get("OptInStatus", ENABLED_REGION_STATUSES[0]) in ENABLED_REGION_STATUSES
        )

    # --- the scopes --------------------------------------------------------------------------------------

    def _query(self, settings):
        """The scopes: ``[{"account", "account_name", "region", "tags"?, "ou"?}]``, by account id then region."""
        if settings["accounts"] is not None:
            accounts = [dict(a) for a in settings["accounts"]]
            if not accounts:
                self.warn("classiclink.mirror.scopes: the option accounts is an empty list: no scopes")
        else:
            accounts = self._organization_accounts(settings["organizational_units"])

        unique = {}
        for account in accounts:
            unique.setdefault(account["id"], account)
        accounts = sorted(unique.values(), key=lambda a: a["id"])

        include, exclude = set(settings["include_accounts"]), set(settings["exclude_accounts"])
        accounts = [a for a in accounts if (not include or a["id"] in include) and a["id"] not in exclude]

        include_tags, exclude_tags = settings["include_account_tags"], settings["exclude_account_tags"]
        if include_tags or exclude_tags or settings["fetch_account_tags"]:
            for account in accounts:
                account["tags"] = self._account_tags(account["id"])
            accounts = [a for a in accounts if tags_selected(a["tags"], include_tags, exclude_tags)]

        if not accounts:
            return []
        regions = list(dict.fromkeys(settings["regions"])) or self._enabled_regions()

        scopes = []
        for account in accounts:
            for region in regions:
                scope = {"account": account["id"], "account_name": account["name"], "region": region}
                if "tags" in account:
                    scope["tags"] = account["tags"]
                if "ou" in account:
                    scope["ou"] = account["ou"]
                scopes.append(scope)
        return scopes

    def _host_vars(self, scope, settings):
        fields = {"account": scope["account"], "account_name": scope["account_name"], "region": scope["region"]}
        host_vars = {
            "aws_account_id": scope["account"],
            "aws_account_name": scope["account_name"],
            "aws_region": scope["region"],
        }
        if settings["role_arn"]:
            host_vars["mirror_role_arn"] = render(settings["role_arn"], "role_arn", **fields)
            if settings["role_external_id"]:
                host_vars["mirror_role_external_id"] = render(settings["role_external_id"], "role_external_id",
                                                              **fields)
        if "tags" in scope:
            host_vars["aws_account_tags"] = dict(scope["tags"])
        if "ou" in scope:
            host_vars["aws_organizational_unit_id"] = scope["ou"]
        return render(settings["hostname_template"], "hostname_template", **fields), host_vars

    def _populate(self, scopes, settings):
        hosts = {}
        for scope in scopes:
            name, host_vars = self._host_vars(scope, settings)
            if name in hosts:
                self.fail_aws(
                    f"hostname_template {settings['hostname_template']!r} gives two scopes the same name {name!r} "
                    f"({hosts[name]} and {scope['account']}/{scope['region']}); add {{account}} and {{region}}"
                )
            hosts[name] = f"{scope['account']}/{scope['region']}"
        accounts = {scope["account"] for scope in scopes}
        if settings["role_arn"] and len(accounts) > 1 and "{account}" not in settings["role_arn"]:
            self.warn(f"classiclink.mirror.scopes: role_arn {settings['role_arn']!r} has no {{account}}: "
                      f"every one of the {len(accounts)} accounts gets the same role")

        self.inventory.add_group(GROUP)
        strict = self.get_option("strict")
        for scope in scopes:
            name, host_vars = self._host_vars(scope, settings)
            self.inventory.add_host(name, group=GROUP)
            for key, value in host_vars.items():
                self.inventory.set_variable(name, key, value)
            self._set_composite_vars(self.get_option("compose"), host_vars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), host_vars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host_vars, name, strict=strict)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        settings = self._settings()
        selection = self._selection(settings)

        cached, entry = self.get_cached_result(path, cache)
        scopes = None
        if cached and isinstance(entry, dict) and entry.get("selection") == selection:
            scopes = entry.get("scopes")
        if scopes is None:
            scopes = self._query(settings)
            # cache=False: write even over an entry for other options (a matching one was used above).
            self.update_cached_result(path, False, {"selection": selection, "scopes": scopes})
        self._populate(scopes, settings)
