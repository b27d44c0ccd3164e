"""The environment of a process whose AWS endpoint is the moto harness (or a proxy in front of it).

One place for it: the tests, the demo and the benchmark all run modules and
playbooks as a user would, with fake credentials, no inherited AWS or proxy
settings, and the dev collection path.
"""

from __future__ import annotations

import os
from typing import Optional

from tests.support.devpaths import collections_root

LOOPBACK = "127.0.0.1,localhost,::1"
DEFAULT_REGION = "us-east-1"


def harness_env(url: str, *, region: Optional[str] = DEFAULT_REGION, access_key: str = "testing",
                secret_key: str = "testing", **overrides: Optional[str]) -> dict[str, str]:
    """Environment for a subprocess talking to ``url``.

    ``region=None`` sets no region at all; an override of ``None`` removes that variable.
    """
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("AWS_", "EC2_", "BOTO_")) and not key.upper().endswith("_PROXY")
    }
    env.update(
        AWS_ACCESS_KEY_ID=access_key,
        AWS_SECRET_ACCESS_KEY=secret_key,
        AWS_ENDPOINT_URL=url,
        AWS_URL=url,  # endpoint_url env fallback of older amazon.aws releases
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY=LOOPBACK,
        no_proxy=LOOPBACK,
        ANSIBLE_COLLECTIONS_PATH=str(collections_root()),
        ANSIBLE_NOCOLOR="1",
    )
    if region:
        env.update(AWS_REGION=region, AWS_DEFAULT_REGION=region)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env
