"""The moto harness for the benchmark, optionally with an index for EC2 tag look-ups.

    .venv/bin/python -m bench.moto_server [--tag-index] [--sg-cache] [--fast-picker] [--sg-index] \
        [--dispatch-cache] [--record-account] [--profile PREFIX] --port 0 --port-file F

Without any option this is exactly ``python -m tests.support.moto_harness``.
The options correct emulator costs that real EC2 does not have (the bench runs
with all of them unless ``--moto-stock``) or add a field to the call records; none
of them changes a response (the same bytes, but for the random requestId).

``--tag-index``: one emulator hot spot is replaced before the server starts: moto 5.2
answers every "tags of resource X" question (``TaggedEC2Resource.get_tags``,
used to render each group's ``tagSet`` in every describe and to apply every
``tag-key`` / ``tag:`` filter) by scanning every tag of the account with a
compiled regular expression, so one describe of G groups costs O(G x all tags)
and the emulator gets slower as the account grows (9 s of moto CPU for one
tag-key describe at N=1000). Real EC2 has no such cost. The replacement reads
the same backend dictionary (``ec2_backend.tags[resource_id]``) directly and
returns the same entries; nothing else changes.

``--sg-cache``: DescribeSecurityGroups renders each group's ``<item>`` with moto's own
serializer once and reuses it while the group's attributes, rules and tags are
unchanged (moto walks the botocore shape model for every member of every group:
~1.2 ms per group of 10 rules, 2.4 s for the 2000 groups of a converged N=1000
account's tag-key describe). See ``install_sg_cache``.

``--fast-picker``: moto's attribute picker computes the attribute names to try
once per (class, shape, key) and request instead of once per member and object.

``--sg-index``: a security group is found by id with one dict look-up per VPC
instead of a walk over every group (O(groups) per look-up in moto 5.2, called
for every referenced group of every rule authorised); the name look-up walks a
snapshot (no "dictionary changed size during iteration" 500 under concurrent
creates). ``--dispatch-cache``: moto's list of its own service packages is read
from disk once, not on every request under the dispatcher's global lock, and
the method names of each response class are listed once.

``--profile PREFIX``: cProfile of the server's request handling, one file per
segment between two call-log resets (see ``install_profiler``); ``bench.run
--moto-profile`` uses it.

``--record-account``: every recorded call also gets ``account`` (the account
moto serves it from, as the harness computes it for its own checks), listed by
``/_harness/calls?detail=1``: the per-scope call counts of ``bench.scopes``.
"""

from __future__ import annotations

import os
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


def install_fast_picker() -> None:
    """moto's serializer asks its AttributePicker, for every member of every object it renders, which
    attribute names to try (six alias providers, each a new object, per member and object). The names
    depend only on the object's class, the member's shape (and its parent) and the member's key, so
    they are computed once per request (the picker is made per request) and reused: the same names,
    tried in the same order on each object, hence the same values and the same bytes."""
    from moto.core.serialize import AttributePicker

    original = AttributePicker.get_possible_keys

    def get_possible_keys(self: Any, context: Any) -> List[str]:
        shape, obj = context.shape, context.obj
        cache_key = (obj.__class__, getattr(obj, "Meta", None).__class__, id(shape),
                     id(getattr(shape, "parent", None)), context.key)
        try:
            cache = self._bench_keys
        except AttributeError:
            cache = self._bench_keys = {}
        keys = cache.get(cache_key)
        if keys is None:
            keys = cache[cache_key] = list(original(self, context))
        return keys

    AttributePicker.get_possible_keys = get_possible_keys


_SKIP_STATE = ("ec2_backend", "filters", "ingress_rules", "egress_rules")


def _state(obj: Any) -> tuple:
    """Everything an object holds (its instance attributes, by value), for a cache key."""
    return tuple((key, repr(value)) for key, value in sorted(vars(obj).items()) if key not in _SKIP_STATE)


def install_sg_cache() -> None:
    """DescribeSecurityGroups answers: each group's ``<item>`` is rendered by moto's own serializer once
    and reused while the group is unchanged (same attributes, rules and tags), so a describe of G
    unchanged groups costs G fingerprints instead of G walks of the botocore shape model (moto
    5.2: ~1.2 ms per group of 10 rules, 2.4 s for the 2000 groups of a converged N=1000 account).
    The envelope (requestId) is rendered by moto for each answer, with the first group; the bytes
    are the ones moto would send (BENCH_SG_CACHE_VERIFY=1 renders every answer both ways and fails
    the request when they differ)."""
    import threading

    from moto.core.serialize import EC2Serializer

    original = EC2Serializer.serialize
    cache: Dict[str, tuple] = {}
    lock = threading.Lock()
    verify = os.environ.get("BENCH_SG_CACHE_VERIFY") == "1"
    open_tag, close_tag = "<securityGroupInfo>", "</securityGroupInfo>"

    def fingerprint(group: Any) -> tuple:
        tags = group.ec2_backend.tags.get(group.id) or {}
        return (group.__class__, _state(group), tuple(sorted(tags.items())),
                tuple(_state(rule) for rule in group.ingress_rules), tuple(_state(rule) for rule in group.egress_rules))

    def item(self: Any, group: Any) -> str:
        key = fingerprint(group)
        with lock:
            hit = cache.get(group.id)
        if hit is not None and hit[0] == key:
            return hit[1]
        body = original(self, {"SecurityGroups": [group]})["body"]
        start, end = body.index(open_tag) + len(open_tag), body.rindex(close_tag)
        fragment = body[start:end]
        with lock:
            cache[group.id] = (key, fragment)
        return fragment

    def serialize(self: Any, result: Any) -> Any:
        if (self.operation_name != "DescribeSecurityGroups" or self.pretty_print or not isinstance(result, dict)
                or set(result) != {"SecurityGroups"} or not result["SecurityGroups"]):
            return original(self, result)
        groups = list(result["SecurityGroups"])
        fragments = [item(self, group) for group in groups]
        response = original(self, {"SecurityGroups": groups[:1]})
        body = response["body"]
        if not isinstance(body, str) or body.count(open_tag) != 1:
            return original(self, result)
        head, rest = body.split(open_tag, 1)
        tail = rest[rest.rindex(close_tag):]
        response["body"] = head + open_tag + "".join(fragments) + tail
        if verify:
            expected = original(self, result)["body"]
            if expected != response["body"]:
                raise AssertionError("bench sg cache: the cached answer differs from moto's")
        return response

    EC2Serializer.serialize = serialize


def install_profiler(prefix: str) -> Any:
    """cProfile every request (one profile per request thread); a segment ends at each
    ``POST /_harness/calls/reset`` (bench.measure.run_playbook resets the calls before each run) and
    at exit, and is written to ``PREFIX.<segment>.prof`` (``python -m pstats``, snakeviz...)."""
    import cProfile
    import pstats
    import threading

    from tests.support import moto_harness

    lock = threading.Lock()
    state: Dict[str, Any] = {"segment": 0, "profiles": []}
    inner_call = moto_harness.HarnessApp.__call__

    def dump() -> None:
        with lock:
            profiles, state["profiles"] = state["profiles"], []
            segment = state["segment"]
            state["segment"] += 1
        if profiles:
            stats = pstats.Stats(profiles[0])
            for profile in profiles[1:]:
                stats.add(profile)
            stats.dump_stats("%s.%d.prof" % (prefix, segment))
            print("profile segment %d: %d requests -> %s.%d.prof" % (segment, len(profiles), prefix, segment), flush=True)

    def __call__(self: Any, environ: Dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").rstrip("/") == "/_harness/calls/reset":
            dump()
            return inner_call(self, environ, start_response)
        profile = cProfile.Profile()
        profile.enable()
        try:
            return list(inner_call(self, environ, start_response))
        finally:
            profile.disable()
            with lock:
                state["profiles"].append(profile)

    moto_harness.HarnessApp.__call__ = __call__
    return dump


def install_sg_index() -> None:
    """moto 5.2 finds a security group by id by walking every group of every VPC of the backend
    (``SecurityGroupBackend.get_security_group_from_id``, ~0.45 ms at 2000 groups; called for each
    referenced group of each rule authorised, and before every create): O(groups) per look-up.
    The groups are kept as ``groups[vpc_id][group_id]`` (the only insertion, in
    ``create_security_group``), so one dict look-up per VPC returns the same group. The name
    look-up (``get_security_group_from_name``, before every create) walks a snapshot of the VPC's
    groups instead of the live dict: the same answer, without moto's "dictionary changed size
    during iteration" 500 when another request creates a group at the same time."""
    from moto.ec2.models.security_groups import SecurityGroupBackend

    def get_security_group_from_id(self: Any, group_id: str) -> Any:
        for groups in list(self.groups.values()):
            group = groups.get(group_id)
            if group is not None and group.id == group_id:
                return group
        return None

    def get_security_group_from_name(self: Any, name: str, vpc_id: Any = None) -> Any:
        vpcs = [vpc_id] if vpc_id else list(self.groups)
        for vpc in vpcs:
            for group in list(self.groups[vpc].values()):
                if group.name == name:
                    return group
        return None

    SecurityGroupBackend.get_security_group_from_id = get_security_group_from_id
    SecurityGroupBackend.get_security_group_from_name = get_security_group_from_name


def install_dispatch_cache() -> None:
    """moto's server finds the backend of every request under one global lock, and on the way lists
    moto's package directory (``backends.list_of_moto_modules``: a listdir and ~180 stats per
    request, ~1-2 ms); then it lists the methods of the response class (``inspect.getmembers``).
    Neither changes while the server runs: each is computed once."""
    from moto import backends
    from moto.core import responses, utils

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    # and the names of a response class's methods (inspect.getmembers on every request)
    original = utils.method_names_from_class
    names: Dict[Any, List[str]] = {}

    def method_names_from_class(clazz: Any) -> List[str]:
        found = names.get(clazz)
        if found is None:
            found = names[clazz] = original(clazz)
        return list(found)

    utils.method_names_from_class = responses.method_names_from_class = method_names_from_class


OPTIONS = {"--tag-index": install_tag_index, "--sg-cache": install_sg_cache,
           "--fast-picker": install_fast_picker, "--sg-index": install_sg_index, "--dispatch-cache": install_dispatch_cache,
           "--record-account": install_account_recording}


def main(argv: List[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for option, install in OPTIONS.items():
        if option in argv:
            argv.remove(option)
            install()
    dump = None
    if "--profile" in argv:  # last: it wraps whatever the other options installed
        index = argv.index("--profile")
        prefix = argv[index + 1]
        del argv[index:index + 2]
        dump = install_profiler(prefix)
    from tests.support.moto_harness import main as harness_main

    try:
        return harness_main(argv)
    finally:
        if dump:
            dump()


if __name__ == "__main__":
    sys.exit(main())
