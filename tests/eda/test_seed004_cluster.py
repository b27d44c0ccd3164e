# -*- coding: utf-8 -*-
"""Seed 004 end to end: a cluster across two regions, kept by ansible-rulebook (docs/howto-cluster-across-regions.md).

In moto, behind the harness: a cluster group in us-east-1 (A) and one in us-west-2 (B), each allowing itself
on the cluster ports and tagged with a VPC of the other region by ARN; members in both regions (an Auto
Scaling group with a launching and a terminating hook in us-east-1, an instance in us-west-2). The mirror
playbook runs once with the how-to's inventory (``mirror_references: addresses``, ``mirror_address_kind:
public``, ``mirror_prune: true``): A's mirror A' in us-west-2 (found by its mirroredFrom tag, A's ARN) allows
itself and A's address list (a prefix list in us-west-2 tagged ``classiclinkmirror:addressesOf=<A's ARN>``,
holding the public /32 of A's members), and the other way round. Then, as the how-to's step 2 says, east nodes
carry A and B', west nodes B and A' - and every node lets every other node in on the cluster ports (checked
from the groups' rules and the lists' entries, after each phase).

Then ansible-rulebook runs ``classiclink.mirror.mirror_cluster`` with the us-east-1 queue, and the test plays
EventBridge (moto's Auto Scaling sends no events): it sends each lifecycle event the harness's Auto Scaling
emulation opened (tests/support/autoscaling_emulation.py) and waits for the rulebook's run to complete it, read
from ``GET /_harness/autoscaling/lifecycle-actions``:

1. scale-out: the new node's address is in A's list in us-west-2, and the action was completed with CONTINUE;
2. a rule the guardrails refuse is added to A, so the us-east-1 run fails: the next launch is ABANDONed
   (the emulation terminates the node and Auto Scaling launches a replacement); the rule removed, the
   replacement's launch goes through (CONTINUE, its address in A's list, the abandoned node's not);
3. the first new node is terminated through Auto Scaling: the terminating action is completed (CONTINUE)
   while its address stays listed, the node terminates, and on its "terminated" state-change event its
   address leaves every address list of both regions, which are then exactly the running members';
then a shutdown control message stops ansible-rulebook.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.autoscaling_emulation import LAUNCHING, TERMINATING
from tests.support.devpaths import REPO_ROOT
from tests.support.moto_harness import CLASSIC_AMI_ID

from .cloudtrail import SHUTDOWN, body, lifecycle_action, state_change

pytestmark = pytest.mark.integration

EAST, WEST = "us-east-1", "us-west-2"
ACCOUNT = "123456789012"
QUEUE = "classiclink-mirror-events"
LINK_TAG = "classiclinkmirror:linkToVPC"
ADDRESSES_OF = "classiclinkmirror:addressesOf"
MIRRORED_FROM = "classiclinkmirror:mirroredFromClassicSecurityGroupId"
CLUSTER_PORTS = (7000, 7001)
ADMIN_CIDR = "198.51.100.0/24"  # the rule phase 2 adds to A, which the guardrail refuses
ASG, LAUNCH_HOOK, TERMINATE_HOOK = "db-east", "db-east-launching", "db-east-terminating"
VENV_BIN = REPO_ROOT / ".venv" / "bin"
PHASE_TIMEOUT = 150  # seconds for one event to be run and its action completed (a run of both regions ~ 20 s here)


def cluster_rule(group_id: str) -> dict[str, Any]:
    return {"IpProtocol": "tcp", "FromPort": CLUSTER_PORTS[0], "ToPort": CLUSTER_PORTS[1], "UserIdGroupPairs": [{"GroupId": group_id}]}


def build_side(ec2: Any, cidr: str, name: str) -> tuple[str, str, str]:
    """A VPC with a public subnet and the cluster group allowing itself; returns (vpc, subnet, group)."""
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr.replace("0.0/16", "1.0/24"))["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    group = ec2.create_security_group(GroupName=name, Description=f"{name} cluster nodes", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[cluster_rule(group)])
    return vpc, subnet, group


def arn(kind: str, region: str, resource_id: str) -> str:
    return f"arn:aws:ec2:{region}:{ACCOUNT}:{kind}/{resource_id}"


def public_ip(ec2: Any, instance_id: str) -> str:
    [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservation["Instances"][0]["PublicIpAddress"]


def address_lists(ec2: Any, group_arn: str) -> list[dict[str, Any]]:
    """The live address lists of the group named by ``group_arn`` in the region of ``ec2``."""
    found = ec2.describe_managed_prefix_lists(Filters=[{"Name": f"tag:{ADDRESSES_OF}", "Values": [group_arn]}])["PrefixLists"]
    return [pl for pl in found if pl.get("State", "").endswith("complete") and not pl["State"].startswith("delete")]


def entries(ec2: Any, prefix_list_id: str) -> set[str]:
    return {entry["Cidr"] for entry in ec2.get_managed_prefix_list_entries(PrefixListId=prefix_list_id)["Entries"]}


def address_list(ec2: Any, group_arn: str) -> set[str]:
    """Entries of the (one) address list of the group named by ``group_arn``, in the region of ``ec2``."""
    lists = address_lists(ec2, group_arn)
    assert len(lists) == 1, lists
    return entries(ec2, lists[0]["PrefixListId"])


def every_listed_address(*clients: Any) -> set[str]:
    """The entries of every address list (tagged addressesOf) in the regions of ``clients``."""
    found: set[str] = set()
    for ec2 in clients:
        for pl in ec2.describe_managed_prefix_lists()["PrefixLists"]:
            if ADDRESSES_OF in {t["Key"] for t in pl.get("Tags", [])} and not pl.get("State", "").startswith("delete"):
                found |= entries(ec2, pl["PrefixListId"])
    return found


def mirror_in(ec2: Any, vpc_id: str, source_arn: str) -> dict[str, Any]:
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                   {"Name": f"tag:{MIRRORED_FROM}", "Values": [source_arn]}])["SecurityGroups"]
    assert len(groups) == 1, groups
    return groups[0]


def cluster_sources(group: dict[str, Any]) -> set[str]:
    """What a group lets in on the cluster ports: group ids and prefix-list ids."""
    found: set[str] = set()
    for perm in group["IpPermissions"]:
        if (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort")) == ("tcp", *CLUSTER_PORTS):
            found |= {pair["GroupId"] for pair in perm.get("UserIdGroupPairs", [])}
            found |= {pl["PrefixListId"] for pl in perm.get("PrefixListIds", [])}
    return found


def nodes(clients: dict[str, Any], vpcs: set[str]) -> dict[str, dict[str, Any]]:
    """The running cluster nodes of both regions: id -> region, groups of its primary interface, public /32."""
    found: dict[str, dict[str, Any]] = {}
    for region, ec2 in clients.items():
        for reservation in ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]:
            for instance in reservation["Instances"]:
                if instance.get("VpcId") not in vpcs:
                    continue
                [eni] = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [instance["InstanceId"]]}])[
                    "NetworkInterfaces"]
                found[instance["InstanceId"]] = {"region": region, "groups": {g["GroupId"] for g in eni["Groups"]},
                                                 "public": f"{instance['PublicIpAddress']}/32"}
    return found


def unreachable_pairs(clients: dict[str, Any], vpcs: set[str]) -> list[tuple[str, str]]:
    """(node, peer) pairs where no group of the node lets the peer in on the cluster ports: in its own region through
    a group the peer carries, from the other region through a prefix list holding the peer's public address."""
    cluster = nodes(clients, vpcs)
    missing = []
    for node_id, node in cluster.items():
        ec2 = clients[node["region"]]
        allowed = set().union(*(cluster_sources(g) for g in ec2.describe_security_groups(GroupIds=sorted(node["groups"]))["SecurityGroups"]))
        listed = set().union(set(), *(entries(ec2, pl) for pl in allowed if pl.startswith("pl-")))
        for peer_id, peer in cluster.items():
            same_region = peer["region"] == node["region"]
            if peer_id != node_id and not ((same_region and peer["groups"] & allowed) or (not same_region and peer["public"] in listed)):
                missing.append((node_id, peer_id))
    return missing


def carry(ec2: Any, instance_id: str, groups: list[str]) -> None:
    """Give the instance's primary interface these groups (what ModifyInstanceAttribute --groups does on AWS)."""
    [eni] = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}])["NetworkInterfaces"]
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni["NetworkInterfaceId"], Groups=groups)


def run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: int = 300) -> tuple[int, str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return proc.returncode, f"rc={proc.returncode}\n--- stdout ---\n{proc.stdout[-8000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"


class Listener:
    """ansible-rulebook in the background, its output in a file (read in failure messages)."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path) -> None:
        self.log = cwd / "ansible-rulebook.log"
        self._out = self.log.open("w")
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=self._out, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)

    def output(self) -> str:
        return self.log.read_text()[-12000:]

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = PHASE_TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (value := check()):
                return value
            if self.proc.poll() is not None:
                pytest.fail(f"ansible-rulebook exited (rc={self.proc.returncode}) waiting for {what}\n{self.output()}")
            time.sleep(1)
        pytest.fail(f"no {what} within {timeout:.0f} s\n{self.output()}")

    def stop(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            pytest.fail(f"ansible-rulebook did not stop on the shutdown message\n{self.output()}")
        finally:
            self._out.close()


def test_a_cluster_across_two_regions_through_lifecycle_events(ansible_rulebook, moto, aws_env, aws_client, tmp_path: Path):
    east, west = aws_client("ec2", EAST), aws_client("ec2", WEST)
    clients = {EAST: east, WEST: west}
    asg, sqs = aws_client("autoscaling", EAST), aws_client("sqs", EAST)
    east_vpc, east_subnet, group_a = build_side(east, "10.50.0.0/16", "cluster-east")
    west_vpc, west_subnet, group_b = build_side(west, "10.60.0.0/16", "cluster-west")
    vpcs = {east_vpc, west_vpc}
    a_arn, b_arn = arn("security-group", EAST, group_a), arn("security-group", WEST, group_b)
    east.create_tags(Resources=[group_a], Tags=[{"Key": LINK_TAG, "Value": arn("vpc", WEST, west_vpc)}])
    west.create_tags(Resources=[group_b], Tags=[{"Key": LINK_TAG, "Value": arn("vpc", EAST, east_vpc)}])
    # members: one node in us-west-2, an Auto Scaling group of one in us-east-1, then its hooks
    west_node = west.run_instances(ImageId=CLASSIC_AMI_ID, MinCount=1, MaxCount=1, SubnetId=west_subnet,
                                   SecurityGroupIds=[group_b])["Instances"][0]["InstanceId"]
    east.create_launch_template(LaunchTemplateName="db-east-node", LaunchTemplateData={
        "ImageId": CLASSIC_AMI_ID, "InstanceType": "t3.micro", "SecurityGroupIds": [group_a]})
    asg.create_auto_scaling_group(AutoScalingGroupName=ASG, MinSize=0, MaxSize=5, DesiredCapacity=1,
                                  LaunchTemplate={"LaunchTemplateName": "db-east-node"}, VPCZoneIdentifier=east_subnet)
    for hook, transition, default in ((LAUNCH_HOOK, LAUNCHING, "ABANDON"), (TERMINATE_HOOK, TERMINATING, "CONTINUE")):
        asg.put_lifecycle_hook(AutoScalingGroupName=ASG, LifecycleHookName=hook, LifecycleTransition=transition,
                               HeartbeatTimeout=900, DefaultResult=default)
    [first_east] = [i["InstanceId"] for i in asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"]]

    env = {
        **aws_env,
        "PATH": os.pathsep.join([str(VENV_BIN), aws_env.get("PATH", os.defpath)]),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
    }
    role_vars = {  # the how-to's inventory (step 2)
        "mirror_references": "addresses",
        "mirror_address_kind": "public",
        "mirror_prune": True,
        # a guardrail: tcp/22 from anywhere is never mirrored; a source with such a rule fails its pair
        "mirror_guardrails": [{"protocol": "tcp", "ports": "22", "cidr": "0.0.0.0/0", "action": "fail"}],
    }
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {"ansible_connection": "local"}}, "vars": role_vars}}))

    # --- the first run (the how-to's step 2): mirrors and address lists on both sides
    rc, report = run([str(VENV_BIN / "ansible-playbook"), "classiclink.mirror.mirror", "-i", str(inventory),
                      "-e", json.dumps({"mirror_regions": [EAST, WEST]})], env, tmp_path)
    assert rc == 0, report
    a_mirror, b_mirror = mirror_in(west, west_vpc, a_arn), mirror_in(east, east_vpc, b_arn)
    # each source's list lives in the other region only, holding the public /32 of the source's members
    assert address_lists(east, a_arn) == [] and address_lists(west, b_arn) == [], report
    [a_list], [b_list] = address_lists(west, a_arn), address_lists(east, b_arn)
    assert entries(west, a_list["PrefixListId"]) == {f"{public_ip(east, first_east)}/32"}, report
    assert entries(east, b_list["PrefixListId"]) == {f"{public_ip(west, west_node)}/32"}, report
    # the self reference became: the mirror itself plus the source's own address list
    assert cluster_sources(a_mirror) == {a_mirror["GroupId"], a_list["PrefixListId"]}, a_mirror
    assert cluster_sources(b_mirror) == {b_mirror["GroupId"], b_list["PrefixListId"]}, b_mirror
    a_prime, b_prime = a_mirror["GroupId"], b_mirror["GroupId"]

    # the end of step 2: east nodes carry A and B', west nodes B and A'; every node reaches every other
    carry(west, west_node, [group_b, a_prime])
    carry(east, first_east, [group_a, b_prime])
    east.create_launch_template_version(LaunchTemplateName="db-east-node", LaunchTemplateData={
        "ImageId": CLASSIC_AMI_ID, "InstanceType": "t3.micro", "SecurityGroupIds": [group_a, b_prime]})
    east.modify_launch_template(LaunchTemplateName="db-east-node", DefaultVersion="2")  # the group launches $Default
    assert unreachable_pairs(clients, vpcs) == []
    assert len(nodes(clients, vpcs)) == 2

    # --- the listener
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    variables = tmp_path / "vars.yml"
    variables.write_text(yaml.safe_dump({
        "mirror_events_queue_name": QUEUE,
        "mirror_events_region": EAST,
        "mirror_events_endpoint_url": moto.url,
        "mirror_events_cluster_regions": [EAST, WEST],
        "mirror_events_quiet_seconds": 1,
        "mirror_events_max_wait_seconds": 5,
        "mirror_events_accept_control_messages": True,
    }))
    moto.reset_calls()
    listener = Listener([ansible_rulebook, "-r", "classiclink.mirror.mirror_cluster", "-i", str(inventory), "-e", str(variables)],
                        env, tmp_path)
    sent = 0

    def send(event: dict[str, Any]) -> None:
        nonlocal sent
        sqs.send_message(QueueUrl=queue_url, MessageBody=body(event))
        sent += 1

    def pending_action(transition: str) -> dict[str, Any]:
        [action] = [a for a in moto.lifecycle_actions() if a["state"] == "pending" and a["transition"] == transition
                    and a["lifecycle_hook_name"] in (LAUNCH_HOOK, TERMINATE_HOOK)]
        return action

    def send_lifecycle_event(action: dict[str, Any]) -> None:
        send(lifecycle_action(action["instance_id"], action["token"], transition=action["transition"], group=ASG,
                              hook=action["lifecycle_hook_name"], region=EAST, account=ACCOUNT))
        send(state_change(action["instance_id"], "running", region=EAST, account=ACCOUNT))  # what EC2 also sends

    def completed(token: str) -> dict[str, Any] | None:
        return next((a for a in moto.lifecycle_actions() if a["token"] == token and a["state"] == "completed"), None)

    try:
        # 1. scale-out: the new node's address reaches A's list in us-west-2 before its action is CONTINUEd
        asg.set_desired_capacity(AutoScalingGroupName=ASG, DesiredCapacity=2)
        launch = pending_action(LAUNCHING)
        new_node, new_address = launch["instance_id"], f"{public_ip(east, launch['instance_id'])}/32"
        send_lifecycle_event(launch)
        done = listener.wait_for("completion of the launch", lambda: completed(launch["token"]))
        assert (done["result"], done["completed_by"]) == ("CONTINUE", "CompleteLifecycleAction"), listener.output()
        assert address_list(west, a_arn) == {f"{public_ip(east, first_east)}/32", new_address}, listener.output()
        assert unreachable_pairs(clients, vpcs) == [], listener.output()

        # 2. a failing local update: A gets a rule the guardrail refuses, its pair fails, the launch is ABANDONed
        admin = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": ADMIN_CIDR}]}
        east.authorize_security_group_ingress(GroupId=group_a, IpPermissions=[admin])
        asg.set_desired_capacity(AutoScalingGroupName=ASG, DesiredCapacity=3)
        doomed = pending_action(LAUNCHING)
        doomed_address = f"{public_ip(east, doomed['instance_id'])}/32"
        send_lifecycle_event(doomed)
        done = listener.wait_for("completion of the failed launch", lambda: completed(doomed["token"]))
        assert (done["result"], done["completed_by"]) == ("ABANDON", "CompleteLifecycleAction"), listener.output()
        failed = f"1 scope(s) failed, their lifecycle actions abandoned: {EAST}: 1 failures: pair cluster-east ({group_a})"
        listener.wait_for("the run to fail naming the scope", lambda: failed in listener.output(), timeout=30)
        assert "a guardrail with action fail forbids (tcp 22-22 198.51.100.0/24" in listener.output()
        [reservation] = east.describe_instances(InstanceIds=[doomed["instance_id"]])["Reservations"]
        assert reservation["Instances"][0]["State"]["Name"] == "terminated"  # Auto Scaling gave up on it
        # the failed pair changed nothing: A's list kept as it was (not pruned either), the doomed node never in it
        assert address_list(west, a_arn) == {f"{public_ip(east, first_east)}/32", new_address}, listener.output()
        east.revoke_security_group_ingress(GroupId=group_a, IpPermissions=[admin])
        # ... and launched a replacement, which goes through the same steps, now with a good run
        replacement = pending_action(LAUNCHING)
        assert replacement["instance_id"] != doomed["instance_id"]
        replacement_address = f"{public_ip(east, replacement['instance_id'])}/32"
        send_lifecycle_event(replacement)
        done = listener.wait_for("completion of the replacement's launch", lambda: completed(replacement["token"]))
        assert done["result"] == "CONTINUE", listener.output()
        assert address_list(west, a_arn) == {f"{public_ip(east, first_east)}/32", new_address, replacement_address}, listener.output()
        assert doomed_address not in every_listed_address(east, west)
        assert unreachable_pairs(clients, vpcs) == [], listener.output()

        # 3. termination: held, run, CONTINUEd (still listed: it ran until then), terminated; its "terminated" event
        # takes the address out of every list of both regions
        asg.terminate_instance_in_auto_scaling_group(InstanceId=new_node, ShouldDecrementDesiredCapacity=True)
        leaving = pending_action(TERMINATING)
        assert leaving["instance_id"] == new_node
        send(lifecycle_action(new_node, leaving["token"], transition=TERMINATING, group=ASG, hook=TERMINATE_HOOK, region=EAST))
        done = listener.wait_for("completion of the termination", lambda: completed(leaving["token"]))
        assert done["result"] == "CONTINUE", listener.output()
        [reservation] = east.describe_instances(InstanceIds=[new_node])["Reservations"]
        assert reservation["Instances"][0]["State"]["Name"] == "terminated"
        assert new_address in address_list(west, a_arn)  # docs: an address leaves a list when the node is terminated
        send(state_change(new_node, "terminated", region=EAST, account=ACCOUNT))
        listener.wait_for("the terminated node's address to leave A's list", lambda: new_address not in address_list(west, a_arn))
        assert new_address not in every_listed_address(east, west)
        # the lists are exactly the running members' public addresses, on both sides
        running = nodes(clients, vpcs)
        assert set(running) == {first_east, replacement["instance_id"], west_node}
        assert address_list(west, a_arn) == {running[first_east]["public"], running[replacement["instance_id"]]["public"]}
        assert address_list(east, b_arn) == {running[west_node]["public"]}  # the other side untouched
        assert unreachable_pairs(clients, vpcs) == [], listener.output()
    finally:
        sqs.send_message(QueueUrl=queue_url, MessageBody=SHUTDOWN)
        rc = listener.stop()

    output = listener.output()
    assert rc == 0, output
    completions = [c for c in moto.calls() if c["action"] == "CompleteLifecycleAction"]
    assert [c["status"] for c in completions] == [200, 200, 200, 200], output  # one per lifecycle event, each accepted
    results = {a["token"]: a["result"] for a in moto.lifecycle_actions() if a["completed_by"] == "CompleteLifecycleAction"}
    assert results == {launch["token"]: "CONTINUE", doomed["token"]: "ABANDON", replacement["token"]: "CONTINUE",
                       leaving["token"]: "CONTINUE"}
    assert sent == 8
    # every run covered both regions (the cluster's scopes), and nothing else was mutated out of the two regions
    assert {c["region"] for c in moto.calls() if c["service"] == "ec2"} == {EAST, WEST}, output
    # the lists were kept by ModifyManagedPrefixList alone: no list was made again or deleted by the runs
    assert not [c["action"] for c in moto.mutating_calls() if c["service"] == "ec2"
                and c["action"] in ("CreateManagedPrefixList", "DeleteManagedPrefixList")], output
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0", output
