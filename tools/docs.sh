#!/usr/bin/env bash
# Collection docsite of classiclink.mirror (antsibull-docs + Sphinx).
#
#   tools/docs.sh build   HTML into .build/docs/html (`make docs`)
#   tools/docs.sh lint    antsibull-docs lint-collection-docs --plugin-docs: semantic
#                         markup, references, RETURN/argument specs, extra docs; and
#                         every docs/*.md has its page (`make docs-lint`, in `make test`)
#
# Offline by construction (only the package index is needed, for .venv):
# - the toolchain is requirements/docs.txt, installed into .venv by tools/bootstrap-venv.sh;
# - antsibull-docs documents installed collections only (--use-current): this
#   checkout through .collections/ (`make collections`), amazon.aws from the venv's
#   ansible bundle; Galaxy is never asked;
# - the Sphinx configuration written by `antsibull-docs sphinx-init` is amended:
#   no intersphinx (it would download inventories); references to pages outside
#   this collection (ansible-core's reference pages, amazon.aws plugins) become
#   plain links to docs.ansible.com by a small extension (classiclink_docs.py, written
#   below); a reference it does not know stays a warning, and warnings fail the build.
#
# The Markdown pages of docs/ are the source of the how-tos: each has a stub in
# docs/docsite/rst/ (label + a ".. markdown: docs/NAME.md" comment), listed in
# docs/docsite/extra-docs.yml.  The build turns that comment into an include of the
# Markdown file with myst-parser; nothing is copied or converted by hand.
#
# Environment:
#   VENV         virtualenv with requirements/docs.txt (default: <repo>/.venv)
#   DOCS_BUILD   output directory (default: <repo>/.build/docs)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
VENV=${VENV:-$ROOT/.venv}
[[ $VENV == /* ]] || VENV=$PWD/$VENV
BUILD=${DOCS_BUILD:-$ROOT/.build/docs}
[[ $BUILD == /* ]] || BUILD=$PWD/$BUILD
COLLECTION=classiclink.mirror
LINK=$ROOT/.collections/ansible_collections/classiclink/mirror
DOCS_BASE=https://docs.ansible.com/projects/ansible/latest/

export PATH=$VENV/bin:$PATH
# ansible-doc (run by antsibull-docs) finds this checkout through .collections and
# amazon.aws in the venv's site-packages (the ansible bundle), nothing from ~/.ansible.
# (lint-collection-docs copies the collection and passes only these paths on.)
SITE_PACKAGES=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export ANSIBLE_COLLECTIONS_PATH=$ROOT/.collections:$SITE_PACKAGES
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_NOCOLOR=1

die() { echo "docs: $*" >&2; exit 1; }

preflight() {
    if ! command -v antsibull-docs >/dev/null || ! command -v sphinx-build >/dev/null; then
        die "antsibull-docs/sphinx-build not in $VENV; run 'make venv' (requirements/docs.txt)"
    fi
    [[ -e $LINK/galaxy.yml ]] || die "$LINK missing; run 'make collections'"
}

# Every docs/*.md has a stub docs/docsite/rst/NAME.rst that names it, listed in extra-docs.yml.
check_pages() {
    local md name stub errors=0
    for md in "$ROOT"/docs/*.md; do
        name=$(basename "$md" .md)
        stub=$ROOT/docs/docsite/rst/$name.rst
        if ! grep -qx ".. markdown: docs/$name.md" "$stub" 2>/dev/null; then
            echo "docs/$name.md: no page; add $stub (copy a stub beside it) and list $name in docs/docsite/extra-docs.yml" >&2
            errors=1
        elif ! grep -qE "^ *- *(ref: *)?$name\$" "$ROOT/docs/docsite/extra-docs.yml"; then
            echo "docs/$name.md: $name is not listed in docs/docsite/extra-docs.yml" >&2
            errors=1
        fi
    done
    for stub in "$ROOT"/docs/docsite/rst/*.rst; do
        md=$(sed -n 's/^\.\. markdown: //p' "$stub")
        [[ -z $md || -f $ROOT/$md ]] || { echo "$stub: $md does not exist" >&2; errors=1; }
    done
    return $errors
}

lint() {
    preflight
    local status=0
    echo "docs-lint: antsibull-docs lint-collection-docs --plugin-docs $COLLECTION"
    # --plugin-docs: modules, plugins and the role's argument spec are rendered and
    # validated (schema, semantic markup, references to this collection and to its
    # dependencies); --check-extra-docs-refs: the same for docs/docsite/rst.
    # It copies the collection and amazon.aws to a temporary tree, a Git checkout's
    # files with `git ls-files`: .venv is inside this checkout but ignored, so Git
    # must not see amazon.aws as part of it (or the copy is empty).
    (cd "$LINK" && GIT_CEILING_DIRECTORIES=$(cd "$VENV" && pwd -P) \
        antsibull-docs lint-collection-docs --plugin-docs \
        --validate-collection-refs dependent --disallow-unknown-collection-refs \
        --check-extra-docs-refs .) || status=1
    check_pages || status=1
    ((status == 0)) || die "lint FAILED (messages above: file:line:column: message)"
    echo "docs-lint: no errors"
}

write_extension() {
    cat >"$1" <<'PY'
"""Sphinx extension of the classiclink.mirror docsite, written by tools/docs.sh.

- References to docs.ansible.com: antsibull-docs links ansible-core's reference
  pages and other collections' plugins with :ref: / :envvar:, which sphinx-init's
  conf.py resolves with intersphinx inventories downloaded at build time.  Here
  they become plain links; an unknown label is left alone (Sphinx warns, -W fails).
- Links between the Markdown pages: docs/NAME.md is included into the page
  docsite/NAME, so a link [..](NAME.md#anchor) in docs/ goes to that page, and a
  link to another file of the repository (iam-policy.json, ../tools/...) becomes a
  download of that file.
"""
import os
import posixpath
import re

from docutils import nodes
from sphinx import addnodes
from sphinx.util.nodes import get_node_source

BASE = "@DOCS_BASE@"
OWN = "ansible_collections.classiclink.mirror."
LABELS = {
    "common_return_values": "reference_appendices/common_return_values.html",
    "ansible_configuration_settings": "reference_appendices/config.html",
    "collections_keyword": "collections_guide/collections_using_playbooks.html",
    "list_of_collections": "collections/index.html",
}
PLUGIN = re.compile(
    r"^ansible_collections\.(?P<ns>\w+)\.(?P<name>\w+)\.(?P<plugin>\w+?)_(?P<type>module|[a-z]+)"
    r"(?:__(?P<anchor>[\w.-]+))?$"
)


def _url(domain, reftype, target):
    if domain == "std" and reftype == "envvar" and target.startswith("ANSIBLE_"):
        return BASE + "reference_appendices/config.html#envvar-" + target
    if domain != "std" or reftype != "ref":
        return None
    if target in LABELS:
        return BASE + LABELS[target]
    if target.startswith(OWN):
        return None  # a missing page of this collection is an error
    match = PLUGIN.match(target)
    if match and ".docsite." not in target:
        url = "{0}collections/{1}/{2}/{3}_{4}.html".format(
            BASE, match["ns"], match["name"], match["plugin"], match["type"])
        return url + ("#" + match["anchor"] if match["anchor"] else "")
    return None


def missing_reference(app, env, node, contnode):
    url = _url(node.get("refdomain"), node.get("reftype"), node.get("reftarget", ""))
    if url is None:
        return None
    ref = nodes.reference("", "", internal=False, refuri=url)
    ref += contnode
    return ref


def markdown_links(app, doctree):
    """Before myst resolves them: links of the included docs/*.md files."""
    env = app.env
    docdir = posixpath.dirname(env.docname)
    for node in list(doctree.findall(addnodes.pending_xref)):
        if node.get("reftype") != "myst" or node.get("refdomain") is not None:
            continue
        source = get_node_source(node) or ""
        path, _, anchor = node["reftarget"].partition("#")
        if not source.endswith(".md") or not path or ":" in path:
            continue
        target = os.path.normpath(os.path.join(os.path.dirname(source), path))
        if not os.path.isfile(target):
            continue
        if target.endswith(".md") and os.path.dirname(target) == os.path.dirname(source):
            node["refdomain"] = "doc"
            node["reftarget"] = posixpath.join(docdir, os.path.basename(target)[:-3])
            node["reftargetid"] = anchor or None
            continue
        rel = os.path.relpath(target, os.path.dirname(env.doc2path(env.docname)))
        download = addnodes.download_reference(
            "", "", *node.children, refdomain=None, reftype="myst", reftarget=rel,
            refdoc=env.docname, refexplicit=node.get("refexplicit", True))
        download["classes"] = ["xref", "download", "myst"]
        node.replace_self(download)


def setup(app):
    app.connect("missing-reference", missing_reference)
    # before Sphinx's collectors (downloads) that also run at doctree-read
    app.connect("doctree-read", markdown_links, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
PY
    sed -i "s|@DOCS_BASE@|$DOCS_BASE|" "$1"
}

build() {
    preflight
    check_pages || die "pages missing (see above)"
    local site=$BUILD/site html=$BUILD/html start=$SECONDS
    rm -rf "$BUILD"
    mkdir -p "$site"
    chmod 0755 "$BUILD" "$site"  # antsibull-docs wants dirs writable by their owner only

    echo "docs: antsibull-docs sphinx-init -> ${site#"$ROOT/"}"
    antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error \
        --title "classiclink.mirror" --project "classiclink.mirror" \
        --copyright "classiclink.mirror maintainers" \
        --dest-dir "$site" "$COLLECTION" >"$BUILD/sphinx-init.log"
    write_extension "$site/classiclink_docs.py"
    cat >>"$site/conf.py" <<'PY'

# --- tools/docs.sh: offline build, Markdown pages -----------------------------
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# No intersphinx: it downloads inventories; classiclink_docs links docs.ansible.com instead.
extensions = [e for e in extensions if e != 'sphinx.ext.intersphinx']
extensions += ['myst_parser', 'classiclink_docs']
intersphinx_mapping = {}
# The how-tos are Markdown (docs/*.md), included into docs/docsite/rst stubs.
myst_heading_anchors = 4
myst_enable_extensions = ['deflist']
# A fence language that Pygments does not know (```cron) is shown unhighlighted.
suppress_warnings = ['misc.highlighting_failure']
PY

    echo "docs: antsibull-docs collection -> ${site#"$ROOT/"}/rst"
    mkdir -p "$site/rst"
    chmod 0755 "$site/rst"
    antsibull-docs --config-file "$site/antsibull-docs.cfg" collection \
        --use-current --squash-hierarchy --fail-on-error --cleanup everything \
        --dest-dir "$site/rst" "$COLLECTION" >"$BUILD/antsibull-docs.log" 2>&1 \
        || { tail -n 40 "$BUILD/antsibull-docs.log" >&2; die "antsibull-docs collection FAILED"; }

    # ".. markdown: docs/NAME.md" in a stub -> include of the Markdown file itself.
    "$VENV/bin/python" - "$ROOT" "$site/rst/docsite" <<'PY'
import os
import re
import sys

root, pages = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(pages)):
    path = os.path.join(pages, name)
    with open(path, encoding="utf-8") as f:
        text = f.read()

    def include(match):
        rel = os.path.relpath(os.path.join(root, match.group(1)), pages)
        return ".. include:: {0}\n   :parser: myst_parser.sphinx_\n".format(rel)

    new = re.sub(r"^\.\. markdown: (\S+)\n", include, text, flags=re.M)
    if new != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
PY

    echo "docs: sphinx-build -W -> ${html#"$ROOT/"}"
    if ! sphinx-build -b html -c "$site" -W --keep-going -q "$site/rst" "$html" \
            2>"$BUILD/sphinx-warnings.log"; then
        cat "$BUILD/sphinx-warnings.log" >&2
        die "sphinx-build FAILED"
    fi
    echo "docs: done in $((SECONDS - start))s; open $html/index.html"
}

case ${1:-build} in
    build) build ;;
    lint) lint ;;
    *) die "usage: $0 [build|lint]" ;;
esac
