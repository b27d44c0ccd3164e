"""Bad input: each case fails clearly and changes nothing it should not.

One table, one test per case.  For every case the module runs for real (a
subprocess, against the moto harness) and the test checks three things:

1. the exit: non-zero wherever the user has to act (rc 0 only where the
   contract says "skip and report");
2. the message: it names the resource (group, VPC, instance, option, profile...)
   and says what to do;
3. nothing unrelated changed: the mutating calls counted at the server are
   exactly those of the good pairs/instances of the same batch (none for a
   lone bad input), and a full describe of the account before and after differs
   only in those good pairs' groups and links.

Cases are written as the module SHOULD behave (docs/architecture.md,
/work/shared/spec/mirror-contract.md); where a module does not, the case fails
and says what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from tests.badinput import runner
from tests.integration.ec2_world import (
    GUIDE_LINK_TAG,
    LINK_TAG,
    MIRRORED_FROM,
    allow,
    group_named,
    launch,
    links,
    make_group,
    make_vpc,
    rules,
    tags,
    tcp,
)

pytestmark = pytest.mark.integration

MIRROR = "classiclink_mirror_group"
LINK = "classiclink_instance_link"
CLASSIC = {"classic_vpc_id": "default"}  # moto's default VPC stands in for EC2-Classic
GOOD_PAIR_CALLS = ("CreateSecurityGroup", "CreateTags")  # an empty good source: create its mirror, tag the source
UNKNOWN_VPC = "vpc-0123456789abcdef0"
UNKNOWN_SG = "sg-0123456789abcdef0"
UNKNOWN_INSTANCE = "i-0123456789abcdef0"


@dataclass
class Case:
    module: str
    args: dict
    mentions: tuple  # resource ids / names the message must contain
    instruction: tuple  # what-to-do phrases the message must contain (all of them)
    fails: bool = True  # non-zero exit expected
    calls: tuple = ()  # the mutating calls allowed (those of the good pairs/instances), any order
    good: tuple = ()  # source group ids / instance ids whose state may change (the good ones)
    env: str = "default"  # default | no_region | profile | bad_credentials
    text: str = "msg"  # msg | reasons (per-instance reasons, for skip-and-report cases)
    no_calls_at_all: bool = False  # rejected before any AWS call
    after: Optional[Callable[[], None]] = None  # extra checks once the run is judged (e.g. the next run recovers)


class World:
    """What a case builds on the harness, plus helpers."""

    def __init__(self, ec2: Any, moto: Any, intercept: Callable) -> None:
        self.ec2, self.moto, self.intercept = ec2, moto, intercept
        self._vpc: Optional[str] = None

    @property
    def vpc(self) -> str:
        """The target VPC (ClassicLink enabled)."""
        if self._vpc is None:
            self._vpc = make_vpc(self.ec2)
        return self._vpc

    def legacy_vpc(self, cidr: str = "10.30.0.0/16") -> str:
        """A VPC holding VPC sources (the 'legacy VPC' of the contract)."""
        return make_vpc(self.ec2, cidr=cidr, classiclink=False)

    def good(self, name: str = "ok") -> str:
        """A well-formed source for the same batch: its pair must still converge."""
        return make_group(self.ec2, name, link=self.vpc)

    def mirrored(self, *names: str) -> dict:
        """Sources tagged to the target VPC and their mirrors, made by the real module."""
        sources = {name: make_group(self.ec2, name, link=self.vpc) for name in names}
        result = runner.run_module(MIRROR, {"source_groups": list(sources.values()), **CLASSIC}, runner.aws_env(self.moto.url))
        assert result.rc == 0, result.get("msg")
        return sources


# --------------------------------------------------------------------------- the table
# Each builder makes its world and returns the Case.  Ids name the input.

def link_tag_malformed(w: World) -> Case:
    bad = make_group(w.ec2, "web", link="vpc-XYZ")
    ok = w.good()
    return Case(MIRROR, {"source_groups": ["web", "ok"]}, (bad, "web", "vpc-XYZ"), ("fix the tag value",),
                calls=GOOD_PAIR_CALLS, good=(ok,))


def link_tag_second_target_unknown(w: World) -> Case:
    # two targets in one tag (issue 11): the known VPC's pair converges, the unknown one fails naming it
    bad = make_group(w.ec2, "web", link=f"{w.vpc}, {UNKNOWN_VPC}")
    return Case(MIRROR, {"source_group": bad}, (bad, UNKNOWN_VPC), ("create the VPC, or fix the link tag",),
                calls=GOOD_PAIR_CALLS, good=(bad,))


def link_tag_padded_with_garbage(w: World) -> Case:
    bad = make_group(w.ec2, "web", link=f"{w.vpc} garbage")  # not a list of targets
    return Case(MIRROR, {"source_group": bad}, (bad, "garbage"), ("vpc-0123456789abcdef0",))


def link_tag_unknown_vpc(w: World) -> Case:
    bad = make_group(w.ec2, "web", link=UNKNOWN_VPC)
    ok = w.good()
    return Case(MIRROR, {"source_groups": [bad, ok]}, (bad, UNKNOWN_VPC), ("create the VPC, or fix the link tag",),
                calls=GOOD_PAIR_CALLS, good=(ok,))


def link_tags_disagree(w: World) -> Case:
    other = make_vpc(w.ec2, cidr="192.168.0.0/16")
    bad = make_group(w.ec2, "web", link=w.vpc)
    w.ec2.create_tags(Resources=[bad], Tags=[{"Key": GUIDE_LINK_TAG, "Value": other}])
    ok = w.good()
    return Case(MIRROR, {"source_groups": [bad, ok]}, (bad, w.vpc, other, LINK_TAG, GUIDE_LINK_TAG),
                ("keep one tag, or make them agree",), calls=GOOD_PAIR_CALLS, good=(ok,))


def link_tag_names_own_vpc(w: World) -> Case:
    legacy = w.legacy_vpc()
    bad = make_group(w.ec2, "db", vpc_id=legacy, link=legacy)
    return Case(MIRROR, {"source_group": bad}, (bad, legacy), ("cannot be mirrored into its own VPC", "fix the link tag"))


def no_link_tag_and_no_vpc_id(w: World) -> Case:
    bad = make_group(w.ec2, "web")
    return Case(MIRROR, {"source_group": "web"}, (bad, "web"), (f"tag it {LINK_TAG}=", "or pass vpc_id"))


def vpc_id_option_malformed(w: World) -> Case:
    src = make_group(w.ec2, "web")
    return Case(MIRROR, {"source_group": src, "vpc_id": "vpc-nothex"}, ("vpc-nothex", "vpc_id"),
                ("expected vpc- and 8 or 17 hex digits",))


def vpc_id_option_unknown(w: World) -> Case:
    # The VPC came from the vpc_id option: the fix is the option, not a link tag the group does not have.
    src = make_group(w.ec2, "web")
    return Case(MIRROR, {"source_group": src, "vpc_id": UNKNOWN_VPC}, (src, UNKNOWN_VPC, "vpc_id"), ("does not exist",))


def vpc_id_option_is_own_vpc(w: World) -> Case:
    legacy = w.legacy_vpc()
    src = make_group(w.ec2, "db", vpc_id=legacy)
    return Case(MIRROR, {"source_group": src, "vpc_id": legacy}, (src, legacy, "vpc_id"),
                ("cannot be mirrored into its own VPC",))


def source_name_unknown(w: World) -> Case:
    ok = w.good()
    return Case(MIRROR, {"source_groups": ["nosuch", "ok"]}, ("'nosuch'",),
                ("check the name and the region, or pass the group id",), calls=GOOD_PAIR_CALLS, good=(ok,))


def source_id_unknown(w: World) -> Case:
    ok = w.good()
    return Case(MIRROR, {"source_groups": [UNKNOWN_SG, ok]}, (UNKNOWN_SG,), ("check the id and the region",),
                calls=GOOD_PAIR_CALLS, good=(ok,))


def source_name_ambiguous(w: World) -> Case:
    legacy = w.legacy_vpc()
    a = make_group(w.ec2, "twin", link=w.vpc)
    b = make_group(w.ec2, "twin", vpc_id=legacy, link=w.vpc)
    return Case(MIRROR, {"source_group": "twin"}, ("'twin'", a, b), ("ambiguous", "pass the group id instead"))


def duplicate_names_into_one_vpc(w: World) -> Case:
    legacy = w.legacy_vpc()
    a = make_group(w.ec2, "twin", link=w.vpc)
    b = make_group(w.ec2, "twin", vpc_id=legacy, link=w.vpc)
    ok = w.good()
    return Case(MIRROR, {"source_groups": [a, b, ok]}, (a, b, "'twin'", w.vpc), ("retarget or rename one",),
                calls=GOOD_PAIR_CALLS, good=(ok,))


def duplicate_names_via_vpc_id_in_one_batch(w: World) -> Case:
    legacy = w.legacy_vpc()
    a = make_group(w.ec2, "twin")
    b = make_group(w.ec2, "twin", vpc_id=legacy)
    return Case(MIRROR, {"source_groups": [a, b], "vpc_id": w.vpc}, (a, b, "'twin'", w.vpc), ("retarget or rename one",))


def unmanaged_same_name_group_in_target(w: World) -> Case:
    src = make_group(w.ec2, "web", link=w.vpc)
    squatter = make_group(w.ec2, "web", vpc_id=w.vpc)
    allow(w.ec2, squatter, tcp(22, cidr="198.51.100.0/24"))
    ok = w.good()
    return Case(MIRROR, {"source_groups": [src, ok]}, (squatter, src, w.vpc, "not managed by classiclink.mirror"),
                ("rename it, or set adopt",), calls=GOOD_PAIR_CALLS, good=(ok,))


def name_taken_by_the_mirror_of_another_source(w: World) -> Case:
    first = w.mirrored("web")["web"]
    taken = group_named(w.ec2, w.vpc, "web")["GroupId"]
    legacy = w.legacy_vpc()
    second = make_group(w.ec2, "web", vpc_id=legacy, link=w.vpc)
    w.ec2.delete_tags(Resources=[first], Tags=[{"Key": LINK_TAG}])  # first no longer declares the pair
    return Case(MIRROR, {"source_group": second}, (second, taken, first), ("rename one or retarget it",))


def desired_rules_over_quota(w: World) -> Case:
    big = make_group(w.ec2, "big", link=w.vpc)
    # 60 CIDR rules + 1 prefix-list rule = 61 as EC2 counts them (moto caps CIDR rules at 60 itself)
    allow(w.ec2, big, *[tcp(1000 + i, cidr="10.0.0.0/8") for i in range(60)])
    plist = w.ec2.create_managed_prefix_list(PrefixListName="office", MaxEntries=1, AddressFamily="IPv4")["PrefixList"]["PrefixListId"]
    allow(w.ec2, big, tcp(9000, prefix_list=plist))
    ok = w.good()
    return Case(MIRROR, {"source_groups": ["big", "ok"], "rules_quota": 60}, (big, "big", "61", "60"),
                ("remove rules from the source, or raise the EC2 quota and rules_quota",), calls=GOOD_PAIR_CALLS, good=(ok,))


def source_given_is_a_mirror(w: World) -> Case:
    # The user passes the mirror's id (easy to confuse: same name) with a vpc_id: a mirror is never a source.
    w.mirrored("web")
    mirror = group_named(w.ec2, w.vpc, "web")["GroupId"]
    other = make_vpc(w.ec2, cidr="192.168.0.0/16")
    return Case(MIRROR, {"source_group": mirror, "vpc_id": other}, (mirror,), ("mirror",))


def rules_quota_zero(w: World) -> Case:
    make_group(w.ec2, "web", link=w.vpc)
    return Case(MIRROR, {"source_group": "web", "rules_quota": 0}, ("rules_quota", "0"), ("must be 1 or more",),
                no_calls_at_all=True)


def concurrency_zero(w: World) -> Case:
    make_group(w.ec2, "web", link=w.vpc)
    return Case(MIRROR, {"source_group": "web", "concurrency": 0}, ("concurrency", "0"), ("must be 1 or more",),
                no_calls_at_all=True)


def link_tag_keys_empty(w: World) -> Case:
    make_group(w.ec2, "web", link=w.vpc)
    return Case(MIRROR, {"source_group": "web", "link_tag_keys": []}, ("link_tag_keys",), ("must name at least one tag key",),
                no_calls_at_all=True)


def unknown_option(w: World) -> Case:
    make_group(w.ec2, "web", link=w.vpc)
    return Case(MIRROR, {"source_group": "web", "sourcegroup": "web"}, ("sourcegroup",), ("Supported parameters include",),
                no_calls_at_all=True)


def option_value_not_a_choice(w: World) -> Case:
    make_group(w.ec2, "web", link=w.vpc)
    return Case(MIRROR, {"source_group": "web", "egress": "sometimes"}, ("egress", "sometimes"), ("must be one of",),
                no_calls_at_all=True)


def mutually_exclusive_sources(w: World) -> Case:
    make_group(w.ec2, "web", link=w.vpc)
    return Case(MIRROR, {"source_group": "web", "all_sources": True}, ("source_group", "all_sources"), ("mutually exclusive",),
                no_calls_at_all=True)


def no_source_at_all(w: World) -> Case:
    return Case(MIRROR, {}, ("source_group",), ("set source_group, source_groups, all_sources or prune",), no_calls_at_all=True)


def vpc_ids_filter_malformed(w: World) -> Case:
    # A typo in the VPC filter must not turn the run into a silent no-op.
    make_group(w.ec2, "web", link=w.vpc)
    return Case(MIRROR, {"all_sources": True, "vpc_ids": ["vpc-XYZ"]}, ("vpc-XYZ", "vpc_ids"), ("not a VPC id",))


def missing_region(w: World) -> Case:
    make_group(w.ec2, "web", link=w.vpc)
    # amazon.aws's own message; it names the module and where a region can come from
    return Case(MIRROR, {"source_group": "web"}, ("classiclink.mirror.classiclink_mirror_group", "region"),
                ("environment variables or module parameters",), env="no_region", no_calls_at_all=True)


def unknown_profile(w: World) -> Case:
    make_group(w.ec2, "web", link=w.vpc)
    return Case(MIRROR, {"source_group": "web", "profile": "nope"}, ("nope",), ("could not be found",), env="profile",
                no_calls_at_all=True)


def invalid_credentials(w: World) -> Case:
    # Against the IAM-enforcing harness (the shared one accepts any keys); see _run.
    return Case(MIRROR, {"source_group": "web"}, ("AuthFailure",), ("credentials",), env="bad_credentials")


def vpc_without_classiclink(w: World) -> Case:
    vpc = make_vpc(w.ec2, classiclink=False)
    w._vpc = vpc
    sources = w.mirrored("web")
    (instance,) = launch(w.ec2, [sources["web"]])
    return Case(LINK, {"instance_id": instance, **CLASSIC}, (vpc, instance),
                ("enable it (EnableVpcClassicLink) or set enable_classiclink",))


def instance_unknown(w: World) -> Case:
    sources = w.mirrored("web")
    (fine,) = launch(w.ec2, [sources["web"]])
    return Case(LINK, {"instance_ids": [UNKNOWN_INSTANCE, fine], **CLASSIC}, (UNKNOWN_INSTANCE,),
                ("check the id and the region",), calls=("AttachClassicLinkVpc",), good=(fine,))


def instance_in_six_managed_groups(w: World) -> Case:
    sources = w.mirrored(*["g%d" % i for i in range(6)])
    (crowded,) = launch(w.ec2, list(sources.values()))
    (fine,) = launch(w.ec2, [sources["g0"]])
    return Case(LINK, {"instance_ids": [crowded, fine], **CLASSIC}, (crowded, "6", "5"), ("reduce its managed groups",),
                calls=("AttachClassicLinkVpc",), good=(fine,))


def instance_groups_point_at_two_vpcs(w: World) -> Case:
    other = make_vpc(w.ec2, cidr="192.168.0.0/16")
    a = w.mirrored("a")["a"]
    b = make_group(w.ec2, "b", link=other)
    assert runner.run_module(MIRROR, {"source_group": b, **CLASSIC}, runner.aws_env(w.moto.url)).rc == 0
    (instance,) = launch(w.ec2, [a, b])
    # Contract: skip and report the conflict (the run itself succeeds).
    return Case(LINK, {"instance_id": instance, **CLASSIC}, (instance, w.vpc, other), ("make their link tags agree",),
                fails=False, text="reasons")


def explicit_groups_in_two_vpcs(w: World) -> Case:
    other = make_vpc(w.ec2, cidr="192.168.0.0/16")
    ga = make_group(w.ec2, "ga", vpc_id=w.vpc)
    gb = make_group(w.ec2, "gb", vpc_id=other)
    (instance,) = launch(w.ec2, [make_group(w.ec2, "plain")])
    return Case(LINK, {"instance_id": instance, "groups": [ga, gb], **CLASSIC}, (instance, w.vpc, other),
                ("must all be in one VPC",))


def explicit_group_name_ambiguous(w: World) -> Case:
    other = make_vpc(w.ec2, cidr="192.168.0.0/16")
    make_group(w.ec2, "app", vpc_id=w.vpc)
    make_group(w.ec2, "app", vpc_id=other)
    (instance,) = launch(w.ec2, [make_group(w.ec2, "plain")])
    return Case(LINK, {"instance_id": instance, "groups": ["app"], **CLASSIC}, (instance, "'app'"),
                ("give group ids, or vpc_id with names",))


def explicit_groups_empty(w: World) -> Case:
    return Case(LINK, {"instance_id": UNKNOWN_INSTANCE, "groups": [], **CLASSIC}, ("groups",), ("1 to 5 VPC groups",),
                no_calls_at_all=True)


def instance_mirror_not_created_yet(w: World) -> Case:
    src = make_group(w.ec2, "web", link=w.vpc)
    (instance,) = launch(w.ec2, [src])
    return Case(LINK, {"instance_id": instance, **CLASSIC}, (instance, src, w.vpc),
                ("run classiclink_mirror_group for it first",))


def source_deleted_between_describe_and_apply(w: World) -> Case:
    """The source is deleted right after the module's describes (when its mirror's create arrives).

    moto accepts CreateTags on any id; EC2 answers InvalidGroup.NotFound for a
    group that no longer exists, so the hook answers the same for the gone source.
    """
    src = make_group(w.ec2, "web", link=w.vpc, description="web backends")
    allow(w.ec2, src, tcp(80, cidr="10.0.0.0/8"))
    ok = w.good()
    state = {"deleted": False}

    def hook(params: dict) -> Optional[tuple]:
        if params.get("Action") == "CreateSecurityGroup" and params.get("GroupName") == "web" and not state["deleted"]:
            state["deleted"] = True
            w.ec2.delete_security_group(GroupId=src)
        if params.get("Action") == "CreateTags" and state["deleted"] and src in params.values():
            return 400, "InvalidGroup.NotFound", f"The security group '{src}' does not exist"
        return None

    w.intercept(hook)

    def next_run_removes_the_orphan() -> None:
        pruned = runner.run_module(MIRROR, {"all_sources": True, "prune": True}, runner.aws_env(w.moto.url))
        assert pruned.rc == 0, pruned.get("msg")
        assert [(g["group_name"], g["reason"]) for g in pruned["orphans"]] == [("web", "source_gone")]
        assert group_named(w.ec2, w.vpc, "web") is None and group_named(w.ec2, w.vpc, "ok") is not None

    # The mirror of web was created before the source went: the run must say that web is gone and
    # that its new mirror is an orphan to prune.
    return Case(MIRROR, {"source_groups": [src, ok], "concurrency": 1}, (src, "web", "does not exist"), ("prune",),
                calls=GOOD_PAIR_CALLS + ("CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "CreateTags", "DeleteSecurityGroup"),
                good=(ok, src), after=next_run_removes_the_orphan)


def mirror_deleted_between_describe_and_apply(w: World) -> Case:
    src = w.mirrored("web")["web"]
    mirror = group_named(w.ec2, w.vpc, "web")["GroupId"]
    allow(w.ec2, src, tcp(443, cidr="10.0.0.0/8"))
    state = {"deleted": False}

    def hook(params: dict) -> Optional[tuple]:
        if params.get("Action") == "AuthorizeSecurityGroupIngress" and params.get("GroupId") == mirror and not state["deleted"]:
            state["deleted"] = True
            w.ec2.delete_security_group(GroupId=mirror)
        return None

    w.intercept(hook)
    # The mirror went away under the run: say so, and that the next run recreates it.
    return Case(MIRROR, {"source_group": src, "concurrency": 1}, (src, mirror, "does not exist"), ("run again",),
                calls=("DeleteSecurityGroup", "AuthorizeSecurityGroupIngress"), good=(src,))


CASES = [
    link_tag_malformed,
    link_tag_padded_with_garbage,
    link_tag_second_target_unknown,
    link_tag_unknown_vpc,
    link_tags_disagree,
    link_tag_names_own_vpc,
    no_link_tag_and_no_vpc_id,
    vpc_id_option_malformed,
    vpc_id_option_unknown,
    vpc_id_option_is_own_vpc,
    source_name_unknown,
    source_id_unknown,
    source_name_ambiguous,
    duplicate_names_into_one_vpc,
    duplicate_names_via_vpc_id_in_one_batch,
    unmanaged_same_name_group_in_target,
    name_taken_by_the_mirror_of_another_source,
    desired_rules_over_quota,
    source_given_is_a_mirror,
    rules_quota_zero,
    concurrency_zero,
    link_tag_keys_empty,
    unknown_option,
    option_value_not_a_choice,
    mutually_exclusive_sources,
    no_source_at_all,
    vpc_ids_filter_malformed,
    missing_region,
    unknown_profile,
    invalid_credentials,
    vpc_without_classiclink,
    instance_unknown,
    instance_in_six_managed_groups,
    instance_groups_point_at_two_vpcs,
    explicit_groups_in_two_vpcs,
    explicit_group_name_ambiguous,
    explicit_groups_empty,
    instance_mirror_not_created_yet,
    source_deleted_between_describe_and_apply,
    mirror_deleted_between_describe_and_apply,
]


# --------------------------------------------------------------------------- checking


def account_state(ec2: Any) -> dict:
    """Every group (name, VPC, tags, rules) and every ClassicLink, straight from describes."""
    pages = ec2.get_paginator("describe_security_groups").paginate().build_full_result()["SecurityGroups"]
    groups = {
        g["GroupId"]: {"name": g["GroupName"], "vpc": g.get("VpcId"), "tags": tags(g), "in": rules(g), "out": rules(g, egress=True)}
        for g in pages
    }
    return {"groups": groups, "links": links(ec2)}


def assert_only_good_changed(before: dict, after: dict, good: tuple) -> None:
    """Only the good sources, their mirrors and the good instances' links may differ."""
    def allowed(gid: str, state: dict) -> bool:
        group = state["groups"].get(gid)
        return gid in good or (group is not None and group["tags"].get(MIRRORED_FROM) in good)

    for gid in set(before["groups"]) | set(after["groups"]):
        if allowed(gid, before) or allowed(gid, after):
            continue
        assert before["groups"].get(gid) == after["groups"].get(gid), f"group {gid} changed"
    for iid in set(before["links"]) | set(after["links"]):
        if iid not in good:
            assert before["links"].get(iid) == after["links"].get(iid), f"link of {iid} changed"


def _env(case: Case, moto: Any, tmp_path: Path, iam_moto: Any) -> dict:
    if case.env == "no_region":
        return runner.aws_env(moto.url, region=None)
    if case.env == "profile":
        empty = tmp_path / "empty-aws-config"
        empty.write_text("")
        return runner.aws_env(moto.url, AWS_CONFIG_FILE=str(empty), AWS_SHARED_CREDENTIALS_FILE=str(empty),
                              AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)
    if case.env == "bad_credentials":
        iam_moto.fresh_account()
        return runner.aws_env(iam_moto.url, access_key="AKIAUNKNOWNKEY000000", secret_key="not-a-real-secret")
    return runner.aws_env(moto.url)


@pytest.fixture
def world(ec2: Any, moto: Any, intercept: Callable) -> World:
    return World(ec2, moto, intercept)


@pytest.mark.parametrize("build", CASES, ids=[build.__name__ for build in CASES])
def test_bad_input(build: Callable[[World], Case], world: World, ec2: Any, moto: Any, tmp_path: Path, request) -> None:
    case = build(world)
    iam_moto = request.getfixturevalue("iam_moto") if case.env == "bad_credentials" else None
    env = _env(case, moto, tmp_path, iam_moto)
    before = account_state(ec2)
    moto.reset_calls()

    result = runner.run_module(case.module, case.args, env)

    if case.text == "reasons":
        text = " ".join("%s: %s" % (item["instance_id"], item.get("reason")) for item in result.get("instances", []))
    else:
        text = str(result.get("msg", ""))
    detail = f"rc={result.rc}\nmsg: {result.get('msg')}\ntext checked: {text}"
    if case.fails:
        assert result.rc != 0, detail
        assert result.get("failed") is True, detail
    else:
        assert result.rc == 0, detail
    missing = [m for m in case.mentions if m not in text]
    assert not missing, f"the message does not name {missing}\n{detail}"
    absent = [phrase for phrase in case.instruction if phrase not in text]
    assert not absent, f"the message does not say what to do ({absent})\n{detail}"

    if iam_moto is not None:
        calls = iam_moto.harness.calls()
        assert [c for c in calls if c["mutating"]] == [], calls
        assert calls and all(c["status"] == 401 for c in calls), calls  # refused at the first call, not retried forever
        return
    calls = moto.calls()
    if case.no_calls_at_all:
        assert calls == [], f"expected no AWS call at all, got {[c['action'] for c in calls]}"
    assert sorted(c["action"] for c in calls if c["mutating"]) == sorted(case.calls), detail
    assert_only_good_changed(before, account_state(ec2), case.good)
    if case.after is not None:
        case.after()
