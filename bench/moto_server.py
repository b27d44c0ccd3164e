"""The moto harness for the benchmark, optionally with an index for EC2 tag look-ups.

    .venv/bin/python -m bench.moto_server [--tag-index] [--sweep-index] [--record-account] --port 0 --port-file F

Without any option this is exactly ``python -m tests.support.moto_harness``.
The options correct emulator costs that real EC2 does not have (the bench runs
with both unless ``--moto-stock``) or add a field to the call records; none of
them changes a response.

``--tag-index``: one emulator hot spot is replaced before the server starts: moto 5.2
answers every "tags of resource X" question (``TaggedEC2Resource.get_tags``,
used to render each group's ``tagSet`` in every describe and to apply every
``tag-key`` / ``tag:`` filter) by scanning every tag of the account with a
compiled regular expression, so one describe of G groups costs O(G x all tags)
and the emulator gets slower as the account grows (9 s of moto CPU for one
tag-key describe at N=1000). Real EC2 has no such cost. The replacement reads
the same backend dictionary (``ec2_backend.tags[resource_id]``) directly and
returns the same entries; nothing else changes.

``--sweep-index``: the harness's ClassicLink emulation
(``tests.support.classiclink_emulation.ClassicLinkEmulator.sweep``) runs after
*every* mutating EC2 request and looks up each linked instance with moto's
``get_instance_by_id``, which walks (and shallow-copies) every reservation of
the account: O(links x instances) per mutating call, ~0.25 s of server CPU per
call with 200 links. The replacement makes one pass over the reservations per
sweep (a dict of instances by id) and drops exactly the same links (instance
gone or not ``running``, VPC gone or ClassicLink disabled).

``--record-account``: every recorded call also gets ``account`` (the account
moto serves it from, as the harness computes it for its own checks), listed by
``/_harness/calls?detail=1``: the per-scope call counts of ``bench.scopes``.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List


def install_tag_index() -> None:
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    def get_tags(self: Any) -> List[Dict[str, str]]:
        resource_id = getattr(self, "id", None)
        if not resource_id:
            return []
        tags = self.ec2_backend.tags.get(resource_id)  # .get: never grow the defaultdict
        if not tags:
            return []
        resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
        return [{"resource_id": resource_id, "key": key, "value": value, "resource_type": resource_type}
                for key, value in list(tags.items())]

    TaggedEC2Resource.get_tags = get_tags


def install_sweep_index() -> None:
    from tests.support.classiclink_emulation import ClassicLinkEmulator

    def sweep(self: Any, account_id: str, region: str) -> None:
        """Drop links whose instance is no longer running (or whose VPC vanished): one pass."""
        with self._lock:
            links = self._links.get((account_id, region))
            if not links:
                return
            backend = self._backend(account_id, region)
            instances = {instance.id: instance for reservation in list(backend.reservations.values())
                         for instance in reservation.instances}
            for instance_id, link in list(links.items()):
                instance = instances.get(instance_id)
                vpc = backend.vpcs.get(link.vpc_id)
                if (
                    instance is None
                    or instance.state != "running"
                    or vpc is None
                    or not getattr(vpc, "classic_link_enabled", False)
                ):
                    del links[instance_id]

    ClassicLinkEmulator.sweep = sweep


def install_account_recording() -> None:
    import threading

    from tests.support import moto_harness

    local = threading.local()
    inner_call, inner_record = moto_harness.HarnessApp.__call__, moto_harness.HarnessApp._record

    def __call__(self: Any, environ: Dict[str, Any], start_response: Any) -> Any:
        account = ""
        if not environ.get("PATH_INFO", "").startswith(("/_harness/", "/moto-api")):
            match = moto_harness._CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
            try:
                account = moto_harness._account_id(environ, match.group(1) if match else "")
            except Exception:  # never break a request for a bench field
                account = "?"
        local.account = account
        return inner_call(self, environ, start_response)

    def _record(self: Any, call: Dict[str, Any]) -> None:
        call["account"] = getattr(local, "account", "")
        inner_record(self, call)

    moto_harness.HarnessApp.__call__ = __call__
    moto_harness.HarnessApp._record = _record


OPTIONS = {"--tag-index": install_tag_index, "--sweep-index": install_sweep_index,
           "--record-account": install_account_recording}


def main(argv: List[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for option, install in OPTIONS.items():
        if option in argv:
            argv.remove(option)
            install()
    from tests.support.moto_harness import main as harness_main

    return harness_main(argv)


if __name__ == "__main__":
    sys.exit(main())
