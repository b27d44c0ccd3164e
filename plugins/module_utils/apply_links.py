# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Apply the links plan: ClassicLink calls per instance, concurrently; returns an Outcome.

A failed attach or detach is judged by re-reading the instance's link, not by
its error code: if the link is now as planned (a resent call whose answer was
lost, or an overlapping run that made the same link), the item succeeded.
"""

from __future__ import annotations

from ansible_collections.classiclink.mirror.plugins.module_utils.describe import describe_links
from ansible_collections.classiclink.mirror.plugins.module_utils.model import Outcome
from ansible_collections.classiclink.mirror.plugins.module_utils.plan_links import (
    LINKED,
    MUTATING_ACTIONS,
    UNLINKED,
    LinkPlan,
    LinksPlan,
)
from ansible_collections.classiclink.mirror.plugins.module_utils.scope import (
    BotoCoreError,
    ClientError,
    ResponseParserError,
    Scope,
    problem_of,
    run_concurrently,
)

_VERBS = {LINKED: "linking", UNLINKED: "unlinking"}


class LinkExecutor:
    """Carries out a LinksPlan; per-instance failures land in the Outcome under the instance id."""

    def __init__(self, scope: Scope, concurrency: int = 4):
        self.scope = scope
        self.concurrency = max(1, int(concurrency))
        self.outcome = Outcome()

    def current_link(self, instance_id: str):
        """(VPC id, sorted group ids) of the instance's link now, or None."""
        for item in describe_links(self.scope, {"Filters": [{"Name": "instance-id", "Values": [instance_id]}]}):
            return item.get("VpcId"), tuple(sorted(group["GroupId"] for group in item.get("Groups", [])))
        return None

    def detach(self, plan: LinkPlan) -> None:
        try:
            self.scope.call("detach_classic_link_vpc", InstanceId=plan.instance_id, VpcId=plan.current.vpc_id)
        except (BotoCoreError, ClientError, ResponseParserError):
            now = self.current_link(plan.instance_id)
            if now is not None and now[0] == plan.current.vpc_id:
                raise  # still linked there: the detach really failed

    def attach(self, plan: LinkPlan) -> None:
        try:
            self.scope.call("attach_classic_link_vpc", InstanceId=plan.instance_id, VpcId=plan.vpc_id, Groups=list(plan.groups))
        except (BotoCoreError, ClientError, ResponseParserError):
            if self.current_link(plan.instance_id) != (plan.vpc_id, tuple(sorted(plan.groups))):
                raise  # not linked as planned: the attach really failed

    def apply_one(self, plan: LinkPlan) -> None:
        try:
            if plan.detach and plan.current:
                self.detach(plan)
            if plan.attach:
                self.attach(plan)
        except (BotoCoreError, ClientError, ResponseParserError) as exc:  # a failed call: AWS, client side, unparsable answer
            what = "%s instance %s %s %s" % (
                _VERBS.get(plan.action, "relinking"), plan.instance_id, "from" if plan.action == UNLINKED else "to", plan.vpc_id)
            self.outcome.fail(plan.instance_id, problem_of(exc, what))

    def apply(self, plan: LinksPlan) -> Outcome:
        for vpc_id in plan.enable_vpcs:
            self.scope.call("enable_vpc_classic_link", VpcId=vpc_id)
        run_concurrently([item for item in plan.instances if item.action in MUTATING_ACTIONS], self.apply_one, self.concurrency)
        return self.outcome
