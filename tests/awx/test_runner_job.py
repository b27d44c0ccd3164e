"""The mirror playbook as AWX runs a job: ansible-runner, process isolation, the scopes inventory.

AWX hands a job to ansible-runner as a private data directory (``project/``,
``inventory/``, ``env/envvars``, ``env/extravars``) and reads the job's event
stream and artifacts back.  Here the same directory is built by hand:

* ``project/mirror.yml`` imports ``classiclink.mirror.mirror`` (the wrapper
  playbook of docs/howto-awx.md);
* ``inventory/org.aws_scopes.yml`` is the ``classiclink.mirror.scopes``
  inventory over moto Organizations: two member accounts, two regions, each
  scope assuming the account's role (``role_arn``, ``role_external_id``);
* ``env/envvars`` carries what AWX's Amazon Web Services credential injects
  (the access keys) plus the endpoint of the moto harness;
* ``env/extravars`` puts ``mirror_report_path`` inside the job's artifacts.

The job runs under bubblewrap (``process_isolation_executable='bwrap'``), as
AWX's process isolation did before execution environments: the playbook sees
``/usr``, ``/etc``, ``/bin``, ``/opt`` and the private data directory, and,
read-only, the repository (venv, collection) and the Python installation.
Without ``bwrap`` the test fails (``make bwrap`` installs it); it is never
skipped.  The job runs twice: first as a *Check* job template would
(``--check --diff``: nothing changes, the reports say check mode), then as a
*Run*.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansible_runner
import boto3
import pytest
import yaml
from botocore.config import Config

from tests.support.devpaths import REPO_ROOT, collections_root
from tests.support.harness_env import LOOPBACK
from tests.support.world import World, build_world, classic_links, mirror_of

ACCESS_ROLE = "OrganizationAccountAccessRole"  # made by moto in every account it creates
EXTERNAL_ID = "classiclink-mirror"
REGIONS = ("us-east-1", "eu-west-1")
SUMMARY_TASK = "Show the summary"
VENV_BIN = REPO_ROOT / ".venv" / "bin"


@dataclass
class Estate:
    accounts: dict[str, str]  # name -> id
    worlds: dict[str, World]  # scope (host name) -> the tagged stack built there
    clients: dict[str, Any]  # scope -> EC2 client in the scope's account and region

    def scopes(self) -> set[str]:
        return {f"{a}-{r}" for a in self.accounts.values() for r in REGIONS}


def member_ec2(url: str, account: str, region: str) -> Any:
    """EC2 client in a member account (moto maps the assumed role's keys to its account)."""
    sts = boto3.client("sts", region_name=region, endpoint_url=url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ACCESS_ROLE}",
                            RoleSessionName="awx-test")["Credentials"]
    return boto3.client("ec2", region_name=region, endpoint_url=url, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
                        config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


@pytest.fixture
def estate(moto, aws_client) -> Estate:
    """Organization with two tagged member accounts; a tagged stack in three of their four scopes."""
    org = aws_client("organizations")
    org.create_organization(FeatureSet="ALL")
    accounts = {}
    for name in ("payments", "search"):
        status = org.create_account(AccountName=name, Email=f"{name}@example.com",
                                    Tags=[{"Key": "classic", "Value": "yes"}])["CreateAccountStatus"]
        accounts[name] = status["AccountId"]
    org.create_account(AccountName="modern", Email="modern@example.com", Tags=[{"Key": "classic", "Value": "no"}])
    clients = {f"{a}-{r}": member_ec2(moto.url, a, r) for a in accounts.values() for r in REGIONS}
    # search-eu-west-1 has nothing tagged: its scope runs and reports nothing to do
    worlds = {scope: build_world(ec2, instances=2) for scope, ec2 in clients.items()
              if scope != f"{accounts['search']}-eu-west-1"}
    return Estate(accounts, worlds, clients)


def private_data_dir(root: Path, moto_url: str, ident: str) -> tuple[Path, Path]:
    """The private data directory AWX would hand to ansible-runner; returns it and the report dir."""
    (root / "project").mkdir(parents=True)
    (root / "project" / "mirror.yml").write_text(
        "---\n- name: Mirror tagged security groups\n  ansible.builtin.import_playbook: classiclink.mirror.mirror\n")
    (root / "inventory").mkdir()
    (root / "inventory" / "org.aws_scopes.yml").write_text(yaml.safe_dump({
        "plugin": "classiclink.mirror.scopes",
        "include_account_tags": {"classic": "yes"},
        "regions": list(REGIONS),
        "role_arn": "arn:aws:iam::{account}:role/" + ACCESS_ROLE,
        "role_external_id": EXTERNAL_ID,
    }, sort_keys=False))
    reports = root / "artifacts" / ident / "mirror-reports"
    (root / "env").mkdir()
    envvars = {
        # what AWX's "Amazon Web Services" credential injects
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # the test endpoint (no real AWS); the scopes inventory reads AWS_URL / AWS_ENDPOINT_URL too
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_URL": moto_url,
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": LOOPBACK,
        "no_proxy": LOOPBACK,
        # in an execution environment the collection and ansible are in the image
        "ANSIBLE_COLLECTIONS_PATH": str(collections_root()),
        "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        # the sandbox has no $HOME: ansible's local temp in the sandbox's own /tmp
        "ANSIBLE_LOCAL_TEMP": "/tmp/ansible-local",
        "ANSIBLE_HOME": "/tmp/ansible-home",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    (root / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    (root / "env" / "extravars").write_text(yaml.safe_dump({
        "mirror_classic_vpc_id": "default",  # moto's default VPC stands in for EC2-Classic
        "mirror_report_path": str(reports),
    }))
    return root, reports


@dataclass
class Job:
    directory: Path
    ident: str
    runner: Any
    seconds: float
    events: list[dict[str, Any]]
    reports: Path

    def explain(self) -> str:
        stdout = self.runner.stdout.read() if self.runner.stdout else ""
        return f"status={self.runner.status} rc={self.runner.rc}\n{stdout[-8000:]}"

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == kind]

    def command(self) -> list[str]:
        """The command line runner ran (it records it in the artifacts)."""
        return json.loads((self.directory / "artifacts" / self.ident / "command").read_text())["command"]

    def summaries(self) -> dict[str, list[str]]:
        """scope -> the summary lines, from the runner_on_ok events of the summary task."""
        return {e["event_data"]["host"]: e["event_data"]["res"]["msg"]
                for e in self.of("runner_on_ok") if e["event_data"].get("task") == SUMMARY_TASK}


def run_job(directory: Path, moto_url: str, ident: str, cmdline: str | None = None, **isolation: Any) -> Job:
    """One job (AWX: ``ident`` is the job id); ``cmdline``: e.g. ``--check --diff`` of a Check job template."""
    pdd, reports = private_data_dir(directory, moto_url, ident)
    start = time.monotonic()
    runner = ansible_runner.run(private_data_dir=str(pdd), playbook="mirror.yml", ident=ident, cmdline=cmdline,
                                forks=4, quiet=True, timeout=240, **isolation)
    seconds = time.monotonic() - start
    return Job(pdd, ident, runner, seconds, list(runner.events), reports)


def read_only_paths() -> list[str]:
    """What the sandboxed job needs besides /usr, /etc, /bin, /opt and the private data directory: the
    repository (the collection), the venv (ansible, boto3) and the Python installation it comes from."""
    paths = {os.path.realpath(p) for p in (REPO_ROOT, VENV_BIN.parent, sys.prefix, sys.base_prefix)}
    return sorted(p for p in paths if not p.startswith(("/usr/", "/etc/", "/bin/", "/opt/")))


def check_job(job: Job, estate: Estate, check_mode: bool) -> None:
    explain = job.explain()
    assert job.runner.status == "successful" and job.runner.rc == 0, explain

    # the event stream: the play recap without failures, over every scope
    stats = job.of("playbook_on_stats")
    assert len(stats) == 1, explain
    data = stats[0]["event_data"]
    assert not data.get("failures") and not data.get("dark"), explain
    assert estate.scopes() <= set(data["ok"]), explain

    # the summary of each scope, as a runner_on_ok event of the summary task
    summaries = job.summaries()
    assert set(summaries) == estate.scopes(), explain
    for scope in estate.scopes():
        text = "\n".join(summaries[scope])
        assert text.startswith("check mode: nothing was changed") is check_mode, text
        if scope in estate.worlds:  # two tagged groups, two instances
            assert "mirrors: 2 created" in text and "links: 2 made" in text, text
        else:
            assert "mirrors: 0 created" in text and "links: 0 made" in text, text
        assert "failures: none" in text, text

    # the per-scope JSON reports in the artifacts
    found = {p.stem: json.loads(p.read_text()) for p in job.reports.glob("*.json")}
    assert set(found) == estate.scopes(), sorted(found)
    for scope, report in found.items():
        assert report["scope"] == scope and report["check_mode"] is check_mode
        assert report["region"] == scope.split("-", 1)[1]
    assert (job.reports / "mirror-report.html").is_file()

    # and the job did its work in the member accounts (a check job: none)
    for scope, world in estate.worlds.items():
        ec2 = estate.clients[scope]
        assert (mirror_of(ec2, world, world.backend_group_id) is not None) is not check_mode, scope
        assert set(classic_links(ec2)) == (set() if check_mode else set(world.instance_ids)), scope


def test_job_under_ansible_runner_with_bwrap_isolation(moto, estate, tmp_path, record_property):
    bwrap = shutil.which("bwrap")
    assert bwrap, "bwrap (bubblewrap) is not installed: `make bwrap` (apt-get install bubblewrap) installs it"
    isolation = {"process_isolation": True, "process_isolation_executable": bwrap,
                 "process_isolation_ro_paths": read_only_paths()}

    moto.reset_calls()
    check = run_job(tmp_path / "check", moto.url, "awx-job-1", cmdline="--check --diff", **isolation)
    assert check.command()[:3] == [bwrap, "--die-with-parent", "--unshare-pid"], check.command()
    check_job(check, estate, check_mode=True)
    # a check job assumes the scopes' roles and changes nothing
    assert {c["action"] for c in moto.calls() if c["mutating"]} <= {"AssumeRole"}, check.explain()

    run = run_job(tmp_path / "run", moto.url, "awx-job-2", **isolation)
    assert run.command()[:3] == [bwrap, "--die-with-parent", "--unshare-pid"], run.command()
    check_job(run, estate, check_mode=False)

    for job in (check, run):
        reports = sorted(p.name for p in job.reports.iterdir())
        record_property(f"{job.ident}", f"{job.seconds:.1f}s, {len(job.events)} events, reports {reports}")
        print(f"\n{job.ident}: {job.seconds:.1f}s, {len(job.events)} events, "
              f"{len(job.of('runner_on_ok'))} runner_on_ok, reports {reports}")
