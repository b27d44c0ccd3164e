#!/usr/bin/env bash
# Create or refresh the project virtualenv (.venv).
#
# (Re)installs only when .venv is missing, or when requirements/dev.txt,
# requirements/eda.txt, requirements/docs.txt or tools/requirements-tools.txt
# is newer than .venv/.stamp.  pip's output goes to .venv/pip-install.log and is shown only
# when the install fails.
#
# Environment:
#   VENV     path of the virtualenv (default: <repo>/.venv)
#   PYTHON   interpreter used to create it (default: python3; 3.11 expected)
#   FORCE=1  reinstall even if the stamp is up to date
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
VENV=${VENV:-$ROOT/.venv}
[[ $VENV == /* ]] || VENV=$PWD/$VENV
PYTHON=${PYTHON:-python3}
STAMP=$VENV/.stamp
LOG=$VENV/pip-install.log
REQUIREMENTS=("$ROOT/requirements/dev.txt" "$ROOT/requirements/eda.txt" "$ROOT/requirements/docs.txt"
              "$ROOT/tools/requirements-tools.txt")

stale=${FORCE:-0}
if [[ ! -x $VENV/bin/python || ! -f $STAMP ]]; then
    stale=1
else
    for req in "${REQUIREMENTS[@]}"; do
        [[ $req -nt $STAMP ]] && stale=1
    done
fi
[[ $stale == 0 ]] && exit 0

if [[ ! -x $VENV/bin/python ]]; then
    echo "bootstrap: creating $VENV with $("$PYTHON" --version 2>&1) ($PYTHON)"
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "bootstrap: WARNING: $VENV uses $("$VENV/bin/python" --version 2>&1); CI and the pins expect Python 3.11" >&2
fi

req_args=()
for req in "${REQUIREMENTS[@]}"; do
    req_args+=(-r "$req")
done

echo "bootstrap: pip install ${req_args[*]#"$ROOT/"} (log: ${LOG#"$ROOT/"})"
start=$SECONDS
if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input \
        "${req_args[@]}" >"$LOG" 2>&1; then
    echo "bootstrap: pip install FAILED; last lines of $LOG:" >&2
    grep -v "is ignored: it is neither a file nor a directory" "$LOG" | tail -n 60 >&2
    exit 1
fi
touch "$STAMP"
echo "bootstrap: done in $((SECONDS - start))s"
# ansible-rulebook (requirements/eda.txt) runs on a Java 17+ runtime; tests/eda installs
# openjdk-17-jre-headless itself when CI=true, and is skipped elsewhere without Java.
if [[ -z ${JAVA_HOME:-} ]] && ! command -v java >/dev/null; then
    echo "bootstrap: note: no java found; ansible-rulebook needs Java 17+ (apt-get install openjdk-17-jre-headless)" >&2
fi
