# Build / test entry points for the classiclink.mirror collection.
#
#   make test     sanity -> lint -> docs-lint -> pytest -> changelog-lint (stops at the first failure)
#   make help     list the targets
#
# Every target bootstraps .venv first (tools/bootstrap-venv.sh): created when
# missing, reinstalled when requirements/dev.txt, requirements/eda.txt,
# requirements/docs.txt or tools/requirements-tools.txt is newer than .venv/.stamp.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# `make -j test` must still run the stages one after the other.
.NOTPARALLEL:

VENV ?= .venv
PY := $(VENV)/bin/python
# Extra arguments for pytest, e.g. `make unit PYTEST_ARGS="-k rules -x"` or
# `make integration PYTEST_ARGS="-n 2"` (pytest-xdist).
PYTEST_ARGS ?=
PYTEST := $(PY) -m pytest

# Tools and ansible from the venv come first on PATH for every recipe.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export VENV := $(abspath $(VENV))

# Where dev/test runs see the repo as classiclink.mirror (same path as
# `python -m tests.support.devpaths`; ansible.cfg: collections_path = .collections).
COLLECTION_LINK := .collections/ansible_collections/classiclink/mirror

.PHONY: help venv collections test sanity lint pytest unit emulation integration eda \
	changelog-lint demo bench clean distclean matrix

help:
	@echo "make test            sanity, lint, docs-lint, pytest, changelog-lint (in that order; what CI runs)"
	@echo "make sanity          ansible-test sanity --python 3.11 on a copy in .build/ (tools/sanity.sh)"
	@echo "make lint            ansible-lint, production profile, offline (tools/lint.sh)"
	@echo "make pytest          pytest over the testpaths of pytest.ini (unit ... playbooks, eda)"
	@echo "make unit            pytest tests/unit"
	@echo "make emulation       pytest tests/emulation"
	@echo "make integration     pytest tests/integration"
	@echo "make eda             pytest tests/eda (event source, rulebook end to end; needs Java 17+)"
	@echo "make changelog-lint  antsibull-changelog lint"
	@echo "make docs            HTML docsite (antsibull-docs, Sphinx) into .build/docs/html (tools/docs.sh)"
	@echo "make docs-lint       antsibull-docs lint-collection-docs --plugin-docs (markup, links, extra docs)"
	@echo "make demo            python -m tests.support.demo (report pages and screenshots in tests/output/demo-report)"
	@echo "make report          pytest tests/report (the report pages, in headless Chromium)"
	@echo "make browser         install Chromium (Debian package chromium, apt-get) when it is missing; make pytest needs it"
	@echo "make awx             pytest tests/awx (execution-environment.yml with ansible-builder, the playbook under ansible-runner)"
	@echo "make bwrap           install bubblewrap (Debian package bubblewrap, apt-get) when it is missing; make pytest needs it"
	@echo "make bench           benchmark vs a plain amazon.aws playbook (BENCH_ARGS=\"--suite scale\"); see docs/performance.md"
	@echo "make matrix          sanity, unit and playbook tests per supported ansible-core/amazon.aws pair (tools/matrix.sh; venvs in .build/matrix)"
	@echo "make venv            create/refresh .venv"
	@echo "make collections     create the $(COLLECTION_LINK) symlink"
	@echo "make clean           remove build/test output (keeps .venv); distclean also removes .venv"
	@echo "PYTEST_ARGS=...      extra pytest arguments (e.g. '-n 2' for pytest-xdist)"
	@echo "make iam-policy      IAM policies of a deployment (IAM_ARGS=\"--source-account ... --region ... --target-vpc ... --out DIR\"); alone: regenerate docs/iam-policy.json; see docs/iam.md"

venv:
	@tools/bootstrap-venv.sh

collections:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn ../../.. $(COLLECTION_LINK)

test: sanity lint docs-lint pytest changelog-lint
	@echo "make test: all stages passed"

sanity: venv
	tools/sanity.sh

lint: venv collections
	tools/lint.sh

# pytest exits 5 when it collects no tests; that fails the target (and `make test`).
pytest: venv collections browser bwrap
	$(PYTEST) $(PYTEST_ARGS)

unit: venv collections
	$(PYTEST) tests/unit $(PYTEST_ARGS)

emulation: venv collections
	$(PYTEST) tests/emulation $(PYTEST_ARGS)

integration: venv collections
	$(PYTEST) tests/integration $(PYTEST_ARGS)

eda: venv collections
	$(PYTEST) tests/eda $(PYTEST_ARGS)

# The supported-versions matrix (README "Supported versions"), not part of `make test`:
# one venv per requirements/matrix/<leg>.txt; MATRIX_LEGS="oldest newest" picks legs.
matrix:
	tools/matrix.sh

changelog-lint: venv
	$(VENV)/bin/antsibull-changelog lint

# Docsite (tools/docs.sh, offline): `make docs` builds .build/docs/html; docs-lint
# (a stage of `make test`) fails on antsibull-docs lint-collection-docs errors.
.PHONY: docs docs-lint
docs: venv collections
	tools/docs.sh build

docs-lint: venv collections
	tools/docs.sh lint

demo: venv collections
	$(PY) -m tests.support.demo

clean:
	rm -rf .build .collections tests/output .pytest_cache .hypothesis .ansible
	find . \( -path ./.venv -o -path ./.git \) -prune -o \
		-name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

# Benchmark, not part of `make test` (docs/performance.md):
#   make bench BENCH_ARGS="--suite scale"   (or --suite latency)
BENCH_ARGS ?=
bench: venv collections
	$(PY) -m bench.run $(BENCH_ARGS)

# IAM policies of a deployment (docs/iam.md), not part of `make test`; the generated
# policies are checked by tests/security (the call table and parliament) in `make pytest`:
#   make iam-policy IAM_ARGS="--source-account 111122223333 --region us-east-1 --target-vpc vpc-... --out iam/"
# Without IAM_ARGS it regenerates the documented example docs/iam-policy.json.
.PHONY: iam-policy
IAM_ARGS ?= --example
iam-policy: venv
	$(PY) -m tools.iam_policy $(IAM_ARGS)

# $(call apt_ensure,TARGET,PACKAGE,COMMANDS): nothing when one of COMMANDS is on PATH, else
# `apt-get install PACKAGE` (as root, or with passwordless sudo), failing with what to do.
define apt_ensure
	@for cmd in $(3); do if command -v $$cmd >/dev/null 2>&1; then exit 0; fi; done; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "make $(1): $(firstword $(3)) is missing and apt-get is not available; install $(2) (the distribution's package)" >&2; \
		exit 1; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else \
		echo "make $(1): $(firstword $(3)) is missing and installing it needs root: sudo apt-get install $(2)" >&2; \
		exit 1; \
	fi; \
	echo "make $(1): installing $(2) with apt-get"; \
	{ $$sudo apt-get update -qq >/dev/null && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null && \
	  command -v $(firstword $(3)) >/dev/null; } || { echo "make $(1): apt-get install $(2) failed (see above)" >&2; exit 1; }
endef

# Headless Chromium for the report tests (tests/report, part of `make pytest`): the
# distribution's package, installed with apt-get when no chromium is on PATH (CI runs
# as root on a clean Debian machine); CHROMIUM=/path/to/binary in the environment
# names another one.  Quiet and idempotent: nothing happens once it is there.
.PHONY: browser report
browser:
ifdef CHROMIUM
	@true
else
	$(call apt_ensure,browser,chromium,chromium chromium-browser)
endif

report: venv collections browser
	$(PYTEST) tests/report $(PYTEST_ARGS)

# bubblewrap for tests/awx (part of `make pytest`): the mirror playbook runs under
# ansible-runner with process isolation (bwrap), as an AWX job.  Installed with
# apt-get when no bwrap is on PATH (CI runs as root on a clean Debian machine).
# Quiet and idempotent, like `make browser`.
.PHONY: bwrap awx
bwrap:
	$(call apt_ensure,bwrap,bubblewrap,bwrap)

awx: venv collections bwrap
	$(PYTEST) tests/awx $(PYTEST_ARGS)
