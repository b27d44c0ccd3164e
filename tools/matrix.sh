#!/usr/bin/env bash
# `make matrix`: test the versions the README claims (section "Supported versions").
#
# One leg per requirements/matrix/<leg>.txt:
#   oldest   ansible-core 2.17 + amazon.aws 9.0.0    (the oldest claimed pair)
#   pinned   the pair of requirements/dev.txt         (ansible-core 2.19, amazon.aws 10.1)
#   newest   the newest ansible-core on PyPI with the newest `ansible` bundle's amazon.aws
# Per leg, in order:
#   1. the leg's venv .build/matrix/<leg>/venv (git-ignored), built when missing or
#      older than its requirements file: `python<X.Y> -m venv` with the Python named
#      by the file's "# python: X.Y" line (on PATH, else pyenv's versions/X.Y.*), then
#      `pip install --no-deps -r` (each file is a complete lock: the oldest pair mixes a
#      bundle with an ansible-core it does not declare);
#   2. a copy of the files git knows (tracked + untracked-but-not-ignored) in
#      .build/matrix/<leg>/src whose .venv is a link to the leg's venv: the tests find
#      ansible-playbook and the module interpreter as <repo>/.venv/bin/..., and
#      amazon.aws in that venv's site-packages, so every leg runs ITS ansible-core
#      and ITS amazon.aws (checked before the stages: the leg fails when the
#      amazon.aws that the copy imports or ansible-galaxy lists is another one);
#   3. the stages: sanity (tools/sanity.sh with the leg's venv and Python, its own
#      copy in .build/matrix/<leg>/sanity), unit (`pytest tests/unit`) and playbooks
#      (`pytest tests/playbooks`; they start their moto server themselves).
# Every stage runs even when an earlier one failed. The logs are in .build/matrix/<leg>/.
# The table (stdout and .build/matrix/results.md) gives the pass counts and times;
# the script exits 1 when any stage failed (pytest's exit 5, no test collected, is a
# failure) and 2 on a usage or setup error.
#
# Environment:
#   MATRIX_LEGS          legs to run, in order (default: "oldest pinned newest")
#   MATRIX_STAGES        stages to run (default: "sanity unit playbooks")
#   MATRIX_PYTEST_ARGS   extra pytest arguments (e.g. "-x")
#   FORCE=1              rebuild the legs' venvs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
MATRIX=$ROOT/.build/matrix
REQ_DIR=$ROOT/requirements/matrix
RESULTS=$MATRIX/results.md
read -r -a LEGS <<<"${MATRIX_LEGS:-oldest pinned newest}"
read -r -a STAGES <<<"${MATRIX_STAGES:-sanity unit playbooks}"

# Sanity tests a leg's ansible-test cannot run, as "leg|test|reason": passed to
# tools/sanity.sh (--skip-test) and printed in the table. Never skip a test
# silently; fix real findings in the code instead when they are small.
SANITY_SKIPS=()
# Findings a leg's ansible-test reports that are not fixed yet, as "leg|<path> <test>:<code>|reason":
# added to that leg's copy as tests/sanity/ignore-X.Y.txt entries (tools/sanity.sh) and
# printed in the table. Each one is a known issue to fix, not a pass.
SANITY_IGNORES=(
    "newest|plugins/modules/classiclink_mirror_group.py validate-modules:bad-return-value-key|new in ansible-test 2.21: the result key 'update' (groups[].ingress/egress.update) is also a dict method in Jinja (use ['update']); renaming it changes the result vocabulary"
    "newest|plugins/modules/classiclink_mirror_info.py validate-modules:bad-return-value-key|new in ansible-test 2.21: the result key 'update' (pairs[].drift.ingress/egress.update), as above"
)

say() { printf 'matrix: %s\n' "$*"; }
die() { printf 'matrix: %s\n' "$*" >&2; exit 2; }

duration() {  # seconds -> "1m05s"
    printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

leg_python_version() {  # the "# python: X.Y" line of the leg's requirements file
    local ver
    ver=$(sed -n 's/^# python: *\([0-9][0-9.]*\) *$/\1/p' "$REQ_DIR/$1.txt" | head -n 1)
    [[ -n $ver ]] || die "$REQ_DIR/$1.txt has no '# python: X.Y' line"
    printf '%s\n' "$ver"
}

find_python() {  # X.Y -> an interpreter of that version
    local ver=$1 candidate
    if candidate=$(command -v "python$ver" 2>/dev/null) && "$candidate" -c '' >/dev/null 2>&1; then
        printf '%s\n' "$candidate"
        return
    fi
    # pyenv's versions that are not the global one (their shims refuse to run).
    candidate=$(find "${PYENV_ROOT:-$HOME/.pyenv}/versions" -maxdepth 3 -path "*/versions/$ver.*/bin/python$ver" \
                     2>/dev/null | sort -V | tail -n 1)
    [[ -n $candidate ]] || die "no Python $ver found (python$ver on PATH or \$PYENV_ROOT/versions/$ver.*)"
    printf '%s\n' "$candidate"
}

# requirements/matrix/pinned.txt must keep the pins of requirements/dev.txt.
check_pinned_agrees() {
    local name dev lock bad=0
    for name in ansible ansible-core boto3 botocore moto pytest hypothesis; do
        dev=$(sed -n "s/^${name}\(\[[a-z,]*\]\)\?==\([^ ]*\).*/\2/p" "$ROOT/requirements/dev.txt" | head -n 1)
        lock=$(sed -n "s/^${name}\(\[[a-z,]*\]\)\?==\([^ ]*\).*/\2/p" "$REQ_DIR/pinned.txt" | head -n 1)
        if [[ $dev != "$lock" ]]; then
            say "requirements/matrix/pinned.txt has $name==${lock:-?}, requirements/dev.txt $name==${dev:-?}" >&2
            bad=1
        fi
    done
    [[ $bad == 0 ]] || die "update requirements/matrix/pinned.txt (pip freeze of a venv with the dev.txt pins)"
}

build_venv() {  # leg
    local leg=$1 req=$REQ_DIR/$1.txt venv=$MATRIX/$1/venv ver py start
    ver=$(leg_python_version "$leg")
    if [[ ${FORCE:-0} != 1 && -x $venv/bin/python && -f $venv/.stamp && ! $req -nt $venv/.stamp ]]; then
        return
    fi
    py=$(find_python "$ver")
    start=$SECONDS
    say "$leg: building $venv with $("$py" --version 2>&1) ($py)"
    rm -rf "$venv"
    mkdir -p "$MATRIX/$leg"
    "$py" -m venv "$venv"
    if ! "$venv/bin/python" -m pip install -q --no-deps --disable-pip-version-check --no-input \
            -r "$req" >"$MATRIX/$leg/pip-install.log" 2>&1; then
        grep -v "is ignored: it is neither a file nor a directory" "$MATRIX/$leg/pip-install.log" | tail -n 40 >&2
        die "$leg: pip install -r ${req#"$ROOT/"} failed (log: ${MATRIX#"$ROOT/"}/$leg/pip-install.log)"
    fi
    touch "$venv/.stamp"
    BUILT[$leg]=$((SECONDS - start))
    say "$leg: venv built in $(duration "${BUILT[$leg]}")"
}

copy_tree() {  # leg: the files git knows, in .build/matrix/<leg>/src, .venv -> the leg's venv
    local src=$MATRIX/$1/src
    rm -rf "$src"
    mkdir -p "$src"
    (cd "$ROOT" && git ls-files -z -co --exclude-standard \
        | while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done \
        | tar --null -T - -cf - | tar -xf - -C "$src")
    ln -sfn ../venv "$src/.venv"
    (cd "$src" && .venv/bin/python -m tests.support.devpaths >/dev/null)
}

# "<ansible-core> <amazon.aws>" of the leg, checking that the copy sees the leg's amazon.aws.
leg_versions() {  # leg
    local leg=$1 venv=$MATRIX/$1/venv src=$MATRIX/$1/src core aws file found listed path version
    core=$("$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')
    found=$(cd "$src" && PYTHONPATH=$src/.collections "$venv/bin/python" -c '
import os
import ansible_collections.amazon.aws.plugins.module_utils.common as c
print(c.AMAZON_AWS_COLLECTION_VERSION, os.path.realpath(c.__file__))') || die "$leg: the copy cannot import amazon.aws"
    read -r aws file <<<"$found"
    case $file in
        "$(cd "$venv" && pwd -P)"/*) ;;
        *) die "$leg: the copy imports amazon.aws $aws from $file, not from the leg's venv" ;;
    esac
    # What ansible-playbook loads: every amazon.aws that ansible-galaxy lists must be the leg's.
    listed=$(cd "$src" && ANSIBLE_COLLECTIONS_PATH=$src/.collections "$venv/bin/ansible-galaxy" collection list \
                 amazon.aws --format json 2>/dev/null \
             | "$venv/bin/python" -c '
import json, sys
for path, found in json.load(sys.stdin).items():
    for name, info in found.items():
        print(path, info.get("version"))') || die "$leg: ansible-galaxy collection list amazon.aws failed"
    while read -r path version; do
        [[ -z $path ]] && continue
        case $(cd "$path" 2>/dev/null && pwd -P) in
            "$(cd "$venv" && pwd -P)"/*) [[ $version == "$aws" ]] || die "$leg: ansible-galaxy lists amazon.aws $version in $path, the copy imports $aws" ;;
            *) die "$leg: ansible-galaxy lists another amazon.aws ($version in $path); remove it or it may shadow the leg's" ;;
        esac
    done <<<"$listed"
    printf '%s %s\n' "$core" "$aws"
}

run_sanity() {  # leg python-version -> sets CELL, returns the stage's status
    local leg=$1 ver=$2 log=$MATRIX/$1/sanity.log skip="" ignore="" notes="" entry rc=0 ran failed start
    for entry in ${SANITY_SKIPS[@]+"${SANITY_SKIPS[@]}"}; do
        [[ ${entry%%|*} == "$leg" ]] || continue
        entry=${entry#*|}
        skip+="$entry"$'\n'
        notes+="${notes:+; }skipped ${entry%%|*}: ${entry#*|}"
    done
    for entry in ${SANITY_IGNORES[@]+"${SANITY_IGNORES[@]}"}; do
        [[ ${entry%%|*} == "$leg" ]] || continue
        entry=${entry#*|}
        ignore+="${entry%%|*}"$'\n'
        IGNORED[$leg]+="- $leg: ignored ${entry%%|*}: ${entry#*|}"$'\n'
    done
    start=$SECONDS
    VENV=$MATRIX/$leg/venv SANITY_BUILD=$MATRIX/$leg/sanity SANITY_PYTHON=$ver SANITY_COLOR=no \
        SANITY_SKIP=$skip SANITY_IGNORE=$ignore "$ROOT/tools/sanity.sh" >"$log" 2>&1 || rc=$?
    ran=$(grep -c '^Running sanity test "' "$log" || true)
    failed=$(sed -nE 's/^(ERROR|FATAL): The ([0-9]+) sanity test\(s\) listed below \(out of [0-9]+\) failed.*/\2/p' "$log" | head -n 1)
    if [[ $rc == 0 ]]; then
        CELL="$ran passed"
    elif [[ -n $failed ]]; then
        CELL="FAILED $failed of $ran"
    else
        CELL="FAILED (rc $rc)"
    fi
    CELL+=" ($(duration $((SECONDS - start))))${notes:+; $notes}${IGNORED[$leg]:+; with ignores, see below}"
    # Tests that ansible-test itself did not run (not applicable to the collection), named.
    AUTO_SKIPS[$leg]=$(sed -n 's/^WARNING: Skipping sanity test "\([^"]*\)"\(.*\)$/\1\2/p' "$log" | sort -u | paste -sd ';' -)
    return "$rc"
}

run_pytest() {  # leg path -> sets CELL, returns the stage's status
    local leg=$1 path=$2 name log rc=0 summary start
    name=$(basename "$path")
    log=$MATRIX/$leg/$name.log
    start=$SECONDS
    # shellcheck disable=SC2086
    # The leg's tools first on PATH (make puts .venv/bin there).
    (cd "$MATRIX/$leg/src" && PATH=$MATRIX/$leg/venv/bin:$PATH VIRTUAL_ENV=$MATRIX/$leg/venv \
        .venv/bin/python -m pytest "$path" -q ${MATRIX_PYTEST_ARGS:-}) >"$log" 2>&1 || rc=$?
    summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped|xfailed|xpassed|deselected)|no tests ran' "$log" \
              | tail -n 1 | sed -E 's/^=+ //; s/ =+$//; s/ in [0-9.]+s( \([0-9:]+\))?$//')
    case $rc in
        0) CELL="${summary:-passed}" ;;
        5) CELL="FAILED: no tests collected" ;;
        *) CELL="FAILED: ${summary:-rc $rc}" ;;
    esac
    CELL+=" ($(duration $((SECONDS - start))))"
    [[ $rc == 0 ]]
}

stage_wanted() { [[ " ${STAGES[*]} " == *" $1 "* ]]; }

for leg in "${LEGS[@]}"; do
    [[ -f $REQ_DIR/$leg.txt ]] || die "no leg '$leg' (no requirements/matrix/$leg.txt)"
done
for stage in "${STAGES[@]}"; do
    [[ $stage == sanity || $stage == unit || $stage == playbooks ]] || die "no stage '$stage' (sanity, unit, playbooks)"
done
[[ " ${LEGS[*]} " != *" pinned "* ]] || check_pinned_agrees

declare -A BUILT=() AUTO_SKIPS=() IGNORED=()
rows=()
failures=0
matrix_start=$SECONDS
mkdir -p "$MATRIX"
for leg in "${LEGS[@]}"; do
    leg_start=$SECONDS
    build_venv "$leg"
    copy_tree "$leg"
    pyver=$("$MATRIX/$leg/venv/bin/python" -c 'import platform; print(platform.python_version())')
    versions=$(leg_versions "$leg") || exit 2
    read -r core aws <<<"$versions"
    say "$leg: Python $pyver, ansible-core $core, amazon.aws $aws"
    cells=()
    for stage in sanity unit playbooks; do
        if ! stage_wanted "$stage"; then
            cells+=("not run")
            continue
        fi
        say "$leg: $stage (log: ${MATRIX#"$ROOT/"}/$leg/$stage.log)"
        CELL=""
        status=0
        case $stage in
            sanity) run_sanity "$leg" "${pyver%.*}" || status=$? ;;
            unit) run_pytest "$leg" tests/unit || status=$? ;;
            playbooks) run_pytest "$leg" tests/playbooks || status=$? ;;
        esac
        if [[ $status != 0 ]]; then
            failures=$((failures + 1))
            say "$leg: $stage FAILED; last lines of ${MATRIX#"$ROOT/"}/$leg/$stage.log:"
            tail -n 25 "$MATRIX/$leg/$stage.log" | sed 's/^/    /'
        fi
        say "$leg: $stage: $CELL"
        cells+=("$CELL")
    done
    wall=$((SECONDS - leg_start))
    rows+=("| $leg | $pyver | $core | $aws | ${cells[0]} | ${cells[1]} | ${cells[2]} | $(duration "$wall")${BUILT[$leg]:+ (venv build $(duration "${BUILT[$leg]}"))} |")
done

{
    echo "| leg | python | ansible-core | amazon.aws | sanity | unit | playbooks | wall time |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Total wall time: $(duration $((SECONDS - matrix_start))) ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)."
    for leg in "${LEGS[@]}"; do
        [[ -n ${AUTO_SKIPS[$leg]:-} ]] && echo "- $leg: sanity tests ansible-test skipped itself: ${AUTO_SKIPS[$leg]}"
        [[ -n ${IGNORED[$leg]:-} ]] && printf '%s' "${IGNORED[$leg]}"
    done
    [[ $failures == 0 ]] && echo "All stages passed." || echo "$failures stage(s) FAILED."
} | tee "$RESULTS"
say "table written to ${RESULTS#"$ROOT/"}"
[[ $failures == 0 ]]
