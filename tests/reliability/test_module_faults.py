"""The modules under injected faults, one module run at a time (run_module through the fault proxy).

The interesting fault is the lost answer (``drop_after``): the call was executed
by EC2 but the client never heard back, so botocore sends it again, and the
resent call fails.  The executor judges it by re-reading the resource:

* CreateSecurityGroup retried -> ``InvalidGroup.Duplicate``: it takes the group
  only if it carries this source's mirroredFrom tag (tagged at create);
* Authorize / Revoke retried -> it re-reads the mirror's rules and sends only
  what is still missing (nothing, here);
* AttachClassicLinkVpc / DetachClassicLinkVpc retried -> it re-reads the link:
  already as planned / already gone.

Every test checks the server side: each source has exactly one mirror, rules
are exactly the source's, and a fault-free rerun makes zero mutating calls.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.integration.ec2_world import (
    MIRRORED_FROM,
    allow,
    group_named,
    groups_in,
    launch,
    links,
    make_group,
    make_vpc,
    revoke,
    rules,
    tags,
    tcp,
)
from tests.reliability.fleet import integrity_problems
from tests.support.aws_proxy import DROP_AFTER

MIRROR = "classiclink_mirror_group"
LINK = "classiclink_instance_link"
CLASSIC = {"classic_vpc_id": "default"}

pytestmark = pytest.mark.integration


class _Fleetish:
    """Just enough of a Fleet for integrity_problems()."""

    def __init__(self, vpc_id: str) -> None:
        self.vpc_id = vpc_id


def server_actions(moto: Any) -> Counter[str]:
    return Counter(call["action"] for call in moto.mutating_calls())


def triangle(ec2: Any) -> tuple[str, dict[str, str]]:
    """Three sources referring to each other (a cycle), to themselves, and to CIDRs."""
    vpc = make_vpc(ec2)
    src = {name: make_group(ec2, name, link=vpc) for name in ("a", "b", "c")}
    allow(ec2, src["a"], tcp(80, cidr="10.0.0.0/8"), tcp(81, group=src["b"]), tcp(82, group=src["a"]))
    allow(ec2, src["b"], tcp(90, cidr="192.0.2.0/24", description="docs"), tcp(91, group=src["c"]))
    allow(ec2, src["c"], tcp(100, group=src["a"]), tcp(101, group=src["c"]), tcp(102, cidr6="2001:db8::/64"))
    return vpc, src


def expected_triangle(ec2: Any, vpc: str) -> dict[str, set[tuple[Any, ...]]]:
    m = {name: group_named(ec2, vpc, name)["GroupId"] for name in ("a", "b", "c")}
    return {
        "a": {("tcp", 80, 80, "10.0.0.0/8", None), ("tcp", 81, 81, m["b"], None), ("tcp", 82, 82, m["a"], None)},
        "b": {("tcp", 90, 90, "192.0.2.0/24", "docs"), ("tcp", 91, 91, m["c"], None)},
        "c": {("tcp", 100, 100, m["a"], None), ("tcp", 101, 101, m["c"], None), ("tcp", 102, 102, "2001:db8::/64", None)},
    }


def assert_triangle_mirrored(ec2: Any, vpc: str, src: dict[str, str]) -> None:
    assert integrity_problems(ec2, _Fleetish(vpc)) == []
    assert sorted(g["GroupName"] for g in groups_in(ec2, vpc)) == ["a", "b", "c", "default"]
    for name, wanted in expected_triangle(ec2, vpc).items():
        mirror = group_named(ec2, vpc, name)
        assert tags(mirror)[MIRRORED_FROM] == src[name]
        assert rules(mirror) == wanted, name


def assert_noop(run_module: Any, moto: Any, module: str, args: dict[str, Any]) -> None:
    moto.reset_calls()
    again = run_module(module, args)
    assert again.rc == 0 and again["changed"] is False, again
    assert server_actions(moto) == Counter()


def test_lost_answers_of_create_security_group_make_no_duplicate(run_module, moto, ec2, proxy):
    vpc, src = triangle(ec2)
    moto.reset_calls()
    faulty = proxy(fault_rate=1.0, kinds=(DROP_AFTER,), actions={"CreateSecurityGroup"}, max_faults=2)

    result = run_module(MIRROR, {"source_groups": ["a", "b", "c"], **CLASSIC}, endpoint_url=faulty.url)

    assert faulty.stats()["faults"][DROP_AFTER] == 2
    assert result.rc == 0, (result.get("msg"), result.get("groups"))
    # three creates executed, two of them sent again by botocore and answered InvalidGroup.Duplicate
    created = [c for c in moto.mutating_calls() if c["action"] == "CreateSecurityGroup"]
    assert sorted(c["status"] for c in created) == [200, 200, 200, 400, 400]
    assert_triangle_mirrored(ec2, vpc, src)
    assert_noop(run_module, moto, MIRROR, {"source_groups": ["a", "b", "c"], **CLASSIC})


def test_lost_answers_of_authorize_lose_no_rule_and_add_none_twice(run_module, moto, ec2, proxy):
    vpc, src = triangle(ec2)
    moto.reset_calls()
    faulty = proxy(fault_rate=1.0, kinds=(DROP_AFTER,), actions={"AuthorizeSecurityGroupIngress"}, max_faults=2)

    result = run_module(MIRROR, {"source_groups": ["a", "b", "c"], **CLASSIC}, endpoint_url=faulty.url)

    assert faulty.stats()["faults"][DROP_AFTER] == 2
    assert result.rc == 0, (result.get("msg"), result.get("groups"))
    answered_duplicate = [c for c in moto.mutating_calls()
                          if c["action"] == "AuthorizeSecurityGroupIngress" and c["status"] == 400]
    assert len(answered_duplicate) >= 2  # the retries, then one rule at a time (the done ones skipped)
    assert_triangle_mirrored(ec2, vpc, src)
    assert_noop(run_module, moto, MIRROR, {"source_groups": ["a", "b", "c"], **CLASSIC})


def test_lost_answer_of_revoke_revokes_everything_once(run_module, moto, ec2, proxy):
    vpc, src = triangle(ec2)
    assert run_module(MIRROR, {"source_groups": ["a", "b", "c"], **CLASSIC}).rc == 0
    revoke(ec2, src["a"], tcp(80, cidr="10.0.0.0/8"), tcp(82, group=src["a"]))
    allow(ec2, src["a"], tcp(8080, cidr="10.0.0.0/8"))
    moto.reset_calls()
    faulty = proxy(fault_rate=1.0, kinds=(DROP_AFTER,), actions={"RevokeSecurityGroupIngress"}, max_faults=1)

    result = run_module(MIRROR, {"source_groups": ["a", "b", "c"], **CLASSIC}, endpoint_url=faulty.url)

    assert faulty.stats()["faults"][DROP_AFTER] == 1
    assert result.rc == 0, (result.get("msg"), result.get("groups"))
    m = {name: group_named(ec2, vpc, name)["GroupId"] for name in ("a", "b")}
    assert rules(group_named(ec2, vpc, "a")) == {("tcp", 8080, 8080, "10.0.0.0/8", None), ("tcp", 81, 81, m["b"], None)}
    assert_noop(run_module, moto, MIRROR, {"source_groups": ["a", "b", "c"], **CLASSIC})


def test_thirty_percent_faults_of_every_kind_converge_without_duplicates(run_module, moto, ec2, proxy):
    """12 sources in a reference ring, every call at 30% risk of throttling, 503, request or answer lost."""
    vpc = make_vpc(ec2)
    src = [make_group(ec2, f"ring-{i:02d}", link=vpc) for i in range(12)]
    for i, gid in enumerate(src):
        allow(ec2, gid, tcp(1000 + i, cidr=f"10.{i}.0.0/16"), tcp(2000, group=src[(i + 1) % 12]), tcp(3000, group=gid))
    moto.reset_calls()
    faulty = proxy(fault_rate=0.3, seed=7)
    args = {"source_groups": [f"ring-{i:02d}" for i in range(12)], **CLASSIC}

    runs = []
    for _attempt in range(3):
        runs.append(run_module(MIRROR, args, endpoint_url=faulty.url))
        assert integrity_problems(ec2, _Fleetish(vpc)) == []  # after every run, even a failed one
        if runs[-1].rc == 0:
            break
    assert runs[-1].rc == 0, [(r.get("msg"), [g.get("error") for g in r.get("groups", []) if g.get("error")]) for r in runs]
    stats = faulty.stats()
    assert stats["faults_total"] > 0 and stats["faults"][DROP_AFTER] > 0, stats
    print(f"\n12-group ring under 30% faults: {len(runs)} run(s), {stats['requests']} calls, faults {stats['faults']}")
    mirrors = {g["GroupName"]: g for g in groups_in(ec2, vpc)}
    assert sorted(mirrors) == ["default"] + [f"ring-{i:02d}" for i in range(12)]
    for i in range(12):
        me, nxt = mirrors[f"ring-{i:02d}"]["GroupId"], mirrors[f"ring-{(i + 1) % 12:02d}"]["GroupId"]
        assert rules(mirrors[f"ring-{i:02d}"]) == {
            ("tcp", 1000 + i, 1000 + i, f"10.{i}.0.0/16", None), ("tcp", 2000, 2000, nxt, None), ("tcp", 3000, 3000, me, None)}
    assert_noop(run_module, moto, MIRROR, args)


# ------------------------------------------------------------------ ClassicLink
def mirrored_pair(run_module: Any, ec2: Any) -> tuple[str, dict[str, str], dict[str, str]]:
    vpc = make_vpc(ec2)
    src = {name: make_group(ec2, name, link=vpc) for name in ("web", "ssh")}
    assert run_module(MIRROR, {"source_groups": list(src), **CLASSIC}).rc == 0
    return vpc, src, {name: group_named(ec2, vpc, name)["GroupId"] for name in src}


def test_lost_answer_of_attach_classic_link_vpc_is_not_a_failure(run_module, moto, ec2, proxy):
    """BUG (plugins/module_utils/links.py, LinkExecutor.apply_one): the retried attach is answered
    Resource.AlreadyAssociated although the instance is linked exactly as planned."""
    vpc, src, mirrors = mirrored_pair(run_module, ec2)
    (instance,) = launch(ec2, [src["web"]])
    moto.reset_calls()
    faulty = proxy(fault_rate=1.0, kinds=(DROP_AFTER,), actions={"AttachClassicLinkVpc"}, max_faults=1)

    result = run_module(LINK, {"instance_id": instance, **CLASSIC}, endpoint_url=faulty.url)

    assert faulty.stats()["faults"][DROP_AFTER] == 1
    assert links(ec2)[instance] == (vpc, {mirrors["web"]})  # the link is there...
    assert result.rc == 0, (result.get("msg"), result.get("instances"))  # ...so the run should succeed
    assert_noop(run_module, moto, LINK, {"instance_id": instance, **CLASSIC})


def test_lost_answer_of_detach_classic_link_vpc_still_relinks(run_module, moto, ec2, proxy):
    """BUG (plugins/module_utils/links.py, LinkExecutor.apply_one): the retried detach is answered
    IncorrectState (already detached), the instance is reported failed and the attach never
    happens: a transient fault leaves the instance with no link at all until the next run."""
    vpc, src, mirrors = mirrored_pair(run_module, ec2)
    (instance,) = launch(ec2, [src["web"]])
    assert run_module(LINK, {"instance_id": instance, **CLASSIC}).rc == 0
    ec2.modify_instance_attribute(InstanceId=instance, Groups=[src["web"], src["ssh"]])
    moto.reset_calls()
    faulty = proxy(fault_rate=1.0, kinds=(DROP_AFTER,), actions={"DetachClassicLinkVpc"}, max_faults=1)

    result = run_module(LINK, {"instance_id": instance, **CLASSIC}, endpoint_url=faulty.url)

    assert faulty.stats()["faults"][DROP_AFTER] == 1
    assert links(ec2).get(instance) == (vpc, {mirrors["web"], mirrors["ssh"]}), result.get("instances")
    assert result.rc == 0, (result.get("msg"), result.get("instances"))
    assert_noop(run_module, moto, LINK, {"instance_id": instance, **CLASSIC})
