# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a run reads, in every scope it needs: the one sequence shared by the group module and the info module.

1. the home scope (the module's account and region, O(role_arn) assumed when set) is connected and read into a
   Snapshot (``describe.load_snapshot``); its account is asked for only when a tag or O(targets) holds an ARN;
2. O(targets), when given, is read against the home scope (bare VPC ids are the home scope's);
3. with ``all_sources``, the sources are every group carrying a link tag (narrowed by ``vpc_ids``);
4. every other scope the sources need (targets in other regions and accounts, and the scopes their mirroredTo
   records name) is connected (``Scope.other``: O(target_role_arn) for another account) and read once, in
   parallel (``describe.read_other_scopes``), and merged into the one Snapshot; a scope that cannot be reached
   becomes a Problem that fails its pairs only (``MirrorOptions.scope_problems``);
5. with O(references=addresses), the home scope's account (address lists name their groups by ARN).

The info module plans from what this returns exactly as the group module does, so that its audit is what a run
would do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence

from ansible_collections.classiclink.mirror.plugins.module_utils.describe import interface_groups, load_snapshot, read_other_scopes
from ansible_collections.classiclink.mirror.plugins.module_utils.model import Problem, Snapshot
from ansible_collections.classiclink.mirror.plugins.module_utils.options import targets_option_of
from ansible_collections.classiclink.mirror.plugins.module_utils.pairs import MirrorOptions, declared_sources
from ansible_collections.classiclink.mirror.plugins.module_utils.scope import BotoCoreError, ClientError, ResponseParserError, Scope
from ansible_collections.classiclink.mirror.plugins.module_utils.targets import TargetScope


@dataclass
class ScopesRead:
    """The run's scopes as read: the home Scope, the combined Snapshot, the options completed with the targets
    option and the scope problems, the sources to plan, and the other scopes (reached, and not reached)."""

    scope: Scope
    snapshot: Snapshot
    options: MirrorOptions
    refs: List[str]
    others: Dict[TargetScope, Scope]
    problems: Dict[TargetScope, Problem]


def read_scopes(module, options: MirrorOptions, refs: Sequence[str], failure: str, all_sources: bool = False,
                vpc_ids: Optional[Sequence[str]] = None, every_source: bool = False, **load_args) -> ScopesRead:
    """Connect to and read the home scope and every other scope the run needs (see the module docstring).

    ``failure``: the message when the home scope's describes fail (the module fails: nothing can be planned);
    ``every_source``: read the scopes of every source of the home scope (all_sources, prune, the audit), not only
    of ``refs``; ``load_args``: passed on to ``load_snapshot`` (what the home scope's describe reads)."""
    scope = Scope.of_module(module)
    targets_option = targets_option_of(module)
    try:
        snapshot = load_snapshot(scope, options.link_tag_keys, refs, home=lambda need: scope.home_target(module, need),
                                 targets_option=targets_option, **load_args)
    except (BotoCoreError, ClientError, ResponseParserError) as e:
        module.fail_json_aws(e, msg=failure)
    if targets_option is not None:
        options = replace(options, targets=targets_option_of(module, snapshot.home))
    refs = list(refs)
    if all_sources:
        refs = [group.id for group in declared_sources(snapshot, options.link_tag_keys, vpc_ids)]

    # Other accounts and regions: each read once (in parallel), shared by every pair; one that cannot be reached fails its pairs.
    others, problems = read_other_scopes(module, scope, snapshot, refs, options, every_source=every_source)
    options = replace(options, scope_problems=problems)
    if options.references == "addresses" and not snapshot.home.account:
        # Address lists name their group by ARN: the run needs its own account (no tag held an ARN, so nothing read
        # so far depended on it).
        snapshot.home = scope.home_target(module, True)
    return ScopesRead(scope, snapshot, options, refs, others, problems)


def carried_groups(module, run, mirror_ids):
    """The mirrors among ``mirror_ids`` that a network interface carries, asked in each mirror's own scope
    (one DescribeNetworkInterfaces per 200 mirrors and scope; scopes that could not be read are skipped)."""
    snapshot = run.snapshot
    by_scope = {}
    for mirror_id in mirror_ids:
        by_scope.setdefault(snapshot.scope_of_group(mirror_id), []).append(mirror_id)
    carried = set()
    for target, ids in sorted(by_scope.items()):
        scope = run.scope if target == snapshot.home else run.others.get(target)
        if scope is None:
            continue
        try:
            carried |= interface_groups(scope, ids)
        except (BotoCoreError, ClientError, ResponseParserError) as e:
            module.fail_json_aws(e, msg="Could not describe the network interfaces that carry the mirrors in %s (usage_audit)" % (
                "this region" if target == snapshot.home else target.label))
    return carried
