#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: classiclink_lifecycle_action
short_description: Complete an Auto Scaling lifecycle action once the mirrors are up to date
version_added: 0.1.0
description:
  - An Auto Scaling group with a lifecycle hook holds a launching instance in C(Pending:Wait), or a terminating one in
    C(Terminating:Wait), until the lifecycle action is completed or the hook's heartbeat timeout applies the hook's
    default result. This module completes one action (C(CompleteLifecycleAction)) with O(result).
  - The playbook C(classiclink.mirror.mirror_lifecycle), started by the rulebook C(classiclink.mirror.mirror_cluster),
    uses it after the mirror run of the instance's region and account - V(CONTINUE) when that run succeeded,
    V(ABANDON) when it failed - as the cross-region cluster of the collection's docs/howto-cluster-across-regions.md
    does.
  - An action that is no longer pending (already completed, for instance by an earlier run of a redelivered event,
    or ended by the hook's timeout) is not an error - Auto Scaling answers C(ValidationError) "No active Lifecycle
    Action found" - the module returns RV(completed=false) with the reason as a warning, and changes nothing.
  - The action is named by O(lifecycle_action_token) (the token of the lifecycle event), by O(instance_id), or both.
author:
  - classiclink.mirror maintainers (@classiclink-mirror)
options:
  auto_scaling_group_name:
    description: The Auto Scaling group of the instance (C(AutoScalingGroupName) of the lifecycle event).
    type: str
    required: true
  lifecycle_hook_name:
    description: The lifecycle hook that holds the instance (C(LifecycleHookName) of the lifecycle event).
    type: str
    required: true
  lifecycle_action_token:
    description:
      - The token of the lifecycle action (C(LifecycleActionToken) of the lifecycle event).
      - Give it, or O(instance_id), or both; with both, the action must be that instance's.
    type: str
  instance_id:
    description: The instance the action holds (C(EC2InstanceId) of the lifecycle event).
    type: str
  result:
    description:
      - V(CONTINUE) lets the launch or the termination go on.
      - V(ABANDON) on a launch makes Auto Scaling terminate the instance (and launch a replacement when the group is
        below its desired capacity); on a termination it goes on as with V(CONTINUE).
    type: str
    choices: [CONTINUE, ABANDON]
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description:
      - Makes no call and reports the completion it would attempt (RV(completed=true), changed); Auto Scaling has no
        read-only way to tell whether the action is still pending.
  diff_mode:
    support: none
    description: There is nothing to compare; RV(lifecycle_action) shows what was sent.
notes:
  - "IAM: C(autoscaling:CompleteLifecycleAction) on the group."
  - The moto-based tests of this collection emulate C(CompleteLifecycleAction), which moto does not implement.
seealso:
  - module: classiclink.mirror.classiclink_mirror_group
"""

EXAMPLES = r"""
- name: Let a launching cluster member go in service
  classiclink.mirror.classiclink_lifecycle_action:
    region: us-east-1
    auto_scaling_group_name: db-cluster
    lifecycle_hook_name: db-cluster-launching
    lifecycle_action_token: 33965228-086a-4aeb-8c26-f82ed3bef495
    instance_id: i-017425ec54f22f994
    result: CONTINUE

- name: Give up on a launch whose mirror run failed (Auto Scaling terminates the instance)
  classiclink.mirror.classiclink_lifecycle_action:
    region: us-east-1
    auto_scaling_group_name: db-cluster
    lifecycle_hook_name: db-cluster-launching
    instance_id: i-017425ec54f22f994
    result: ABANDON
  register: completion

- name: Say when the action was over already
  ansible.builtin.debug:
    msg: "{{ completion.reason }}"
  when: not completion.completed
"""

RETURN = r"""
completed:
  description:
    - Whether the action was completed by this call (in check mode, whether a completion would be attempted).
    - False when Auto Scaling found no pending action for the token or instance (completed or timed out already).
  returned: always
  type: bool
  sample: true
reason:
  description: Why the action was not completed (Auto Scaling's message); empty when it was.
  returned: always
  type: str
  sample: ""
lifecycle_action:
  description: The action, as given, and the result sent.
  returned: always
  type: dict
  sample:
    auto_scaling_group_name: db-cluster
    lifecycle_hook_name: db-cluster-launching
    lifecycle_action_token: 33965228-086a-4aeb-8c26-f82ed3bef495
    instance_id: i-017425ec54f22f994
    result: CONTINUE
  contains:
    auto_scaling_group_name:
      description: The group.
      type: str
      sample: db-cluster
    lifecycle_hook_name:
      description: The hook.
      type: str
      sample: db-cluster-launching
    lifecycle_action_token:
      description: The token, or null when the action was named by its instance only.
      type: str
      sample: 33965228-086a-4aeb-8c26-f82ed3bef495
    instance_id:
      description: The instance, or null when the action was named by its token only.
      type: str
      sample: i-017425ec54f22f994
    result:
      description: V(CONTINUE) or V(ABANDON).
      type: str
      sample: CONTINUE
"""

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.classiclink.mirror.plugins.module_utils.aws_module import MirrorAWSModule

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # handled by AnsibleAWSModule

NO_ACTIVE_ACTION = "No active Lifecycle Action found"


def main():
    argument_spec = dict(
        auto_scaling_group_name=dict(type="str", required=True),
        lifecycle_hook_name=dict(type="str", required=True),
        lifecycle_action_token=dict(type="str", no_log=False),
        instance_id=dict(type="str"),
        result=dict(type="str", choices=["CONTINUE", "ABANDON"], required=True),
    )
    module = MirrorAWSModule(
        argument_spec=argument_spec,
        required_one_of=[("lifecycle_action_token", "instance_id")],
        supports_check_mode=True,
    )
    params = module.params
    action = dict(
        auto_scaling_group_name=params["auto_scaling_group_name"],
        lifecycle_hook_name=params["lifecycle_hook_name"],
        lifecycle_action_token=params["lifecycle_action_token"],
        instance_id=params["instance_id"],
        result=params["result"],
    )
    if module.check_mode:
        module.exit_json(changed=True, completed=True, reason="", lifecycle_action=action)

    request = dict(
        AutoScalingGroupName=action["auto_scaling_group_name"],
        LifecycleHookName=action["lifecycle_hook_name"],
        LifecycleActionResult=action["result"],
    )
    if action["lifecycle_action_token"]:
        request["LifecycleActionToken"] = action["lifecycle_action_token"]
    if action["instance_id"]:
        request["InstanceId"] = action["instance_id"]
    client = module.client("autoscaling", retry_decorator=AWSRetry.jittered_backoff())
    try:
        client.complete_lifecycle_action(aws_retry=True, **request)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        message = str(error.get("Message") or "")
        if error.get("Code") == "ValidationError" and message.startswith(NO_ACTIVE_ACTION):
            module.warn("lifecycle action of instance %s (group %s, hook %s) not completed: %s" % (
                action["instance_id"] or "?", action["auto_scaling_group_name"], action["lifecycle_hook_name"], message))
            module.exit_json(changed=False, completed=False, reason=message, lifecycle_action=action)
        module.fail_json_aws(exc, msg="could not complete the lifecycle action of instance %s (group %s, hook %s) with %s" % (
            action["instance_id"] or "?", action["auto_scaling_group_name"], action["lifecycle_hook_name"], action["result"]))
    except BotoCoreError as exc:
        module.fail_json_aws(exc, msg="could not complete the lifecycle action of instance %s (group %s, hook %s)" % (
            action["instance_id"] or "?", action["auto_scaling_group_name"], action["lifecycle_hook_name"]))
    module.exit_json(changed=True, completed=True, reason="", lifecycle_action=action)


if __name__ == "__main__":
    main()
