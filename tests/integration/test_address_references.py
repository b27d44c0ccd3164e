"""references: addresses (issue 11) end to end, against the moto server: group references that no mirror can stand
for become references to the referenced group's address list (a customer-managed prefix list in the mirror's scope
holding the members' /32s), kept exact every run, pruned with prune; calls counted at the server.

The harness answers prefix-list calls as the EC2 API reference says (tests/support/prefix_list_emulation.py).
moto keeps a terminated instance's primary network interface unless it was launched with DeleteOnTermination
(AWS deletes it): the members here are launched with ``DeleteOnTermination: true`` on their primary interface
(``launch_member``), so a terminated member leaves its group as on AWS; the harness is not changed.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.integration.ec2_world import MIRRORED_FROM, allow, describe, group_named, make_group, make_vpc, rules, tags, tcp
from tests.support.moto_harness import CLASSIC_AMI_ID

MODULE = "classiclink_mirror_group"
HOME_ACCOUNT = "123456789012"
ADDRESSES_OF = "classiclinkmirror:addressesOf"
READS_PER_NOOP = 10
ARGS = {"all_sources": True, "references": "addresses"}


def vpc_arn(region: str, vpc_id: str, account: str = HOME_ACCOUNT) -> str:
    return "arn:aws:ec2:%s:%s:vpc/%s" % (region, account, vpc_id)


def group_arn(region: str, group_id: str, account: str = HOME_ACCOUNT) -> str:
    return "arn:aws:ec2:%s:%s:security-group/%s" % (region, account, group_id)


def ok(result):
    assert result.rc == 0, result.get("msg")
    return result


def mutating(moto):
    return [call["action"] for call in moto.mutating_calls() if call["service"] == "ec2"]


def ec2_calls(moto):
    return [call for call in moto.calls() if call["service"] == "ec2"]


def address_lists(ec2):
    """group ARN -> (prefix list id, family, entries, max entries) of the lists tagged addressesOf."""
    found = {}
    for item in ec2.describe_managed_prefix_lists()["PrefixLists"]:
        tag = {t["Key"]: t["Value"] for t in item.get("Tags", [])}.get(ADDRESSES_OF)
        if not tag or item.get("State", "").startswith("delete"):
            continue
        entries = ec2.get_managed_prefix_list_entries(PrefixListId=item["PrefixListId"])["Entries"]
        found[(tag, item["AddressFamily"])] = (item["PrefixListId"], sorted(e["Cidr"] for e in entries), item["MaxEntries"])
    return found


def launch_member(ec2, subnet: str, groups: list[str], count: int = 1) -> list[str]:
    """Instances whose primary interface carries ``groups`` and is deleted with the instance (as AWS does)."""
    reservation = ec2.run_instances(ImageId=CLASSIC_AMI_ID, MinCount=count, MaxCount=count, InstanceType="t3.micro",
                                    NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": groups,
                                                        "DeleteOnTermination": True}])
    return [instance["InstanceId"] for instance in reservation["Instances"]]


def private_cidrs(ec2, instance_ids):
    found = ec2.describe_instances(InstanceIds=list(instance_ids))["Reservations"]
    return sorted("%s/32" % i["PrivateIpAddress"] for r in found for i in r["Instances"])


class Cluster:
    """us-east-1: a source VPC with a subnet; G (a managed group mirrored into a home VPC) with members; S (allows G on
    5432 and itself on 8080) mirrored into a VPC of eu-west-1."""

    def __init__(self, ec2, eu, members: int = 2, public_subnet: bool = False):
        self.ec2, self.eu = ec2, eu
        self.source_vpc = make_vpc(ec2, "10.20.0.0/16", classiclink=False)
        self.subnet = ec2.create_subnet(VpcId=self.source_vpc, CidrBlock="10.20.0.0/20")["Subnet"]["SubnetId"]
        if public_subnet:
            ec2.modify_subnet_attribute(SubnetId=self.subnet, MapPublicIpOnLaunch={"Value": True})
        self.home_target = make_vpc(ec2, "10.21.0.0/16", classiclink=False)
        self.eu_target = make_vpc(eu, "10.30.0.0/16", classiclink=False)
        self.g = make_group(ec2, "g", vpc_id=self.source_vpc, link=self.home_target)
        self.s = make_group(ec2, "s", vpc_id=self.source_vpc, link=vpc_arn("eu-west-1", self.eu_target))
        allow(ec2, self.s, tcp(5432, group=self.g, description="db from g"))
        self.members = launch_member(ec2, self.subnet, [self.g], members) if members else []

    def mirror(self):
        return group_named(self.eu, self.eu_target, "s")


def test_reference_to_a_group_mirrored_elsewhere_becomes_its_address_list_then_membership_change_and_no_op(
        run_module, moto, ec2, ec2_client):
    eu = ec2_client("eu-west-1")
    world = Cluster(ec2, eu)
    g_arn = group_arn("us-east-1", world.g)
    moto.reset_calls()

    # (e) check mode: the plan with placeholders, no mutating call
    check = ok(run_module(MODULE, ARGS, check=True, diff=True))
    assert check["changed"] is True and mutating(moto) == []
    (planned,) = [entry for entry in check["address_lists"] if entry["group_arn"] == g_arn]
    assert planned["action"] == "created" and planned["prefix_list_id"].startswith("new-address-list-")
    assert planned["region"] == "eu-west-1" and planned["entries"] == private_cidrs(ec2, world.members)
    (pair,) = [entry for entry in check["groups"] if entry["source_group_id"] == world.s]
    assert {rule.get("prefix_list_id") for rule in pair["ingress"]["authorize"]} >= {planned["prefix_list_id"]}
    assert pair["skipped_references"] == []
    assert any("address list" in item["before_header"] and g_arn in item["before_header"] for item in check["diff"])

    # (a) the real run: the mirror's rule refers to G's list in eu-west-1, whose entries are G's members' private /32s
    moto.reset_calls()
    real = ok(run_module(MODULE, ARGS))
    first = ec2_calls(moto)
    lists = address_lists(eu)
    list_id, entries, max_entries = lists[(g_arn, "IPv4")]
    assert entries == private_cidrs(ec2, world.members) and max_entries == 10
    mirror = world.mirror()
    assert ("tcp", 5432, 5432, list_id, "db from g") in rules(mirror)
    (made,) = [entry for entry in real["address_lists"] if entry["group_arn"] == g_arn]
    assert made["prefix_list_id"] == list_id and made["action"] == "created" and made["entries_added"] == 2
    assert address_lists(ec2) == {}  # nothing in the source's region
    per_region = Counter(call["region"] for call in first)
    assert per_region["eu-west-1"] <= 3 * 2 + 1 + 1 + 15, [c["action"] for c in first]  # 3N + M + lists + 15

    # (b) a new member: the next run only modifies the list
    added = launch_member(ec2, world.subnet, [world.g])
    moto.reset_calls()
    again = ok(run_module(MODULE, ARGS))
    assert mutating(moto) == ["ModifyManagedPrefixList"], mutating(moto)
    assert again["changed"] is True
    assert address_lists(eu)[(g_arn, "IPv4")][1] == private_cidrs(ec2, world.members + added)
    (entry,) = [e for e in again["address_lists"] if e["group_arn"] == g_arn]
    assert entry["action"] == "modified" and entry["added"] == private_cidrs(ec2, added) and entry["removed"] == []
    membership_calls = len(ec2_calls(moto))

    # ... and it leaves when terminated
    gone = private_cidrs(ec2, added)
    ec2.terminate_instances(InstanceIds=added)
    moto.reset_calls()
    ok(run_module(MODULE, ARGS))
    assert mutating(moto) == ["ModifyManagedPrefixList"]
    assert address_lists(eu)[(g_arn, "IPv4")][1] == private_cidrs(ec2, world.members)
    assert not set(gone) & set(address_lists(eu)[(g_arn, "IPv4")][1])

    # (e) the no-op: reads only, within the budget per scope
    moto.reset_calls()
    noop = ok(run_module(MODULE, ARGS))
    assert noop["changed"] is False and mutating(moto) == []
    assert all(entry["action"] == "unchanged" for entry in noop["address_lists"])
    for region, count in Counter(call["region"] for call in ec2_calls(moto)).items():
        assert count <= READS_PER_NOOP, (region, [c["action"] for c in ec2_calls(moto)])
    print("calls: converge %d, membership change %d, no-op %d" % (len(first), membership_calls, len(ec2_calls(moto))))


def test_self_reference_in_another_region_keeps_the_source_side_by_address(run_module, moto, ec2, ec2_client):
    eu = ec2_client("eu-west-1")
    world = Cluster(ec2, eu, members=0)
    allow(ec2, world.s, tcp(8080, group=world.s, description="cluster"))
    members = launch_member(ec2, world.subnet, [world.s], 2)
    ok(run_module(MODULE, ARGS))
    mirror = world.mirror()
    s_arn = group_arn("us-east-1", world.s)
    list_id, entries, _size = address_lists(eu)[(s_arn, "IPv4")]
    assert entries == private_cidrs(ec2, members)
    assert ("tcp", 8080, 8080, mirror["GroupId"], "cluster") in rules(mirror)  # the mirror itself
    assert ("tcp", 8080, 8080, list_id, "cluster") in rules(mirror)  # plus the source side's members
    assert tags(mirror)[MIRRORED_FROM] == s_arn
    moto.reset_calls()
    assert ok(run_module(MODULE, ARGS))["changed"] is False and mutating(moto) == []


def test_public_addresses_and_members_without_one(run_module, moto, ec2, ec2_client):
    eu = ec2_client("eu-west-1")
    world = Cluster(ec2, eu, members=0)
    private_subnet = ec2.create_subnet(VpcId=world.source_vpc, CidrBlock="10.20.16.0/20")["Subnet"]["SubnetId"]
    public = launch_member(ec2, world.subnet, [world.g])  # the subnet maps no public IP yet
    ec2.modify_subnet_attribute(SubnetId=world.subnet, MapPublicIpOnLaunch={"Value": True})
    public = launch_member(ec2, world.subnet, [world.g], 2)
    private_only = launch_member(ec2, private_subnet, [world.g])
    found = ec2.describe_instances(InstanceIds=public)["Reservations"]
    public_ips = sorted("%s/32" % i["PublicIpAddress"] for r in found for i in r["Instances"] if i.get("PublicIpAddress"))
    if len(public_ips) != 2:
        pytest.skip("moto did not map public IPs on launch in this version")
    result = ok(run_module(MODULE, dict(ARGS, address_kind="public")))
    g_arn = group_arn("us-east-1", world.g)
    assert address_lists(eu)[(g_arn, "IPv4")][1] == public_ips
    (entry,) = [e for e in result["address_lists"] if e["group_arn"] == g_arn]
    without = entry["members_without_public_address"]
    assert {item["instance_id"] for item in without} >= set(private_only)
    assert {item["code"] for item in without} == {"no_public_address"}
    assert any("no public IPv4 address" in str(warning) for warning in result.get("warnings", []))


def test_prune_deletes_a_list_no_rule_refers_to_any_more(run_module, moto, ec2, ec2_client):
    eu = ec2_client("eu-west-1")
    world = Cluster(ec2, eu, members=1)
    ok(run_module(MODULE, ARGS))
    g_arn = group_arn("us-east-1", world.g)
    list_id = address_lists(eu)[(g_arn, "IPv4")][0]
    ec2.revoke_security_group_ingress(GroupId=world.s, IpPermissions=[tcp(5432, group=world.g, description="db from g")])

    moto.reset_calls()
    kept = ok(run_module(MODULE, ARGS))  # without prune: the rule goes, the list stays
    assert "DeleteManagedPrefixList" not in mutating(moto)
    assert (g_arn, "IPv4") in address_lists(eu)
    assert all(rule[3] != list_id for rule in rules(world.mirror()))
    assert kept["address_lists"] == []

    moto.reset_calls()
    pruned = ok(run_module(MODULE, dict(ARGS, prune=True)))
    assert mutating(moto) == ["DeleteManagedPrefixList"]
    assert (g_arn, "IPv4") not in address_lists(eu)
    (entry,) = pruned["address_lists"]
    assert entry["action"] == "deleted" and entry["prefix_list_id"] == list_id and entry["reason"] == "unused"
    moto.reset_calls()
    assert ok(run_module(MODULE, dict(ARGS, prune=True)))["changed"] is False and mutating(moto) == []


def test_prune_in_one_run_revokes_the_rule_then_deletes_the_list(run_module, moto, ec2, ec2_client):
    eu = ec2_client("eu-west-1")
    world = Cluster(ec2, eu, members=1)
    ok(run_module(MODULE, ARGS))
    ec2.revoke_security_group_ingress(GroupId=world.s, IpPermissions=[tcp(5432, group=world.g, description="db from g")])
    moto.reset_calls()
    ok(run_module(MODULE, dict(ARGS, prune=True)))
    assert mutating(moto) == ["RevokeSecurityGroupIngress", "DeleteManagedPrefixList"]
    assert address_lists(eu) == {}


def test_a_list_counts_as_its_max_entries_in_the_rules_quota(run_module, moto, ec2, ec2_client):
    eu = ec2_client("eu-west-1")
    world = Cluster(ec2, eu, members=1)
    allow(ec2, world.s, *[tcp(1000 + n, cidr="192.0.2.%d/32" % n) for n in range(6)])
    moto.reset_calls()
    refused = run_module(MODULE, dict(ARGS, rules_quota=15))  # 6 CIDR rules + a list of MaxEntries 10 = 16
    # G's own pair (into a home VPC) goes on; nothing is made in eu-west-1, not even the list
    assert refused.rc != 0 and [c["action"] for c in moto.mutating_calls() if c["region"] == "eu-west-1"] == []
    (pair,) = [entry for entry in refused["groups"] if entry["source_group_id"] == world.s]
    assert pair["code"] == "quota" and "maximum entries" in pair["error"]
    assert all(entry["group_arn"] != group_arn("us-east-1", world.g) or entry["action"] == "unchanged"
               for entry in refused["address_lists"]) or refused["address_lists"] == []
    assert address_lists(eu) == {}
    ok(run_module(MODULE, dict(ARGS, rules_quota=16)))
    assert (group_arn("us-east-1", world.g), "IPv4") in address_lists(eu)


def test_references_drop_makes_no_list_call(run_module, moto, ec2, ec2_client):
    eu = ec2_client("eu-west-1")
    world = Cluster(ec2, eu, members=1)
    moto.reset_calls()
    result = ok(run_module(MODULE, {"all_sources": True}))
    assert "address_lists" not in result
    assert not [c for c in ec2_calls(moto) if "PrefixList" in c["action"] or c["action"] == "DescribeNetworkInterfaces"]
    (pair,) = [entry for entry in result["groups"] if entry["source_group_id"] == world.s]
    assert [item["code"] for item in pair["skipped_references"]] == ["other_target_reference"]
    assert describe(ec2, world.s)
