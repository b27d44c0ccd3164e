"""Measuring one ansible-playbook run: wall time, CPU, peak RSS, API calls at the server.

The moto harness runs in a subprocess (``python -m tests.support.moto_harness``):
on this 2-core machine moto's request handling (XML rendering, filtering) then
runs on its own core and its own GIL, apart from both the ansible-playbook
tree being measured and this process, and its CPU never counts in the
ansible-playbook rusage. The calls are counted at the server by the harness
recorder (``/_harness/calls``), never by the code under test.

Peak RSS comes from two places, both stdlib:

* ``os.wait4`` on the ansible-playbook process: ``ru_maxrss`` of the process
  and every descendant it waited for -- the largest *single* process of the
  tree (Linux reports a maximum, not a sum);
* a sampler that sums VmRSS over the live process tree every 50 ms from
  ``/proc`` -- the tree's peak *total* (controller + worker fork + module
  process), which may miss a spike shorter than the interval.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from tests.support.moto_harness import MotoHarness

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
LOOPBACK = "127.0.0.1,localhost,::1"
_RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TASK_TIME = re.compile(r"^(.*?) -+ (\d+\.\d+)s$", re.MULTILINE)


@dataclass
class Measurement:
    label: str
    wall_s: float
    cpu_s: float  # user + sys of the ansible-playbook tree
    maxrss_mb: float  # largest single process (wait4 ru_maxrss)
    tree_rss_mb: float  # peak sum over the live tree (sampled)
    calls_total: int
    calls_mutating: int
    calls_failed: int  # HTTP status >= 400 at the server
    by_action: Dict[str, int]
    rc: int
    changed: int  # PLAY RECAP changed= summed over hosts
    load: float  # 1-minute load average when the run started (other work on the machine)
    server_cpu_s: float  # CPU the moto harness process spent during the run (user + sys)
    log: str
    tasks: Dict[str, float] = field(default_factory=dict)  # slowest tasks, seconds (profile_tasks)
    extra: Dict[str, Any] = field(default_factory=dict)


class HarnessProcess:
    """The moto harness CLI in a subprocess on a free loopback port (``tag_index``, ``options``: the
    options of bench/moto_server.py, e.g. ``["--sg-index", "--record-account"]``)."""

    def __init__(self, log_path: Path, timeout: float = 60.0, tag_index: bool = False, options: Sequence[str] = ()):
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-harness-")
        port_file = Path(self._tmp.name) / "port"
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "python"), "-m", "bench.moto_server", *(["--tag-index"] if tag_index else []), *options,
             "--port", "0", "--port-file", str(port_file)],
            cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=loopback_env(dict(os.environ)),
        )
        deadline = time.monotonic() + timeout
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the moto harness did not start; see %s" % log_path)
            time.sleep(0.05)
        self.url = "http://127.0.0.1:%d" % int(port_file.read_text().strip())
        self.options = (["--tag-index"] if tag_index else []) + list(options)
        self.harness = MotoHarness.connect(self.url)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self._tmp.cleanup()


def loopback_env(env: Dict[str, str]) -> Dict[str, str]:
    """No proxy for loopback traffic, whatever the caller's environment says."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(var, None)
    env["NO_PROXY"] = env["no_proxy"] = LOOPBACK
    return env


def aws_env(endpoint_url: str, region: str = "us-east-1") -> Dict[str, str]:
    """Environment for ansible-playbook: fake credentials, the endpoint, the dev collection path."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "EC2_", "BOTO_", "ANSIBLE_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=region,
        AWS_REGION=region,
        AWS_ENDPOINT_URL=endpoint_url,
        AWS_URL=endpoint_url,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        ANSIBLE_COLLECTIONS_PATH=str(REPO_ROOT / ".collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        # per-task wall times at the end of each log (TASKS RECAP), parsed into Measurement.tasks
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
        PROFILE_TASKS_TASK_OUTPUT_LIMIT="8",
        PATH=str(VENV_BIN) + os.pathsep + os.environ.get("PATH", ""),
    )
    return loopback_env(env)


def _children() -> Dict[int, List[int]]:
    tree: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def tree_rss_bytes(root: int) -> int:
    tree, total, todo = _children(), 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, ()))
        try:
            with open("/proc/%d/statm" % pid, "rb") as statm:
                total += int(statm.read().split()[1]) * _PAGE
        except OSError:
            pass
    return total


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            self._halt.wait(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def process_cpu_s(pid: Optional[int]) -> float:
    """user + sys CPU seconds of a live process (0 when unknown)."""
    if not pid:
        return 0.0
    try:
        with open("/proc/%d/stat" % pid, "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_playbook(label: str, args: Sequence[str], env: Dict[str, str], harness: MotoHarness, log_dir: Path,
                 timeout: float = 1800.0, server_pid: Optional[int] = None) -> Measurement:
    """Run ``ansible-playbook ARGS`` from the repo root; calls are counted from a reset recorder."""
    harness.reset_calls()
    server_cpu = process_cpu_s(server_pid)
    log_path = log_dir / ("%s.log" % re.sub(r"[^A-Za-z0-9_.-]+", "-", label))
    load = os.getloadavg()[0]
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ ansible-playbook %s\n" % " ".join(args))
        log.flush()
        start = time.perf_counter()
        proc = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), *args], cwd=REPO_ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        sampler = _TreeSampler(proc.pid)
        sampler.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak_tree = sampler.stop()
    server_cpu = process_cpu_s(server_pid) - server_cpu
    calls = harness.calls()
    text = log_path.read_text(errors="replace")
    return Measurement(
        label=label,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        maxrss_mb=usage.ru_maxrss / 1024.0,
        tree_rss_mb=peak_tree / 2.0 ** 20,
        calls_total=len(calls),
        calls_mutating=sum(1 for call in calls if call["mutating"]),
        calls_failed=sum(1 for call in calls if call["status"] >= 400),
        by_action=dict(sorted(Counter(call["action"] or "?" for call in calls).items())),
        rc=proc.returncode,
        changed=sum(int(match.group(3)) for match in _RECAP.finditer(text)),
        load=load,
        server_cpu_s=server_cpu,
        log=str(log_path.relative_to(REPO_ROOT)) if log_path.is_relative_to(REPO_ROOT) else str(log_path),
        tasks=_task_times(text),
    )


def _task_times(text: str) -> Dict[str, float]:
    recap = text.rsplit("TASKS RECAP", 1)
    if len(recap) < 2:
        return {}
    return {match.group(1).strip(): float(match.group(2)) for match in _TASK_TIME.finditer(recap[1])}


def start_latency_proxy(upstream_url: str, latency_ms: int):
    """The project's loopback proxy (tests/support/aws_proxy.py), with ``latency_ms`` per call."""
    try:
        from tests.support.aws_proxy import start_proxy
    except ImportError as exc:  # pragma: no cover - depends on the tree
        sys.exit("--latency-ms needs tests/support/aws_proxy.py (start_proxy), which is not there: %s" % exc)
    return start_proxy(upstream_url, fault_rate=0.0, latency_ms=latency_ms, seed=0)
