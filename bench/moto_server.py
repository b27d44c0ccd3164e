"""The moto harness for the benchmark, optionally with an index for EC2 tag look-ups.

    .venv/bin/python -m bench.moto_server [--tag-index] --port 0 --port-file F

Without ``--tag-index`` this is exactly ``python -m tests.support.moto_harness``.

With it, one emulator hot spot is replaced before the server starts: moto 5.2
answers every "tags of resource X" question (``TaggedEC2Resource.get_tags``,
used to render each group's ``tagSet`` in every describe and to apply every
``tag-key`` / ``tag:`` filter) by scanning every tag of the account with a
compiled regular expression, so one describe of G groups costs O(G x all tags)
and the emulator gets slower as the account grows (9 s of moto CPU for one
tag-key describe at N=1000). Real EC2 has no such cost. The replacement reads
the same backend dictionary (``ec2_backend.tags[resource_id]``) directly and
returns the same entries; nothing else changes.
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


def main(argv: List[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--tag-index" in argv:
        argv.remove("--tag-index")
        install_tag_index()
    from tests.support.moto_harness import main as harness_main

    return harness_main(argv)


if __name__ == "__main__":
    sys.exit(main())
