"""Bad role variables: ``ansible-playbook classiclink.mirror.mirror`` stops at the role's
argument_specs validation, naming the variable and what it accepts, before any AWS call.
"""

from __future__ import annotations

import pytest

from tests.badinput import runner
from tests.integration.ec2_world import make_group, make_vpc

pytestmark = pytest.mark.integration

CASES = {
    # variable value (JSON extra vars) -> phrases the failure must contain
    "rules_quota_not_an_int": ({"mirror_rules_quota": "lots"}, ("mirror_rules_quota", "int")),
    "egress_misspelt_choice": ({"mirror_egress": "atuo"}, ("mirror_egress", "must be one of", "auto")),
    "tags_not_a_dict": ({"mirror_tags": ["wave-1"]}, ("mirror_tags", "dict")),
    "prune_not_a_bool": ({"mirror_prune": "perhaps"}, ("mirror_prune", "bool")),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_role_rejects_bad_variables_before_any_call(case, moto, ec2):
    import json

    vpc = make_vpc(ec2)
    make_group(ec2, "web", link=vpc)
    extra, phrases = CASES[case]
    moto.reset_calls()

    proc = runner.run_playbook("classiclink.mirror.mirror", "-e", "mirror_classic_vpc_id=default", "-e", json.dumps(extra),
                               env=runner.aws_env(moto.url))

    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-4000:]
    assert "Validating arguments against arg spec" in output, output[-4000:]
    missing = [phrase for phrase in phrases if phrase not in output]
    assert not missing, f"{missing} not in the failure:\n{output[-4000:]}"
    assert moto.calls() == [], [c["action"] for c in moto.calls()]
