"""The run's report page in a real browser: headless Chromium opens it from disk.

The pages come from real ``playbooks/mirror.yml`` runs against the moto
harness, on a world with every kind of row: the "classic-mirror-test" stack
(a skipped reference to the Classic ELB group) plus a reference between two
managed sources, a pair that fails (its link tag names a VPC that does not
exist), a second target VPC and an instance whose groups point at both (a VPC
conflict), in two scopes (us-east-1 and eu-west-1) written into one page.

Chromium (``make browser``) dumps the DOM after the page's script ran; the test
counts the rows and the pictures against the run's JSON reports, checks that
the console stayed silent, and saves a screenshot in the test's tmp dir.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.report.browser import Dom, Expected, check_page, dump_dom, expected_from_reports, find_chromium, is_png, screenshot
from tests.support.devpaths import REPO_ROOT
from tests.support.moto_harness import CLASSIC_AMI_ID, MotoHarness
from tests.support.world import CODE_LINK_TAG, World, build_world, ec2_client

pytestmark = pytest.mark.integration

ANSIBLE_PLAYBOOK = str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook")
MISSING_VPC = "vpc-0123456789abcdef0"
FORMATS = '{"mirror_report_format": ["json", "html", "markdown"]}'


@pytest.fixture(scope="module", autouse=True)
def chromium() -> str:
    found = find_chromium()
    if not found:
        pytest.fail("Chromium not found: `make browser` installs it (Debian package chromium), or set CHROMIUM", pytrace=False)
    return found


@dataclass
class Extras:
    broken_group: str
    other_vpc: str
    conflicted_instance: str


def add_extras(ec2: Any, world: World) -> Extras:
    """A reference between managed sources, a failing pair, and an instance in a VPC conflict."""
    ec2.authorize_security_group_ingress(GroupId=world.backend_group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 9000, "ToPort": 9000, "UserIdGroupPairs": [{"GroupId": world.ssh_group_id}]}])
    broken = ec2.create_security_group(
        GroupName="typo", Description="link tag names a VPC that does not exist",
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": CODE_LINK_TAG, "Value": MISSING_VPC}]}],
    )["GroupId"]
    other_vpc = ec2.create_vpc(CidrBlock="192.168.0.0/16")["Vpc"]["VpcId"]
    assert ec2.enable_vpc_classic_link(VpcId=other_vpc)["Return"] is True
    reports = ec2.create_security_group(
        GroupName="reports", Description="reporting hosts", VpcId=world.classic_vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": CODE_LINK_TAG, "Value": other_vpc}]}],
    )["GroupId"]
    (instance,) = [i["InstanceId"] for i in ec2.run_instances(
        ImageId=CLASSIC_AMI_ID, MinCount=1, MaxCount=1, InstanceType="t1.micro",
        SecurityGroupIds=[world.ssh_group_id, reports])["Instances"]]
    return Extras(broken, other_vpc, instance)


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    report_dir: Path

    @property
    def page(self) -> Path:
        return self.report_dir / "mirror-report.html"

    @property
    def markdown(self) -> str:
        return (self.report_dir / "mirror-report.md").read_text()

    def reports(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted(self.report_dir.glob("*.json"))]

    def expected(self) -> Expected:
        return expected_from_reports(self.reports())


def run_playbook(harness: MotoHarness, report_dir: Path, *args: str) -> PlaybookRun:
    from tests.support.harness_env import harness_env

    cmd = [ANSIBLE_PLAYBOOK, "playbooks/mirror.yml", "-e", "mirror_classic_vpc_id=default",
           "-e", f"mirror_report_path={report_dir}", "-e", FORMATS, *args]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=harness_env(harness.url), capture_output=True, text=True, timeout=240, check=False)
    return PlaybookRun(proc.returncode, proc.stdout + proc.stderr, report_dir)


@pytest.fixture(scope="module")
def converged(moto_server: MotoHarness, tmp_path_factory: pytest.TempPathFactory) -> tuple[PlaybookRun, dict[str, Any]]:
    """One real run over two scopes (the east one with every kind of row), its pages written into one directory."""
    moto_server.reset()
    east_ec2, west_ec2 = ec2_client(moto_server.url, "us-east-1"), ec2_client(moto_server.url, "eu-west-1")
    east = build_world(east_ec2)
    extras = add_extras(east_ec2, east)
    build_world(west_ec2, vpc_cidr="10.0.0.0/16", instances=1)
    tmp = tmp_path_factory.mktemp("report")
    inventory = tmp / "scopes.yml"
    inventory.write_text("mirror_scopes:\n  hosts:\n    prod-east:\n      aws_region: us-east-1\n    prod-west:\n      aws_region: eu-west-1\n")
    run = run_playbook(moto_server, tmp / "reports", "-i", str(inventory))
    assert run.rc == 2, run.stdout[-6000:]  # the failing pair fails prod-east at the end, after the reports
    return run, {"east": east, "extras": extras}


def test_the_converge_page_renders_in_chromium(converged, tmp_path):
    run, world = converged
    expected = run.expected()
    # the world as built, independently of the page: 2 scopes; east: backend, ssh, typo, reports; west: backend, ssh
    assert (expected.scopes, expected.pairs, expected.failed_pairs, expected.conflicts) == (2, 6, 1, 1)

    browser = dump_dom(run.page)
    assert browser.returncode == 0, browser.stderr[-3000:]
    assert check_page(browser.stdout, expected) == []
    assert browser.console == [], "\n".join(browser.console)

    dom = Dom(browser.stdout)
    assert {row.attrs["data-scope"] for row in dom.find("tr", data_pair=None)} == {"prod-east", "prod-west"}
    (failed,) = dom.find("tr", data_state="failed")
    assert failed.attrs["data-pair"] == world["extras"].broken_group and "not_found" in failed.all_text()
    # the skipped reference, with its code and what to do
    backend = [row for row in dom.find("tr", data_pair=world["east"].backend_group_id) if row.attrs["data-scope"] == "prod-east"]
    assert "unmanaged_reference" in backend[0].all_text() and "tag it to mirror the reference" in backend[0].all_text()
    # the reference backend <- ssh became a reference between their mirrors: an edge in the picture
    assert dom.find("g", data_edge="reference", data_scope="prod-east")
    (conflict,) = dom.find("tr", data_conflict="1")
    assert conflict.attrs["data-instance"] == world["extras"].conflicted_instance
    assert dom.find("table", data_table="overview") and not dom.find("table", data_table="address-lists")

    png = tmp_path / "report.png"
    shot = screenshot(run.page, png)
    assert shot.returncode == 0 and is_png(png), shot.stderr[-3000:]
    assert shot.console == [], "\n".join(shot.console)


def test_the_filters_hide_rows_by_state_and_scope(converged):
    run, _world = converged
    expected = run.expected()
    browser = dump_dom(run.page, "state=failed")
    assert check_page(browser.stdout, expected, filtered=True) == []
    dom = Dom(browser.stdout)
    shown = [row for row in dom.find("tr", data_pair=None) if not row.hidden]
    assert [row.attrs["data-state"] for row in shown] == ["failed"]
    assert dom.body.attrs["data-shown"] == "1"

    dom = Dom(dump_dom(run.page, "scope=prod-west").stdout)
    shown = [row for row in dom.find("tr", data_pair=None) if not row.hidden]
    assert len(shown) == 2 and {row.attrs["data-scope"] for row in shown} == {"prod-west"}


def test_removing_the_pairs_table_fails_the_check(converged, tmp_path):
    run, _world = converged
    page = run.page.read_text()
    stripped, count = re.subn(r'<table class="pairs"[^>]*>.*?</table>', "", page, flags=re.S)
    assert count == 4  # one per target VPC with pairs: prod-east two VPCs and the failed pair without one, prod-west one
    broken = tmp_path / "broken.html"
    broken.write_text(stripped)
    problems = check_page(dump_dom(broken).stdout, run.expected())
    assert "no pairs table (table[data-table=pairs])" in problems
    assert any(p.startswith("0 pair rows") for p in problems), problems


def test_a_broken_script_fails_the_check(converged, tmp_path):
    run, _world = converged
    broken = tmp_path / "broken.html"
    broken.write_text(run.page.read_text().replace('document.body.dataset.ready = "1";', 'undefinedFunction(); document.body.dataset.ready = "1";'))
    browser = dump_dom(broken)
    assert "the page's script did not run to the end (no data-ready=1 on body)" in check_page(browser.stdout, run.expected())
    assert any("Uncaught" in line for line in browser.console), browser.stderr[-2000:]


def test_the_markdown_comment_lists_pairs_failures_and_skipped_references(converged):
    run, world = converged
    text = run.markdown
    assert "DRY RUN" not in text
    assert text.count("| target VPC | source | mirror | state | drift |") == 2  # one table per scope
    assert "**prod-east**" in text and "**prod-west**" in text
    assert "**Failures (1)**" in text and world["extras"].broken_group in text.split("**Failures (1)**")[1]
    assert "`unmanaged_reference`" in text and "`vpc_conflict`" in text
    assert "<" not in text.replace("<br>", "")  # no raw HTML from the data
    assert len(text) < 65536  # fits a GitHub comment


def test_check_mode_writes_the_same_page_marked_dry_run(moto, tmp_path):
    world = build_world(ec2_client(moto.url, "us-east-1"))
    moto.reset_calls()
    run = run_playbook(moto, tmp_path / "reports", "--check", "-e", '{"mirror_regions": ["us-east-1"]}')
    assert run.rc == 0, run.stdout[-6000:]
    assert [c for c in moto.calls() if c["mutating"]] == []
    expected = run.expected()
    assert expected.dry_run and expected.pairs == 2

    browser = dump_dom(run.page)
    assert check_page(browser.stdout, expected) == []
    assert browser.console == []
    dom = Dom(browser.stdout)
    assert "DRY RUN" in dom.title and dom.find("div", data_banner="dry-run")
    assert {row.attrs["data-state"] for row in dom.find("tr", data_pair=None)} == {"created"}
    assert "new-mirror-of-" + world.backend_group_id in browser.stdout
    assert "DRY RUN" in run.markdown
    png = tmp_path / "dry-run.png"
    assert is_png(png) if screenshot(run.page, png).returncode == 0 else False
