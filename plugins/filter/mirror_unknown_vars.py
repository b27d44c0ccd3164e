# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: mirror_unknown_vars
short_description: Name the mirror_* variables the mirror role does not know, with the closest known name
version_added: 0.1.0
author:
  - classiclink.mirror maintainers
description:
  - Takes the names of the variables that are set (for example C(query('ansible.builtin.varnames', '^mirror_'))) and
    returns one message per name that starts with C(mirror_) and is not a variable of the C(classiclink.mirror.mirror)
    role, of the C(classiclink.mirror.mirror) playbook, or of the collection's rulebooks and events playbook.
  - Each message names the closest known variable (C(difflib.get_close_matches)), for example
    C(unknown role variable mirror_prunee; did you mean mirror_prune?). Only variables a user sets are suggested, not
    the names the role registers internally.
  - The role runs it as its first task, before any AWS call, so that a misspelt variable fails the run instead of being
    ignored silently. The role's variables are the options of its C(meta/argument_specs.yml), passed as O(known).
  - Accepted besides O(known) - the playbook's C(mirror_regions), C(mirror_python_interpreter) and
    C(mirror_scope_regions); the host variables of the P(classiclink.mirror.scopes#inventory) inventory plugin,
    C(mirror_role_arn) and C(mirror_role_external_id); the rulebooks' and events playbook's C(mirror_events_*),
    C(mirror_job_template) and C(mirror_organization); and the names the role itself registers or sets
    (C(mirror_groups_result), C(mirror_run_summary), C(mirror_report), ...), which are defined when the role runs
    twice in one play.
positional: _input, known
options:
  _input:
    description: Names of the variables that are set; names that do not start with C(mirror_) are ignored.
    type: list
    elements: str
    required: true
  known:
    description:
      - The role's variables, a list of names or a dict whose keys are the names (the C(options) of the role's
        argument spec).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Refuse misspelt mirror_* variables before any AWS call
  ansible.builtin.fail:
    msg: "{{ unknown | join('; ') }}"
  when: unknown | length > 0
  vars:
    unknown: >-
      {{ query('ansible.builtin.varnames', '^mirror_')
         | classiclink.mirror.mirror_unknown_vars(
             (lookup('ansible.builtin.file', role_path ~ '/meta/argument_specs.yml') | from_yaml)
             .argument_specs.main.options) }}

# ['mirror_prunee'] | classiclink.mirror.mirror_unknown_vars(['mirror_prune', 'mirror_vpc_ids'])
#   -> ['unknown role variable mirror_prunee; did you mean mirror_prune?']
"""

RETURN = r"""
_value:
  description:
    - One message per unknown name, sorted by name; empty when every C(mirror_*) name is known.
    - A name without a close match gets the list of the role's variables instead of a suggestion.
  type: list
  elements: str
  sample:
    - "unknown role variable mirror_prunee; did you mean mirror_prune?"
    - "unknown role variable mirror_regon; did you mean mirror_regions?"
"""

import difflib
import typing as t

from ansible.errors import AnsibleFilterError

PREFIX = "mirror_"
# Variables a user sets besides the role's own, suggested like them: those of playbooks/mirror.yml, the host
# variables of the scopes inventory plugin (plugins/inventory/scopes.py), those of the controller rulebook.
USER_VARIABLES = ("mirror_regions", "mirror_python_interpreter", "mirror_role_arn", "mirror_role_external_id",
                  "mirror_job_template", "mirror_organization")
# Names the playbook and the role set or register themselves: accepted, never suggested.
INTERNAL_VARIABLES = (
    "mirror_scope_regions",
    "mirror_groups_result",
    "mirror_run_summary",
    "mirror_report",
    "mirror_report_scopes",
    "mirror_unknown_variables",
)
# The rulebooks (extensions/eda/rulebooks) and playbooks/events_setup.yml: their variables may reach a run of the
# mirror playbook through the same inventory or extra vars file.
OTHER_PREFIXES = ("mirror_events_",)
CUTOFF = 0.75  # difflib ratio: mirror_prunee/mirror_prune 0.96, mirror_regon/mirror_regions 0.92


def _names(known: t.Any) -> t.List[str]:
    if isinstance(known, dict):
        return [str(name) for name in known]
    if isinstance(known, (list, tuple, set, frozenset)):
        return [str(name) for name in known]
    raise AnsibleFilterError("mirror_unknown_vars: known must be a list of names or a dict (the role's argument spec "
                             "options), got %s" % type(known).__name__)


def mirror_unknown_vars(names: t.Any, known: t.Any) -> t.List[str]:
    """Messages for the ``mirror_*`` names that no part of the collection uses, each with the closest known name."""
    if isinstance(names, str):
        names = [name for name in names.split(",") if name]
    if not isinstance(names, (list, tuple, set, frozenset)):
        raise AnsibleFilterError("mirror_unknown_vars: expects a list of variable names, got %s" % type(names).__name__)
    suggested = sorted(set(_names(known)) | set(USER_VARIABLES))
    accepted = set(suggested) | set(INTERNAL_VARIABLES)
    messages = []
    for name in sorted(set(str(name).strip() for name in names)):
        if not name.startswith(PREFIX) or name in accepted or name.startswith(OTHER_PREFIXES):
            continue
        close = difflib.get_close_matches(name, suggested, n=1, cutoff=CUTOFF)
        if close:
            messages.append("unknown role variable %s; did you mean %s?" % (name, close[0]))
        else:
            messages.append("unknown role variable %s; the role's variables are %s (ansible-doc -t role classiclink.mirror.mirror)"
                            % (name, ", ".join(suggested)))
    return messages


class FilterModule:
    """classiclink.mirror filters."""

    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"mirror_unknown_vars": mirror_unknown_vars}
