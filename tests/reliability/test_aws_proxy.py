"""The fault-injecting proxy itself (tests/support/aws_proxy.py), seen by a boto3 client without retries;
its faults, latency and consistency lag.

These tests share the harness's account (no moto reset: a fresh EC2 backend costs
seconds) and only clear the call log; names are unique per test.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from botocore.parsers import create_parser

from tests.support.aws_proxy import (
    ALL_KINDS,
    DROP_AFTER,
    DROP_BEFORE,
    THROTTLE,
    UNAVAILABLE,
    ConsistencyLag,
    FaultPlan,
    start_proxy,
)
from tests.support.devpaths import REPO_ROOT
from tests.support.moto_harness import MotoHarness


_SESSION = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")  # caches the EC2 model


def client(url: str) -> Any:
    return _SESSION.client("ec2", region_name="us-east-1", endpoint_url=url,
                           config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


def server_actions(moto: MotoHarness) -> list[str]:
    return [call["action"] for call in moto.calls()]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def moto(moto_server: MotoHarness) -> MotoHarness:
    """The shared harness with an empty call log (overrides the resetting fixture for this module)."""
    moto_server.reset_calls()
    return moto_server


def test_no_faults_is_a_transparent_proxy(moto, proxy):
    clean = proxy()
    ec2 = client(clean.url)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["CidrBlock"] == "10.1.0.0/16"
    ec2.delete_vpc(VpcId=vpc)
    with pytest.raises(ClientError) as error:  # AWS errors pass through untouched
        ec2.describe_vpcs(VpcIds=["vpc-0123456789abcdef0"])
    assert error.value.response["Error"]["Code"] == "InvalidVpcID.NotFound"
    assert server_actions(moto) == ["CreateVpc", "DescribeVpcs", "DeleteVpc", "DescribeVpcs"]
    stats = clean.stats()
    assert (stats["requests"], stats["forwarded"], stats["faults_total"]) == (4, 4, 0)
    assert stats["by_action"] == {"CreateVpc": 1, "DescribeVpcs": 2, "DeleteVpc": 1}


@pytest.mark.parametrize("kind", [THROTTLE, UNAVAILABLE])
def test_throttle_and_503_answer_without_forwarding(moto, proxy, kind):
    faulty = proxy(fault_rate=1.0, kinds=(kind,))
    with pytest.raises(ClientError) as error:
        client(faulty.url).create_security_group(GroupName=unique("refused"), Description="x")
    response = error.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert response["Error"]["Code"] == ("RequestLimitExceeded" if kind == THROTTLE else "503")
    assert server_actions(moto) == []  # the request never reached EC2
    assert faulty.stats()["faults"][kind] == 1 and faulty.stats()["forwarded"] == 0


def test_dropped_request_is_lost(moto, proxy):
    faulty = proxy(fault_rate=1.0, kinds=(DROP_BEFORE,))
    with pytest.raises(ConnectionClosedError):
        client(faulty.url).create_security_group(GroupName=unique("lost"), Description="x")
    assert server_actions(moto) == []


def test_dropped_answer_was_executed(moto, proxy):
    faulty = proxy(fault_rate=1.0, kinds=(DROP_AFTER,))
    name = unique("executed")
    with pytest.raises(ConnectionClosedError):
        client(faulty.url).create_security_group(GroupName=name, Description="x")
    assert server_actions(moto) == ["CreateSecurityGroup"]  # it ran...
    assert [g["GroupName"] for g in client(moto.url).describe_security_groups(GroupNames=[name])["SecurityGroups"]] == [name]
    assert faulty.stats()["forwarded"] == 1  # ...the client just never heard back


def test_harness_and_moto_api_calls_are_never_faulted_or_delayed(moto, proxy):
    faulty = proxy(fault_rate=1.0, latency_ms=300)
    via_proxy = MotoHarness.connect(faulty.url)
    started = time.monotonic()
    for _attempt in range(5):
        assert via_proxy.calls() == []
    via_proxy.reset_calls()  # POST /_harness/calls/reset
    assert via_proxy.classiclink_links() == moto.classiclink_links()  # GET /_harness/classiclink, passed through
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as error:  # moto's own answer, not a fault
        opener.open(f"{faulty.url}/moto-api/no-such-endpoint")
    assert error.value.code == 404
    assert time.monotonic() - started < 1.5
    stats = faulty.stats()
    assert stats["requests"] == 0 and stats["faults_total"] == 0 and stats["passthrough"] == 8


def test_latency_is_added_to_every_aws_call(moto, proxy):
    slow = proxy(latency_ms=200)
    ec2 = client(slow.url)
    ec2.describe_vpcs()
    started = time.monotonic()
    for _attempt in range(3):
        ec2.describe_vpcs()
    assert time.monotonic() - started >= 0.6


def test_actions_and_max_faults_limit_the_faults(moto, proxy):
    faulty = proxy(fault_rate=1.0, kinds=(THROTTLE,), actions={"CreateSecurityGroup"}, max_faults=1)
    ec2 = client(faulty.url)
    ec2.describe_vpcs()  # not an eligible action
    name = unique("budget")
    with pytest.raises(ClientError):
        ec2.create_security_group(GroupName=name, Description="x")
    ec2.create_security_group(GroupName=name, Description="x")  # budget spent
    assert server_actions(moto) == ["DescribeVpcs", "CreateSecurityGroup"]
    assert faulty.stats()["faults_by_action"] == {"CreateSecurityGroup:throttle": 1}


def test_decisions_are_seeded_and_close_to_the_rate():
    def sequence(seed: int) -> list[str | None]:
        plan = FaultPlan(0.3, 0, seed, ALL_KINDS)
        return [plan.decide("DescribeVpcs") for _decision in range(2000)]

    assert sequence(1) == sequence(1)
    assert sequence(1) != sequence(2)
    decisions = sequence(3)
    faulted = [kind for kind in decisions if kind]
    assert 0.27 < len(faulted) / len(decisions) < 0.33
    assert {kind: faulted.count(kind) > 100 for kind in ALL_KINDS} == dict.fromkeys(ALL_KINDS, True)
    with pytest.raises(ValueError):
        FaultPlan(1.5, 0, 0, ALL_KINDS)
    with pytest.raises(ValueError):
        FaultPlan(0.1, 0, 0, ("explode",))


def test_scripted_errors_answer_matching_calls_without_forwarding(moto, proxy):
    denied = "arn:aws:iam::333344445555:role/ClassicLinkMirror"
    scripted = proxy(errors={
        "AssumeRole~333344445555": (403, "AccessDenied", "not authorized to perform: sts:AssumeRole"),
        "DescribeVpcs@eu-west-2": (401, "OptInRequired", "You are not subscribed to this service."),
    })
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    sts = _SESSION.client("sts", region_name="us-east-1", endpoint_url=scripted.url, config=config)
    with pytest.raises(ClientError) as error:
        sts.assume_role(RoleArn=denied, RoleSessionName="probe")
    assert error.value.response["Error"]["Code"] == "AccessDenied"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert sts.assume_role(RoleArn="arn:aws:iam::210987654321:role/ClassicLinkMirror", RoleSessionName="probe")["Credentials"]
    london = _SESSION.client("ec2", region_name="eu-west-2", endpoint_url=scripted.url, config=config)
    with pytest.raises(ClientError) as error:
        london.describe_vpcs()
    assert error.value.response["Error"]["Code"] == "OptInRequired"
    assert london.describe_security_groups()["SecurityGroups"] is not None  # another action of that region passes
    assert client(scripted.url).describe_vpcs()["Vpcs"] is not None  # the same action in another region passes
    assert server_actions(moto) == ["AssumeRole", "DescribeSecurityGroups", "DescribeVpcs"]
    stats = scripted.stats()
    assert stats["errors_answered"] == {"AssumeRole~333344445555": 1, "DescribeVpcs@eu-west-2": 1}
    assert (stats["requests"], stats["forwarded"]) == (5, 3)

    scripted.configure(errors=None)
    assert london.describe_vpcs()["Vpcs"] is not None
    for bad in ({"Describe Vpcs": (400, "X", "y")}, {"DescribeVpcs": (200, "X", "y")}, {"DescribeVpcs": ("x",)}):
        with pytest.raises(ValueError):
            FaultPlan(0, 0, 0, ALL_KINDS, errors=bad)


def test_only_loopback(moto):
    with pytest.raises(ValueError):
        start_proxy("http://192.0.2.1:5000")
    with pytest.raises(ValueError):
        start_proxy(moto.url, host="0.0.0.0")


def test_cli_serves_stats_and_stops_on_sigterm(moto, tmp_path: Path):
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.aws_proxy", "--upstream", moto.url, "--port", "0",
         "--fault-rate", "1.0", "--kinds", "throttle", "--latency-ms", "1", "--seed", "5", "--lag-seconds", "0.5",
         "--port-file", str(port_file)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert port_file.exists(), proc.stderr.read() if proc.poll() is not None else "no port file"
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        with pytest.raises(ClientError) as error:
            client(url).describe_vpcs()
        assert error.value.response["Error"]["Code"] == "RequestLimitExceeded"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{url}/_proxy/stats") as resp:
            stats = json.load(resp)
        assert stats["faults"]["throttle"] == 1 and stats["latency_ms"] == 1.0 and stats["lag_seconds"] == 0.5
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "aws proxy listening on http://127.0.0.1:" in out
    assert not port_file.exists()


# ----------------------------------------------------------------------
# Consistency lag


def error_code(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as error:
        call(*args, **kwargs)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error.value.response["Error"]["Code"])


def error_code_any(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as error:
        call(*args, **kwargs)
    return str(error.value.response["Error"]["Code"])


def group_ids(ec2: Any, **kwargs: Any) -> set[str]:
    return {g["GroupId"] for g in ec2.describe_security_groups(**kwargs)["SecurityGroups"]}


def tags_of(ec2: Any, group_id: str) -> dict[str, str]:
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    return {t["Key"]: t["Value"] for t in group.get("Tags", [])}


def wait_until(deadline: float) -> None:
    time.sleep(max(0.0, deadline - time.monotonic()))


INGRESS = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]


def test_lag_hides_a_new_group_until_it_settles(moto, proxy):
    lag = 1.5
    lagging = proxy(lag_seconds=lag)
    ec2, direct = client(lagging.url), client(moto.url)
    vpc = direct.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    source = direct.create_security_group(GroupName=unique("source"), Description="x", VpcId=vpc)["GroupId"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
    before = group_ids(direct, Filters=in_vpc)
    moto.reset_calls()

    new = ec2.create_security_group(GroupName=unique("mirror"), Description="x", VpcId=vpc)["GroupId"]
    settled = time.monotonic() + lag
    # the new id, anywhere in the parameters: NotFound from the proxy, as EC2 would answer
    referencing_new = [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "UserIdGroupPairs": [{"GroupId": new}]}]
    assert error_code(ec2.authorize_security_group_ingress, GroupId=new, IpPermissions=INGRESS) == "InvalidGroup.NotFound"
    assert error_code(ec2.authorize_security_group_ingress, GroupId=source,
                      IpPermissions=referencing_new) == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as error:
        ec2.describe_security_groups(GroupIds=[new])
    assert error.value.response["Error"] == {"Code": "InvalidGroup.NotFound",
                                             "Message": f"The security group '{new}' does not exist"}
    # filtered describes leave it out; a tag VALUE naming it is no mention
    assert group_ids(ec2, Filters=in_vpc) == before
    assert group_ids(ec2, Filters=[{"Name": "group-id", "Values": [new]}]) == set()
    ec2.create_tags(Resources=[source], Tags=[{"Key": "mirroredTo", "Value": new}])
    assert time.monotonic() < settled, "the calls above took longer than the lag: the test proves nothing"
    # the harness never saw the hidden calls
    assert server_actions(moto) == ["CreateSecurityGroup", "DescribeSecurityGroups", "DescribeSecurityGroups",
                                    "CreateTags"]
    stats = lagging.stats()
    assert (stats["lag_seconds"], stats["lag_hidden"], stats["lag_rewritten"]) == (lag, 3, 2)
    assert (stats["requests"], stats["forwarded"]) == (7, 4)

    wait_until(settled + 0.2)
    ec2.authorize_security_group_ingress(GroupId=new, IpPermissions=INGRESS)
    ec2.authorize_security_group_ingress(GroupId=source, IpPermissions=referencing_new)
    assert group_ids(ec2, GroupIds=[new]) == {new}
    assert group_ids(ec2, Filters=in_vpc) == before | {new}
    assert group_ids(ec2, Filters=[{"Name": "group-id", "Values": [new]}]) == {new}
    assert tags_of(ec2, source) == {"mirroredTo": new}
    stats = lagging.stats()
    assert (stats["lag_hidden"], stats["lag_rewritten"]) == (3, 2)
    assert server_actions(moto)[4:] == ["AuthorizeSecurityGroupIngress"] * 2 + ["DescribeSecurityGroups"] * 4


def test_lag_shows_the_old_tags_until_the_write_settles(moto, proxy):
    lag = 1.0
    lagging = proxy(lag_seconds=lag)
    ec2, direct = client(lagging.url), client(moto.url)
    vpc = direct.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    group = direct.create_security_group(GroupName=unique("tagged"), Description="x", VpcId=vpc)["GroupId"]
    unseen = direct.create_security_group(GroupName=unique("unseen"), Description="x", VpcId=vpc)["GroupId"]
    direct.create_tags(Resources=[group, unseen],
                       Tags=[{"Key": "role", "Value": "old"}, {"Key": "gone", "Value": "soon"}])
    assert tags_of(ec2, group) == {"role": "old", "gone": "soon"}  # the proxy now knows the old tags

    ec2.create_tags(Resources=[group, unseen],
                    Tags=[{"Key": "role", "Value": "new"}, {"Key": "added", "Value": "yes"}])
    ec2.delete_tags(Resources=[group, unseen], Tags=[{"Key": "gone"}])
    settled = time.monotonic() + lag
    new_tags = {"role": "new", "added": "yes"}
    assert tags_of(direct, group) == new_tags  # moto has them...
    assert tags_of(ec2, group) == {"role": "old", "gone": "soon"}  # ...the proxy shows the old ones
    listed = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    assert {t["Key"]: t["Value"] for g in listed if g["GroupId"] == group for t in g["Tags"]} == {
        "role": "old", "gone": "soon"}
    assert tags_of(ec2, unseen) == new_tags  # never described through the proxy: no old tags known, no lag
    assert time.monotonic() < settled, "the calls above took longer than the lag: the test proves nothing"
    assert lagging.stats()["lag_rewritten"] == 2

    wait_until(settled + 0.2)
    assert tags_of(ec2, group) == new_tags
    stats = lagging.stats()
    assert (stats["lag_hidden"], stats["lag_rewritten"]) == (0, 2)


def test_lag_hides_a_new_prefix_list(moto, proxy):
    lag = 0.8
    lagging = proxy(lag_seconds=lag)
    ec2 = client(lagging.url)
    name = unique("pl")
    created = ec2.create_managed_prefix_list(PrefixListName=name, MaxEntries=5, AddressFamily="IPv4")
    new = created["PrefixList"]["PrefixListId"]
    settled = time.monotonic() + lag
    by_name = [{"Name": "prefix-list-name", "Values": [name]}]
    assert error_code(ec2.describe_managed_prefix_lists, PrefixListIds=[new]) == "InvalidPrefixListID.NotFound"
    assert ec2.describe_managed_prefix_lists(Filters=by_name)["PrefixLists"] == []
    assert time.monotonic() < settled
    wait_until(settled + 0.2)
    assert [p["PrefixListId"] for p in ec2.describe_managed_prefix_lists(Filters=by_name)["PrefixLists"]] == [new]
    assert [p["PrefixListId"] for p in ec2.describe_managed_prefix_lists(PrefixListIds=[new])["PrefixLists"]] == [new]
    assert (lagging.stats()["lag_hidden"], lagging.stats()["lag_rewritten"]) == (1, 1)


def test_no_lag_by_default(moto, proxy):
    clean = proxy()
    ec2 = client(clean.url)
    vpc = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    new = ec2.create_security_group(GroupName=unique("instant"), Description="x", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=new, IpPermissions=INGRESS)
    ec2.create_tags(Resources=[new], Tags=[{"Key": "k", "Value": "v"}])
    assert tags_of(ec2, new) == {"k": "v"}
    assert new in group_ids(ec2, Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    assert server_actions(moto) == ["CreateVpc", "CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "CreateTags",
                                    "DescribeSecurityGroups", "DescribeSecurityGroups"]
    stats = clean.stats()
    assert (stats["lag_seconds"], stats["lag_hidden"], stats["lag_rewritten"]) == (0.0, 0, 0)
    assert stats["requests"] == stats["forwarded"] == 6


def test_faults_come_first_then_the_lag(moto, proxy):
    lag = 1.5
    lagging = proxy(lag_seconds=lag, fault_rate=1.0, kinds=(THROTTLE,), actions={"DescribeSecurityGroups"},
                    max_faults=1)
    ec2 = client(lagging.url)
    new = ec2.create_security_group(GroupName=unique("faulted"), Description="x")["GroupId"]
    settled = time.monotonic() + lag
    assert error_code_any(ec2.describe_security_groups, GroupIds=[new]) == "RequestLimitExceeded"  # fault first
    assert error_code(ec2.describe_security_groups, GroupIds=[new]) == "InvalidGroup.NotFound"  # then the lag
    lagging.configure(kinds=(DROP_AFTER,), actions={"AuthorizeSecurityGroupIngress"}, max_faults=2)
    with pytest.raises(ConnectionClosedError):  # a lost answer, and the call never reached moto
        ec2.authorize_security_group_ingress(GroupId=new, IpPermissions=INGRESS)
    assert time.monotonic() < settled
    assert server_actions(moto) == ["CreateSecurityGroup"]
    stats = lagging.stats()
    assert stats["faults"] == {THROTTLE: 1, UNAVAILABLE: 0, DROP_BEFORE: 0, DROP_AFTER: 1}
    assert (stats["requests"], stats["forwarded"], stats["lag_hidden"]) == (4, 1, 2)


# A paginating DescribeSecurityGroups (moto answers every group on one page, whatever MaxResults says).
_NS = "http://ec2.amazonaws.com/doc/2016-11-15"
_NEW_GROUP = "sg-0000000000000new0"


def _stub_item(index: int) -> str:
    group_id = _NEW_GROUP if index == 7 else f"sg-{index:017x}"
    rules = (f"<ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>1</fromPort><toPort>2</toPort><groups><item>"
             f"<userId>123456789012</userId><groupId>{_NEW_GROUP}</groupId></item></groups><ipRanges/></item>"
             "</ipPermissions>"
             if index == 3 else "<ipPermissions/>")  # group 3 refers to the new group: it stays
    return (f"<item><groupId>{group_id}</groupId><tagSet><item><key>n</key><value>{index}</value></item></tagSet>"
            f"<vpcId>vpc-1</vpcId><ownerId>123456789012</ownerId><groupName>g{index}</groupName>"
            f"<groupDescription>d</groupDescription>{rules}</item>")


class _PagingUpstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    groups = 13

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        params = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
        if params["Action"] == "CreateSecurityGroup":
            body = (f"<CreateSecurityGroupResponse xmlns=\"{_NS}\"><groupId>{_NEW_GROUP}</groupId>"
                    "</CreateSecurityGroupResponse>")
        else:
            start, size = int(params.get("NextToken", 0)), int(params.get("MaxResults", 1000))
            end = min(start + size, self.groups)
            token = f"<nextToken>{end}</nextToken>" if end < self.groups else ""
            body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeSecurityGroupsResponse xmlns=\"{_NS}\">"
                    f"<requestId>r</requestId><securityGroupInfo>{''.join(_stub_item(i) for i in range(start, end))}"
                    f"</securityGroupInfo>{token}</DescribeSecurityGroupsResponse>")
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_lagging_paginated_describe_still_parses():
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _PagingUpstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        with start_proxy(f"http://127.0.0.1:{upstream.server_address[1]}", lag_seconds=5) as lagging:
            ec2 = client(lagging.url)
            assert ec2.create_security_group(GroupName="new", Description="x")["GroupId"] == _NEW_GROUP
            pages = list(ec2.get_paginator("describe_security_groups").paginate(PaginationConfig={"PageSize": 5}))
            assert [len(p["SecurityGroups"]) for p in pages] == [5, 4, 3]  # the new group (page 2) left out
            assert [p.get("NextToken") for p in pages] == ["5", "10", None]
            listed = [g for p in pages for g in p["SecurityGroups"]]
            assert [g["GroupName"] for g in listed] == [f"g{i}" for i in range(13) if i != 7]
            assert [g["Tags"] for g in listed][:2] == [[{"Key": "n", "Value": "0"}], [{"Key": "n", "Value": "1"}]]
            assert listed[3]["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == _NEW_GROUP  # a reference stays
            assert lagging.stats()["lag_rewritten"] == 1
            lagging.configure(lag_seconds=0)  # settled
            assert sum(len(p["SecurityGroups"]) for p in ec2.get_paginator("describe_security_groups").paginate(
                PaginationConfig={"PageSize": 5})) == 13
    finally:
        upstream.shutdown()
        upstream.server_close()


def test_lag_rewrites_keep_the_rest_of_the_answer():
    """Without HTTP: a fake clock, pretty-printed XML, escaped values, an item without tagSet."""
    now = [100.0]
    lag = ConsistencyLag(1.0, clock=lambda: now[0])
    created = f'<CreateSecurityGroupResponse xmlns="{_NS}"><groupId>sg-new</groupId></CreateSecurityGroupResponse>'
    assert lag.answered("CreateSecurityGroup", None, 200, created.encode()) == created.encode()
    describe = (f'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeSecurityGroupsResponse xmlns="{_NS}">\n'
                "  <securityGroupInfo>\n"
                "    <item><groupId>sg-a</groupId><tagSet><item><key>k&amp;1</key><value>a&lt;b</value></item>"
                "<item><key>keep</key><value>same</value></item></tagSet><groupName>a</groupName></item>\n"
                "    <item><groupId>sg-new</groupId><tagSet/></item>\n"
                "    <item><groupId>sg-b</groupId><groupName>b</groupName></item>\n"
                "  </securityGroupInfo>\n  <nextToken>t</nextToken>\n</DescribeSecurityGroupsResponse>\n")
    first = lag.answered("DescribeSecurityGroups", None, 200, describe.encode()).decode()
    assert first == describe.replace("\n    <item><groupId>sg-new</groupId><tagSet/></item>", "")
    write = [("Action", "CreateTags"), ("ResourceId.1", "sg-a"), ("ResourceId.2", "sg-b"),
             ("Tag.1.Key", "k&1"), ("Tag.1.Value", "x>y"), ("Tag.2.Key", "new"), ("Tag.2.Value", "sg-new")]
    assert lag.hidden("CreateTags", write) is None  # sg-new only as a tag value
    token = lag.before_forward("CreateTags", write)
    lag.answered("CreateTags", token, 200, b"<CreateTagsResponse/>")
    after_write = (describe.replace("<value>a&lt;b</value>", "<value>x&gt;y</value>")
                   .replace("</tagSet><groupName>a",
                            "<item><key>new</key><value>sg-new</value></item></tagSet><groupName>a")
                   .replace("<groupId>sg-b</groupId>",
                            "<groupId>sg-b</groupId><tagSet><item><key>k&amp;1</key><value>x&gt;y</value></item>"
                            "<item><key>new</key><value>sg-new</value></item></tagSet>"))
    shown = lag.answered("DescribeSecurityGroups", None, 200, after_write.encode()).decode()
    # sg-a: the old values; sg-b had no tags before, so none are shown
    assert shown == first.replace("<groupId>sg-b</groupId>", "<groupId>sg-b</groupId><tagSet/>")
    parsed = create_parser("ec2").parse({"body": shown.encode(), "headers": {}, "status_code": 200},
                                        _SESSION.client("ec2", region_name="us-east-1").meta.service_model
                                        .operation_model("DescribeSecurityGroups").output_shape)
    assert [g["GroupId"] for g in parsed["SecurityGroups"]] == ["sg-a", "sg-b"] and parsed["NextToken"] == "t"
    assert parsed["SecurityGroups"][0]["Tags"] == [{"Key": "k&1", "Value": "a<b"}, {"Key": "keep", "Value": "same"}]
    assert lag.hidden("DescribeSecurityGroups", [("GroupId.1", "sg-new")])[1] == "InvalidGroup.NotFound"
    assert lag.hidden("DescribeSecurityGroups", [("Filter.1.Name", "group-id"), ("Filter.1.Value.1", "sg-new")]) is None
    assert lag.hidden("DescribeSecurityGroupRules", [("Filter.1.Value.1", "sg-new")]) is not None
    now[0] += 1.0  # settled
    assert lag.hidden("DescribeSecurityGroups", [("GroupId.1", "sg-new")]) is None
    assert lag.answered("DescribeSecurityGroups", None, 200, after_write.encode()).decode() == after_write
    with pytest.raises(ValueError):
        FaultPlan(0.0, 0, 0, ALL_KINDS, lag_seconds=-1)
