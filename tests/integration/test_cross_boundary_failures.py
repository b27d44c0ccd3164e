"""Cross-boundary mirroring (issue 11) when a scope fails: a role that cannot be assumed, a region that is not
enabled, bad ARNs (in the tag and in ``targets``), an account without ``target_role_arn``, and EC2's eventual
consistency on a first cross-region converge.

moto accepts every AssumeRole and serves every region, so the refusals are the fault proxy's scripted error
answers (``tests/support/aws_proxy.py``, ``errors``): the module's calls go through the proxy, the estate is
built straight against the harness. One failing scope fails its pairs only (message naming account, region and
role), makes no mutating call, and the other scopes converge. (Retargeting and pruning across scopes, the orphan
found from the source's record alone, is in ``test_cross_boundary.py``.)
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.integration.ec2_world import allow, describe, group_named, groups_in, make_group, make_vpc, rules, tags, tcp
from tests.integration.test_cross_boundary import (  # noqa: F401 - account_ec2 is a fixture  # pylint: disable=unused-import
    HOME_ACCOUNT,
    LINK_TAG,
    MODULE,
    OTHER_ACCOUNT,
    ROLE,
    THIRD_ACCOUNT,
    account_ec2,
    entries,
    mutating,
    ok,
    source_and_targets,
    vpc_arn,
)
from tests.support.aws_proxy import start_proxy

INFO = "classiclink_mirror_info"
UNKNOWN_ACCOUNT = "999988887777"
ACCESS_DENIED = (403, "AccessDenied", "User: arn:aws:sts::123456789012:assumed-role/x is not authorized to perform: sts:AssumeRole")
OPT_IN_REQUIRED = (401, "OptInRequired", "You are not subscribed to this service. Please go to http://aws.amazon.com to subscribe.")
MIRRORED_TO = "classiclinkmirror:mirroredToVpcSecurityGroupId"
LAG_SECONDS = 1.5  # a realistic EC2 consistency delay (tests/reliability/test_consistency.py)


@pytest.fixture
def proxy(moto):
    """Factory: ``proxy(errors=..., lag_seconds=...)`` in front of the harness (stopped at teardown)."""
    started = []

    def make(**settings):
        started.append(start_proxy(moto.url, **settings))
        return started[-1]

    yield make
    for item in started:
        item.stop()


def failed_entries(result):
    return [entry for entry in result["groups"] if entry["error"]]


def mutating_detail(moto):
    return [call for call in moto.calls(detail=True) if call["service"] == "ec2" and call["mutating"]]


def test_unassumable_target_role_fails_that_scope_only(run_module, moto, ec2, ec2_client, account_ec2, proxy):
    other = account_ec2(OTHER_ACCOUNT)
    third = account_ec2(THIRD_ACCOUNT)
    source_vpc, (home_target, other_target, third_target), link = source_and_targets(
        ec2, (other, "us-east-1", OTHER_ACCOUNT), (third, "us-east-1", THIRD_ACCOUNT))
    web = make_group(ec2, "web", vpc_id=source_vpc, link=link)
    allow(ec2, web, tcp(443, cidr="10.0.0.0/8"))
    denying = proxy(errors={"AssumeRole~" + THIRD_ACCOUNT: ACCESS_DENIED})
    args = {"all_sources": True, "target_role_arn": ROLE}
    moto.reset_calls()

    result = run_module(MODULE, args, endpoint_url=denying.url)
    assert result.rc != 0
    (failed,) = failed_entries(result)
    role = ROLE.format(account=THIRD_ACCOUNT)
    assert failed["code"] == "unreachable_scope" and failed["target"]["account"] == THIRD_ACCOUNT
    for named in ("account " + THIRD_ACCOUNT, "region us-east-1", role, "AccessDenied"):
        assert named in failed["error"], failed["error"]
    assert role in result["msg"]
    # the other scopes converged
    assert {entry["target"]["account"] for entry in result["groups"] if entry["changed"]} == {HOME_ACCOUNT, OTHER_ACCOUNT}
    assert group_named(ec2, home_target, "web") is not None and group_named(other, other_target, "web") is not None
    # nothing was called in the failing scope: no mirror there, no mutating call naming its VPC
    assert group_named(third, third_target, "web") is None
    assert not any(third_target in call.get("targets", ()) for call in mutating_detail(moto))
    assert denying.stats()["errors_answered"] == {"AssumeRole~" + THIRD_ACCOUNT: 1}

    # the audit says the same, and the next run changes nothing in the scopes that work
    audit = ok(run_module(INFO, {"instances": False, "target_role_arn": ROLE}, endpoint_url=denying.url))
    scopes = {(scope["account"], scope["region"]): scope for scope in audit["scopes"]}
    assert scopes[(THIRD_ACCOUNT, "us-east-1")]["read"] is False and role in scopes[(THIRD_ACCOUNT, "us-east-1")]["error"]
    assert [p["code"] for p in audit["pairs"] if p["error"]] == ["unreachable_scope"]
    moto.reset_calls()
    again = run_module(MODULE, args, endpoint_url=denying.url)
    assert again.rc != 0 and again["changed"] is False and mutating(moto) == []

    # once the role can be assumed, the last mirror is made
    denying.configure(errors=None)
    ok(run_module(MODULE, args, endpoint_url=denying.url))
    assert group_named(third, third_target, "web") is not None


def test_record_names_the_mirrors_made_while_another_scope_fails(run_module, moto, ec2, ec2_client, proxy):
    eu = ec2_client("eu-west-1")
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    home_target = make_vpc(ec2, "10.21.0.0/16", classiclink=False)
    eu_target = make_vpc(eu, "10.30.0.0/16", classiclink=False)
    unknown = vpc_arn("us-east-1", UNKNOWN_ACCOUNT, "vpc-0123456789abcdef0")
    web = make_group(ec2, "web", vpc_id=source_vpc, link=",".join([unknown, home_target, vpc_arn("eu-west-1", HOME_ACCOUNT, eu_target)]))
    denying = proxy(errors={"AssumeRole~" + UNKNOWN_ACCOUNT: ACCESS_DENIED})
    result = run_module(MODULE, {"all_sources": True, "target_role_arn": ROLE}, endpoint_url=denying.url)
    assert result.rc != 0 and group_named(eu, eu_target, "web") is not None
    record = tags(describe(ec2, web)).get(MIRRORED_TO, "")
    assert group_named(ec2, home_target, "web")["GroupId"] in record and "eu-west-1" in record


def test_region_not_enabled_fails_that_scope_only(run_module, moto, ec2, ec2_client, proxy):
    eu = ec2_client("eu-west-1")
    london = ec2_client("eu-west-2")
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    eu_target = make_vpc(eu, "10.30.0.0/16", classiclink=False)
    london_target = make_vpc(london, "10.60.0.0/16", classiclink=False)
    web = make_group(ec2, "web", vpc_id=source_vpc, link=",".join([
        vpc_arn("eu-west-1", HOME_ACCOUNT, eu_target), vpc_arn("eu-west-2", HOME_ACCOUNT, london_target)]))
    allow(ec2, web, tcp(443, cidr="10.0.0.0/8"))
    disabled = proxy(errors={"DescribeVpcs@eu-west-2": OPT_IN_REQUIRED})
    moto.reset_calls()

    result = run_module(MODULE, {"all_sources": True}, endpoint_url=disabled.url)
    assert result.rc != 0
    (failed,) = failed_entries(result)
    assert failed["code"] == "unreachable_scope" and failed["target"]["region"] == "eu-west-2"
    for named in ("account " + HOME_ACCOUNT, "region eu-west-2", "OptInRequired", "module's credentials"):
        assert named in failed["error"], failed["error"]
    per_region = Counter(call["region"] for call in moto.calls() if call["service"] == "ec2")
    assert per_region.get("eu-west-2", 0) == 0, per_region  # refused at the proxy: not one call reached that region
    assert group_named(eu, eu_target, "web") is not None and group_named(london, london_target, "web") is None
    assert disabled.stats()["errors_answered"] == {"DescribeVpcs@eu-west-2": 1}

    disabled.configure(errors=None)
    ok(run_module(MODULE, {"all_sources": True}, endpoint_url=disabled.url))
    assert group_named(london, london_target, "web") is not None
    assert len(tags(describe(ec2, web))[MIRRORED_TO].split(",")) == 2


def test_bad_arns_in_the_tag_fail_their_source_only_before_any_call(run_module, moto, ec2, ec2_client):
    eu = ec2_client("eu-west-1")
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    home_target = make_vpc(ec2, "10.21.0.0/16", classiclink=False)
    eu_target = make_vpc(eu, "10.30.0.0/16", classiclink=False)
    good = make_group(ec2, "good", vpc_id=source_vpc, link=vpc_arn("eu-west-1", HOME_ACCOUNT, eu_target))
    bad_values = {
        "cn": "arn:aws-cn:ec2:cn-north-1:%s:vpc/%s" % (HOME_ACCOUNT, eu_target),  # another partition than the source's
        "gov": "arn:aws-us-gov:ec2:eu-west-1:%s:vpc/%s" % (HOME_ACCOUNT, eu_target),  # region not in that partition
        "subnet": "arn:aws:ec2:eu-west-1:%s:subnet/subnet-0123456789abcdef0" % HOME_ACCOUNT,  # not a VPC
        "service": "arn:aws:iam::%s:vpc/%s" % (HOME_ACCOUNT, eu_target),  # not ec2, no region
    }
    for name, value in bad_values.items():
        make_group(ec2, name, vpc_id=source_vpc, link=home_target + "," + value)
    moto.reset_calls()

    result = run_module(MODULE, {"all_sources": True, "prune": True})
    assert result.rc != 0
    failed = {entry["source_group_name"]: entry for entry in failed_entries(result)}
    assert set(failed) == set(bad_values)
    reasons = {"cn": "partition aws-cn", "gov": "not in partition aws-us-gov", "subnet": "is not vpc/", "service": "is not ec2"}
    for name, entry in failed.items():
        assert entry["code"] == "bad_link_tag" and LINK_TAG in entry["error"] and bad_values[name] in entry["error"]
        assert reasons[name] in entry["error"] and "VPC ARN" in entry["error"], entry["error"]
    # a source with a bad entry gets no mirror at all, not even in its good target; the good source converges
    assert [group["GroupName"] for group in groups_in(ec2, home_target) if group["GroupName"] != "default"] == []
    assert group_named(eu, eu_target, "good") is not None
    assert set(mutating(moto)) <= {"CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupEgress",
                                   "AuthorizeSecurityGroupEgress", "CreateTags"}
    assert all(good in call.get("targets", ()) or call["action"] != "CreateTags" or call["region"] == "eu-west-1"
               for call in mutating_detail(moto))


def test_bad_targets_option_fails_the_module_before_any_aws_call(run_module, moto, ec2):
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    web = make_group(ec2, "web", vpc_id=source_vpc)
    moto.reset_calls()
    for value, named in (("arn:aws-cn:ec2:cn-north-1:%s:vpc/vpc-0123456789abcdef0" % HOME_ACCOUNT, "partition aws-cn"),
                         ("arn:aws:ec2:eu-west-1:12345:vpc/vpc-0123456789abcdef0", "12 digits"),
                         ("arn:aws:ec2:eu-west-1:%s:security-group/sg-0123456789abcdef0" % HOME_ACCOUNT, "is not vpc/")):
        for module in (MODULE, INFO):
            args = {"source_group": web, "targets": [value]} if module == MODULE else {"targets": [value]}
            refused = run_module(module, args)
            assert refused.rc != 0 and "option targets" in refused["msg"] and value in refused["msg"], refused["msg"]
            assert named in refused["msg"], refused["msg"]
    assert [call for call in moto.calls() if call["service"] in ("ec2", "sts")] == []


def test_unknown_account_without_target_role_arn_fails_its_pair_before_any_mutating_call(run_module, moto, ec2, ec2_client):
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    home_target = make_vpc(ec2, "10.21.0.0/16", classiclink=False)
    unknown = vpc_arn("us-east-1", UNKNOWN_ACCOUNT, "vpc-0123456789abcdef0")
    web = make_group(ec2, "web", vpc_id=source_vpc)
    allow(ec2, web, tcp(443, cidr="10.0.0.0/8"))
    moto.reset_calls()

    # in targets: the only target is in another account and there is no role -> that pair fails, nothing is changed
    refused = run_module(MODULE, {"source_group": web, "targets": [unknown]})
    assert refused.rc != 0 and mutating(moto) == []
    (entry,) = refused["groups"]
    assert entry["code"] == "no_target_role" and "target_role_arn" in entry["error"] and UNKNOWN_ACCOUNT in entry["error"]
    assert LINK_TAG not in tags(describe(ec2, web))  # the tag is not rewritten either

    # in the tag, beside a target of the source's own scope: that one converges, the unknown account's pair fails
    ec2.create_tags(Resources=[web], Tags=[{"Key": LINK_TAG, "Value": home_target + "," + unknown}])
    moto.reset_calls()
    mixed = run_module(MODULE, {"source_group": web})
    assert mixed.rc != 0 and "target_role_arn" in mixed["msg"] and UNKNOWN_ACCOUNT in mixed["msg"]
    assert [e["code"] for e in entries(mixed, web) if e["error"]] == ["no_target_role"]
    assert group_named(ec2, home_target, "web") is not None
    assert [call["action"] for call in moto.calls() if call["service"] == "sts"] == ["GetCallerIdentity"]

    # with target_role_arn, an account where the VPC does not exist: not_found naming account and region, nothing made
    moto.reset_calls()
    missing = run_module(MODULE, {"source_group": web, "target_role_arn": ROLE})
    (failed,) = failed_entries(missing)
    assert failed["code"] == "not_found" and "account %s, region us-east-1" % UNKNOWN_ACCOUNT in failed["error"]
    assert mutating(moto) == []


def test_first_cross_region_converge_under_consistency_lag_then_no_op(run_module, moto, ec2, ec2_client, proxy):
    eu = ec2_client("eu-west-1")
    source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
    home_target = make_vpc(ec2, "10.21.0.0/16", classiclink=False)
    eu_target = make_vpc(eu, "10.30.0.0/16", classiclink=False)
    link = home_target + "," + vpc_arn("eu-west-1", HOME_ACCOUNT, eu_target)
    web = make_group(ec2, "web", vpc_id=source_vpc, link=link)
    app = make_group(ec2, "app", vpc_id=source_vpc, link=link)
    db = make_group(ec2, "db", vpc_id=source_vpc, link=link)
    allow(ec2, web, tcp(443, cidr="10.0.0.0/8"), tcp(8080, group=app))
    allow(ec2, app, tcp(8080, group=app), tcp(9000, group=web))
    allow(ec2, db, tcp(5432, group=app), tcp(5432, group=db))
    lagging = proxy(lag_seconds=LAG_SECONDS)

    first = ok(run_module(MODULE, {"all_sources": True}, endpoint_url=lagging.url))
    assert first["changed"] is True
    assert lagging.stats()["lag_hidden"] + lagging.stats()["lag_rewritten"] > 0  # the lag was really played
    for client, vpc in ((ec2, home_target), (eu, eu_target)):
        names = Counter(group["GroupName"] for group in groups_in(client, vpc))
        assert {name: names[name] for name in ("web", "app", "db")} == {"web": 1, "app": 1, "db": 1}, (vpc, names)
        app_mirror = group_named(client, vpc, "app")["GroupId"]
        web_mirror = group_named(client, vpc, "web")
        assert any(rule[3] == app_mirror for rule in rules(web_mirror)), web_mirror
    for source in (web, app, db):
        assert len(tags(describe(ec2, source))[MIRRORED_TO].split(",")) == 2

    # The next run: once the writes settled (the lag is still on), nothing is left to do.
    time.sleep(LAG_SECONDS)
    moto.reset_calls()
    again = ok(run_module(MODULE, {"all_sources": True}, endpoint_url=lagging.url))
    assert again["changed"] is False and mutating(moto) == [], [(e["source_group_name"], e["target"], e["tags"]) for e in again["groups"] if e["changed"]]
