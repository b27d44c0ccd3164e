#!/usr/bin/env bash
# Run ansible-lint (production profile, offline) over the repository.
#
# Configuration lives in .ansible-lint (profile, offline mode, exclude_paths).
# Offline mode matters: without it ansible-lint tries to install the
# collection's dependencies from Galaxy, which is not reachable.  amazon.aws
# comes from the venv's `ansible` bundle instead.
#
# Environment:
#   VENV        venv with ansible-lint (default: <repo>/.venv)
#   LINT_ARGS   extra args for ansible-lint
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
VENV=${VENV:-$ROOT/.venv}
[[ $VENV == /* ]] || VENV=$PWD/$VENV
export PATH=$VENV/bin:$PATH

if [[ ! -x $VENV/bin/ansible-lint ]]; then
    echo "lint: $VENV/bin/ansible-lint not found; run 'make venv' first" >&2
    exit 2
fi

# No ANSI colour codes in logs (CI, redirected output).
if [[ ! -t 1 ]]; then
    export NO_COLOR=${NO_COLOR:-1}
fi

cd "$ROOT"
echo "lint: ansible-lint --offline --profile production (config: .ansible-lint)"
# shellcheck disable=SC2086
exec ansible-lint --offline --profile production --config-file .ansible-lint ${LINT_ARGS:-}
