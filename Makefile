# The local pipeline of sampleproject: environment, model, tests, reports, gate, wheel.
#
#   make              the whole pipeline (`make all`): train, test, analyse, gate, build
#   make test         every test, the slow and real ones included
#   make help         every target, with one line each
#
# Every output is a real file with real prerequisites, so make rebuilds only what is out of
# date: a `make` right after a `make` does nothing. Targets that are not files are .PHONY.

# One shell for the whole recipe line, strict: a failing command in a pipe fails the line.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# A recipe that fails must not leave a half-written target that looks up to date.
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all
MAKEFLAGS += --no-builtin-rules --no-print-directory

# The distribution name equals the import package's name (see setup.py), so paths derive from it.
PACKAGE := sampleproject
PYTHON ?= python3

# The environment. With a virtual environment active (the seed's workflow) we use it;
# otherwise make creates and uses .venv, so a fresh clone needs only python3 and make.
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := .venv
endif
BIN := $(VENV)/bin
# A marker file whose date says when the environment last matched the dependency files.
INSTALLED := $(VENV)/.installed-$(PACKAGE)
# Exact versions of every dependency, for every supported Python (see `make constraints`).
CONSTRAINTS := constraints.txt

VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' $(PACKAGE)/__init__.py)
WHEEL := dist/$(PACKAGE)-$(VERSION)-py3-none-any.whl
SDIST := dist/$(PACKAGE)-$(VERSION).tar.gz

# Reproducible builds: archive timestamps come from the last commit, not the clock, so two
# builds of one commit are byte-identical. Without git (a container build) pass it in.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 315532800)
export SOURCE_DATE_EPOCH

# Inputs, as files, so that each output depends on exactly what it is made from.
SOURCES := $(shell find $(PACKAGE) -name '*.py' -not -path '*/__pycache__/*')
TESTS := $(shell find tests -name '*.py' -not -path '*/__pycache__/*')
TOOLS := $(shell find tools bench -name '*.py' -not -path '*/__pycache__/*' 2>/dev/null)
SCRIPTS := $(wildcard scripts/*)
CONFIG := setup.py pyproject.toml MANIFEST.in

# The model: trained from the data with the training code and configuration, then shipped
# inside the package (package data). Retrained only when one of those changes.
MODEL_DIR := $(PACKAGE)/model
MODEL := $(MODEL_DIR)/zoo.onnx $(MODEL_DIR)/zoo.json
TRAIN_INPUTS := $(PACKAGE)/data/zoo.data $(wildcard $(PACKAGE)/config/*.toml) \
	$(shell find $(PACKAGE)/training -name '*.py' 2>/dev/null) $(PACKAGE)/schema.py \
	$(PACKAGE)/features.py
# The default tracking store is embedded (a SQLite file and a folder here); set
# MLFLOW_TRACKING_URI to log to a tracking server instead.
MLFLOW_TRACKING_URI ?= sqlite:///mlruns/mlflow.db
export MLFLOW_TRACKING_URI

# Reports, in the formats SonarQube imports (paths: sonar-project.properties).
REPORTS := reports
TEST_REPORTS := $(REPORTS)/junit.xml $(REPORTS)/coverage.xml
LINT_REPORTS := $(REPORTS)/pylint.txt $(REPORTS)/pylint.json $(REPORTS)/bandit.json \
	$(REPORTS)/ruff.json $(REPORTS)/ruff-format.txt $(REPORTS)/mypy.txt
GATE := $(REPORTS)/quality-gate.txt

.PHONY: all help install train test system-deps lint reports gate sonar publish bdist_wheel \
	sdist dist constraints clean

all: publish gate bdist_wheel ## the whole pipeline: reports, publish (if configured), gate, wheel

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

# ---------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------

install: $(INSTALLED) ## create or update the environment (pinned dev dependencies)

# pip installs uv (pinned), and uv installs the rest: the same resolution as pip's from the
# same files, about fifteen times faster on a fresh machine (20 s instead of five minutes).
$(INSTALLED): setup.py pyproject.toml requirements.txt $(CONSTRAINTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint $(CONSTRAINTS) pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python --constraint $(CONSTRAINTS) \
		--requirement requirements.txt
	@touch $@

# Pins for every supported Python at once (--universal writes environment markers where
# versions differ), so one file serves the 3.10-3.13 CI matrix, this machine and the image.
constraints: $(INSTALLED) ## re-resolve constraints.txt to the newest allowed versions
	$(BIN)/uv pip compile setup.py --extra dev --extra train --universal \
		--python-version 3.10 --quiet --output-file $(CONSTRAINTS)

# ---------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------

train: $(MODEL) ## train, evaluate, gate and export the model (when its inputs changed)

$(MODEL) &: $(TRAIN_INPUTS) | $(INSTALLED)
	$(BIN)/sampleproject train

# ---------------------------------------------------------------------------------------
# Tests and reports
# ---------------------------------------------------------------------------------------

test: $(INSTALLED) $(MODEL) system-deps ## run every test, the slow and real ones included
	$(BIN)/python -m pytest

system-deps: ## install the Debian packages the real tests need (as root; else list them)
	@tools/install-system-deps.sh

# The report run is the fast suite (-m "not slow") under coverage. A failing test must not
# stop the other reports (a SonarQube server should see the failure), hence `|| true`: the
# gate below reads the results from the reports themselves.
$(TEST_REPORTS) &: $(SOURCES) $(TESTS) $(SCRIPTS) $(MODEL) $(CONFIG) | $(INSTALLED)
	@mkdir -p $(REPORTS)
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -m "not slow" -p no:cacheprovider \
		--junitxml=$(REPORTS)/junit.xml -o junit_family=xunit1 || true
	$(BIN)/coverage xml -o $(REPORTS)/coverage.xml

# pylint writes two reports in one run: the "parseable" text SonarQube imports and JSON with
# the score that the gate reads.
$(REPORTS)/pylint.txt $(REPORTS)/pylint.json &: $(SOURCES) $(TESTS) $(TOOLS) pyproject.toml | $(INSTALLED)
	@mkdir -p $(REPORTS)
	$(BIN)/pylint $(PACKAGE) tests $(TOOLS) \
		--output-format=parseable:$(REPORTS)/pylint.txt,json2:$(REPORTS)/pylint.json || true

$(REPORTS)/bandit.json: $(SOURCES) scripts/pyapp-healthcheck pyproject.toml | $(INSTALLED)
	@mkdir -p $(REPORTS)
	$(BIN)/bandit --quiet -c pyproject.toml -r $(PACKAGE) scripts/pyapp-healthcheck \
		--format json --output $@ || true

$(REPORTS)/ruff.json: $(SOURCES) $(TESTS) $(TOOLS) $(SCRIPTS) pyproject.toml | $(INSTALLED)
	@mkdir -p $(REPORTS)
	$(BIN)/ruff check --quiet --output-format json --output-file $@ . || true

# The formatter's verdict: the gate fails when a file is not as `ruff format` would write it.
$(REPORTS)/ruff-format.txt: $(SOURCES) $(TESTS) $(TOOLS) $(SCRIPTS) pyproject.toml | $(INSTALLED)
	@mkdir -p $(REPORTS)
	$(BIN)/ruff format --check . > $@ 2>&1 || true

$(REPORTS)/mypy.txt: $(SOURCES) $(TESTS) $(TOOLS) $(SCRIPTS) pyproject.toml | $(INSTALLED)
	@mkdir -p $(REPORTS)
	$(BIN)/mypy --no-pretty --show-column-numbers --show-error-codes > $@ || true

lint: $(LINT_REPORTS) ## static analysis reports only (pylint, bandit, ruff, ruff format, mypy)

reports: $(TEST_REPORTS) $(LINT_REPORTS) ## every report, in SonarQube's formats

# The local quality gate: the embedded default when no SonarQube server is there. It reads
# the reports, prints one table and fails the build when a figure misses its threshold.
# Its table is written only when it passes, so a failed gate is checked again next time.
$(GATE): $(TEST_REPORTS) $(LINT_REPORTS) $(MODEL) tools/quality_gate.py | $(INSTALLED)
	$(BIN)/python tools/quality_gate.py --reports $(REPORTS) --model-metadata $(MODEL_DIR)/zoo.json \
		--output $@

gate: $(GATE) ## check the reports against the quality gate

# ---------------------------------------------------------------------------------------
# SonarQube
# ---------------------------------------------------------------------------------------

# Extra scanner properties, e.g. SONAR_ARGS=-Dsonar.scm.disabled=true where there is no .git.
SONAR_ARGS ?=

# `make sonar` publishes on request and says what is missing; `make` publishes only when a
# server is configured, and otherwise says so in one line and goes on.
sonar: reports ## publish the reports to SonarQube (needs SONAR_HOST_URL and SONAR_TOKEN)
	@if [ -z "$${SONAR_HOST_URL:-}" ] || [ -z "$${SONAR_TOKEN:-}" ]; then \
		echo "make sonar: set SONAR_HOST_URL and SONAR_TOKEN to publish (see docs/pipeline.md, SonarQube)" >&2; \
		exit 2; fi
	$(BIN)/pysonar --sonar-host-url="$$SONAR_HOST_URL" --sonar-token="$$SONAR_TOKEN" \
		--sonar-project-version=$(VERSION) --sonar-qualitygate-wait $(SONAR_ARGS)

publish: reports
	@if [ -n "$${SONAR_HOST_URL:-}" ]; then $(MAKE) sonar; \
	else echo "SonarQube: SONAR_HOST_URL is not set, publishing skipped (local gate only)"; fi

# ---------------------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------------------

# The PEP 517 front end, without an isolated build environment: the build backend is the
# pinned setuptools of our environment, which keeps builds reproducible and offline.
# Each build starts from an empty build/ and egg-info: setuptools reuses them, so a deleted
# module would stay in the next wheel. The package's folders are prerequisites because a
# deleted file changes only its folder's date.
PACKAGE_DIRS := $(shell find $(PACKAGE) -type d -not -name __pycache__)
$(WHEEL): $(SOURCES) $(PACKAGE_DIRS) $(SCRIPTS) $(MODEL) $(CONFIG) README.md LICENSE $(PACKAGE)/data/* | $(INSTALLED)
	rm -rf build $(PACKAGE).egg-info
	$(BIN)/python -m build --wheel --no-isolation --outdir dist .

$(SDIST): $(SOURCES) $(PACKAGE_DIRS) $(SCRIPTS) $(MODEL) $(CONFIG) README.md LICENSE $(PACKAGE)/data/* $(TESTS) | $(INSTALLED)
	rm -rf $(PACKAGE).egg-info
	$(BIN)/python -m build --sdist --no-isolation --outdir dist .

bdist_wheel: $(WHEEL) ## build the wheel (dist/*.whl), the model inside
sdist: $(SDIST) ## build the source distribution (dist/*.tar.gz)
dist: bdist_wheel sdist ## both distributions

# What .gitignore lists, but the environments, the MLflow runs and podman's storage
# (tests/test_not_source.py checks it). Byte code is removed from the project's own folders
# only: a search from `.` would also walk into the environment and into podman's image storage
# (.container), whose layers hold __pycache__ folders too, and deleting those corrupts the images.
clean: ## remove what the pipeline made (not the environment, not the MLflow runs)
	rm -rf build dist dist_* *.egg-info $(REPORTS) $(MODEL_DIR) .coverage .coverage.* \
		.pytest_cache .mypy_cache .ruff_cache site
	find $(PACKAGE) scripts tests tools bench -name __pycache__ -prune -exec rm -rf {} +

# ---------------------------------------------------------------------------------------
# Container image
# ---------------------------------------------------------------------------------------

.PHONY: image image-test

# The image's name (the seed's); `make image IMAGE=name` builds another.
IMAGE ?= pyapp

# The image builds with Docker when an engine answers, else with podman (installed from
# Debian's packages if missing); where the default base cannot be pulled, a Python base is
# made from Debian's packages first. Standard library only: no environment needed.
image: ## build the container image (the pipeline runs inside; see Dockerfile)
	$(PYTHON) -m tools.container.engine build --tag $(IMAGE)

# The real check: lint the Dockerfile (a second), build, then run the image as users would:
# help, 45 46, predict, serve over HTTP, health check, /dist, non-root, read-only, SIGTERM.
image-test: | $(INSTALLED) ## lint the Dockerfile, build the image and check it for real
	$(BIN)/hadolint Dockerfile
	$(BIN)/python -m tools.container.check --build --image $(IMAGE)

# ---------------------------------------------------------------------------------------
# Documentation
# ---------------------------------------------------------------------------------------

.PHONY: docs docs-serve

# The site, from mkdocs.yml and docs/ (the benchmark tables in docs/bench included).
SITE := site/index.html
DOCS := mkdocs.yml $(shell find docs -type f 2>/dev/null)
DOCS_ADDR ?= 127.0.0.1:8000
# Material for MkDocs prints a banner about its end of life (May 2027) on every build.
# DOCS_VENDOR_DIR: the vendored Mermaid (below), which tools/mkdocs_hooks.py adds to the site.
MKDOCS = NO_MKDOCS_2_WARNING=1 DOCS_VENDOR_DIR=$(VENDOR) $(BIN)/mkdocs

# Mermaid draws the diagrams in the browser. Material for MkDocs would load it from a CDN;
# the site ships the all-in-one build from Mermaid's npm package instead (tools/npm_asset.py:
# `npm pack`, the archive checked against this checksum, the registry's `integrity`), so the
# pages load nothing from outside. npm caches the archive: later builds need no network.
MERMAID_VERSION := 11.17.2
MERMAID_INTEGRITY := sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/qt5gHO73aCleBBg==
VENDOR := build/vendor/mermaid-$(MERMAID_VERSION)
VENDORED := $(VENDOR)/mermaid.min.js $(VENDOR)/LICENSE

$(VENDORED) &: tools/npm_asset.py
	$(PYTHON) tools/npm_asset.py mermaid@$(MERMAID_VERSION) --integrity $(MERMAID_INTEGRITY) \
		--member package/dist/mermaid.min.js --member package/LICENSE --into $(VENDOR)

# Strict: a broken link or anchor, a page missing from the nav or a missing snippet fails.
# (Not --quiet: it hides the warnings from the strict check too, and the build then passes.)
$(SITE): $(DOCS) $(VENDORED) tools/mkdocs_hooks.py | $(INSTALLED)
	$(MKDOCS) build --strict --site-dir site

docs: $(SITE) ## build the documentation site into site/ (strict link checks)

docs-serve: $(VENDORED) | $(INSTALLED) ## serve the documentation at DOCS_ADDR, rebuilt on every change
	$(MKDOCS) serve --strict --dev-addr $(DOCS_ADDR)

# ---------------------------------------------------------------------------------------
# A fork's first step: `make rename NAME=newname`, defined until it has been used (it
# removes itself then, with its tool and test).
# ---------------------------------------------------------------------------------------

-include tools/rename.mk

# ---------------------------------------------------------------------------------------
# Supply chain
# ---------------------------------------------------------------------------------------

.PHONY: audit secrets

# Known vulnerabilities in every pinned dependency (runtime, train and dev). Where the
# vulnerability service cannot be reached it says so in one line and succeeds; findings fail.
audit: | $(INSTALLED) ## pip-audit over the pinned dependencies (constraints.txt)
	$(BIN)/python tools/audit.py --requirement $(CONSTRAINTS)

# Secrets in the files git tracks. Reviewed false positives live in .secrets.baseline
# (`detect-secrets scan --baseline .secrets.baseline`, then `detect-secrets audit` it); any
# other finding fails.
secrets: | $(INSTALLED) ## scan the repository for secrets (detect-secrets, against .secrets.baseline)
	git ls-files -z | xargs -0 $(BIN)/detect-secrets-hook --baseline .secrets.baseline
