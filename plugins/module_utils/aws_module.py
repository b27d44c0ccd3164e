# -*- coding: utf-8 -*-
# Copyright: contributors to the classiclink.mirror collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The module class of the collection's modules: amazon.aws's AnsibleAWSModule, with
warnings returned the way ansible-core returns them.

``AnsibleAWSModule.warn`` hands every warning to ``AnsibleModule.warn``, and
ansible-core records it and returns it in the module's result by itself (2.17 and
later). amazon.aws 10.1 and later also keep a copy and, on ansible-core 2.19 and
later, pass the copies to ``AnsibleModule.exit_json`` / ``fail_json`` as
``warnings=``; ansible-core 2.19 deprecates that argument, so every run of a
module that warned printed "Passing `warnings` to `exit_json` or `fail_json` is
deprecated" next to the warning itself (which it had anyway).

:class:`MirrorAWSModule` answers amazon.aws's own question "pass the recorded
warnings to exit_json?" (``_should_inject_warnings``) with no: the warnings are
still returned, once, through ``AnsibleModule.warn``, and no deprecation is
raised. amazon.aws releases without that hook (9.x) never pass ``warnings=``, so
there is nothing to change there. Other deprecations are untouched.
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


class MirrorAWSModule(AnsibleAWSModule):
    """``AnsibleAWSModule`` that leaves the returned warnings to ansible-core."""

    def _should_inject_warnings(self) -> bool:
        # Every recorded warning already went through AnsibleModule.warn (see the
        # module docstring): ansible-core returns it without ``warnings=``.
        return False
