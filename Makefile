# backupops.veeam: the two commands (`make demo`, `make test`) and the smaller targets they are made of.
#
# Everything this Makefile creates lives in .venv/ (the tools) and .work/ (builds, the installed collection,
# ansible-test's caches and virtualenvs, logs, emulator state); both are git-ignored.  Nothing is written to
# your home directory: ansible-test runs with HOME=.work/home.

SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT          := $(abspath .)
WORK          := $(ROOT)/.work
VENV          := $(ROOT)/.venv
VENV_216      := $(WORK)/venv-2.16
PYTHON        ?= $(shell command -v python3.11 || command -v python3)
# ansible-test needs the real interpreter path: with HOME redirected, pyenv shims would not resolve.
PYTHON_REAL   := $(shell $(PYTHON) -c 'import os, sys; print(os.path.realpath(sys.executable))')
PY_VERSION    := 3.11
AT_HOME       := $(WORK)/home
# WORKSET lets two checkouts' worth of builds live side by side (e.g. `make sanity-2.19 WORKSET=mine`).
WORKSET       ?= default
DIST          := $(WORK)/$(WORKSET)/dist
COLLECTIONS   := $(WORK)/$(WORKSET)/collections
COLL_DIR      := $(COLLECTIONS)/ansible_collections/backupops/veeam
LOGS          := $(WORK)/logs
EMU_DIR       := $(WORK)/$(WORKSET)/emulator
SUMMARY       := $(WORK)/summary.txt
VERSION       := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL       := $(DIST)/backupops-veeam-$(VERSION).tar.gz
PIP           := $(VENV)/bin/python -m pip --disable-pip-version-check -q
STEP          := $(ROOT)/tools/step.sh
AT_OPTS       := --python $(PY_VERSION) --python-interpreter $(PYTHON_REAL) --color no
SOURCES       := $(shell find galaxy.yml README.md CHANGELOG.rst LICENSE requirements.txt bindep.txt meta plugins roles tests docs \
                   changelogs examples -type f -not -path 'tests/output/*' -not -name '*.pyc' 2>/dev/null)

# Every tool (pip, ansible-galaxy, ansible-test, ansible-lint) keeps its caches under .work/home, not in ~.
export HOME := $(AT_HOME)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
# The tools call each other (antsibull-docs runs ansible-doc, galaxy-importer runs ansible-lint): use .venv's.
export PATH := $(VENV)/bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export ANSIBLE_NOCOLOR := 1

.PHONY: help demo test setup venv venv-2.16 build install sanity sanity-2.19 sanity-2.16 units units-emulator \
        integration reliability examples lint ansible-lint changelog-lint docs-lint action-groups galaxy-importer ee-check \
        emulator emulator-start emulator-stop bench changelog clean

help:
	@echo "make demo         start the emulator and run examples/demo.yml (starts a job and awaits it)"
	@echo "make test         every check: sanity (2.19, 2.16), unit, emulator, integration, lint, docs"
	@echo "make emulator     run the Veeam emulator in the foreground (EM :9398, VB365 :4443, VBR :9419)"
	@echo "make build        build the collection tarball into .work/default/dist/"
	@echo "make install      build it and install it into .work/default/collections (what every check uses)"
	@echo "make sanity | units | integration | reliability | examples | lint | bench | changelog | clean"

# ---------------------------------------------------------------------------------------------- setup
$(VENV)/.stamp: tools/requirements-dev.txt tools/constraints-dev.txt tests/emulator/requirements.txt
	@test -x $(VENV)/bin/python || $(PYTHON_REAL) -m venv $(VENV)
	@echo "== installing pinned tools into .venv"
	@$(PIP) install -r tools/requirements-dev.txt -r tests/emulator/requirements.txt -c tools/constraints-dev.txt
	@touch $@

$(VENV_216)/.stamp: tools/requirements-2.16.txt
	@test -x $(VENV_216)/bin/python || $(PYTHON_REAL) -m venv $(VENV_216)
	@echo "== installing ansible-core 2.16 into .work/venv-2.16"
	@$(VENV_216)/bin/python -m pip --disable-pip-version-check -q install -r tools/requirements-2.16.txt
	@touch $@

venv: $(VENV)/.stamp
venv-2.16: $(VENV_216)/.stamp

# Build the collection the way a user gets it, and install that tarball: every check runs against it.
$(TARBALL): $(VENV)/.stamp $(SOURCES)
	@mkdir -p $(DIST)
	@rm -f $(DIST)/*.tar.gz
	@$(VENV)/bin/ansible-galaxy collection build --force --output-path $(DIST) . >/dev/null
	@echo "== built $(notdir $@)"

$(COLL_DIR)/MANIFEST.json: $(TARBALL)
	@rm -rf $(COLL_DIR)
	@$(VENV)/bin/ansible-galaxy collection install --force --no-deps -p $(COLLECTIONS) $(TARBALL) >/dev/null
	@# ansible-test lists content with git when it finds a .git above it, and would find this repository's,
	@# where .work/ is ignored.  Give the installed tree a repository of its own (nothing committed).
	@cd $(COLL_DIR) && git init -q && printf '/tests/output/\n' > .gitignore
	@echo "== installed into $(COLLECTIONS)"

build: $(TARBALL)
install: $(COLL_DIR)/MANIFEST.json

$(AT_HOME)/.stamp-bootstrap: $(VENV)/.stamp $(VENV_216)/.stamp tools/ansible_test_offline.py
	@mkdir -p $(AT_HOME)
	@$(VENV)/bin/python tools/ansible_test_offline.py >/dev/null
	@$(VENV_216)/bin/python tools/ansible_test_offline.py >/dev/null
	@touch $@

setup: $(VENV)/.stamp $(VENV_216)/.stamp $(AT_HOME)/.stamp-bootstrap $(COLL_DIR)/MANIFEST.json

# ---------------------------------------------------------------------------------------------- checks
# Both ansible-core releases at once, each on its own copy of the installed collection.
sanity: setup
	@$(ROOT)/tools/sanity.sh $(WORK)/$(WORKSET) $(COLL_DIR) --venv $(AT_OPTS) -- $(VENV) $(VENV_216)

sanity-2.19: setup
	@$(ROOT)/tools/sanity.sh $(WORK)/$(WORKSET) $(COLL_DIR) --venv $(AT_OPTS) -- $(VENV)

sanity-2.16: setup
	@$(ROOT)/tools/sanity.sh $(WORK)/$(WORKSET) $(COLL_DIR) --venv $(AT_OPTS) -- $(VENV_216)

units: setup
	@cd $(COLL_DIR) && $(VENV)/bin/ansible-test units --venv --requirements $(AT_OPTS)

units-emulator: setup
	@cd $(ROOT) && PYTHONPATH=tests $(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/emulator/tests

# Integration: every target against the emulator (three groups at once, each with its own emulator on free ports).
# `make integration TARGETS="veeam_em_job_start role_job_run"` runs just those.
integration: setup
	@$(ROOT)/tools/integration.sh $(VENV) $(WORK)/$(WORKSET) $(COLL_DIR) $(VENV)/bin/python $(TARGETS)

# The reliability and security suite (faults, bad input, secrets at -vvvv, TLS): pytest driving ansible against
# emulators it starts and restarts itself.
reliability: setup
	@cd $(ROOT) && PYTHONPATH=tests $(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/reliability

# Every playbook in examples/ against the emulator (the demo is one of them).
examples: setup
	@$(MAKE) --no-print-directory emulator-start
	@rc=0; $(ROOT)/tools/run_examples.sh $(EMU_DIR)/endpoints.json $(VENV) $(COLLECTIONS) || rc=$$?; \
	  $(MAKE) --no-print-directory emulator-stop; exit $$rc

# Benchmarks are not tests: `make test` does not run them.
bench: setup
	@cd $(ROOT) && PYTHONPATH=tests $(VENV)/bin/python benchmarks/run.py

lint: ansible-lint changelog-lint docs-lint action-groups galaxy-importer ee-check

ansible-lint: setup
	@$(VENV)/bin/ansible-lint --profile production --nocolor -q

changelog-lint: setup
	@$(VENV)/bin/antsibull-changelog lint
	@$(ROOT)/tools/changelog.sh $(VENV) check

# Regenerate CHANGELOG.rst from changelogs/fragments/ (run after adding a fragment; `make test` checks it).
changelog: venv
	@$(ROOT)/tools/changelog.sh $(VENV) generate

docs-lint: setup
	@cd $(COLL_DIR) && $(VENV)/bin/antsibull-docs lint-collection-docs --plugin-docs --skip-rstcheck .

action-groups: setup
	@$(VENV)/bin/python tools/check_action_groups.py

galaxy-importer: setup
	@$(VENV)/bin/python tools/galaxy_import_check.py $(TARBALL)

ee-check: setup
	@$(ROOT)/tools/ee_check.sh $(VENV) $(COLLECTIONS) $(TARBALL) $(WORK)

# The checks run in two stages of streams side by side (tools/stage.sh): a check that waits (on pip, on the
# emulator's job runs) leaves a core idle that another uses.  Each check's log is shown when its stage ends.
test:
	@$(MAKE) -j2 --no-print-directory venv venv-2.16
	@$(MAKE) --no-print-directory setup
	@rm -f $(SUMMARY); mkdir -p $(LOGS)
	@$(ROOT)/tools/stage.sh "$(MAKE)" \
	  "sanity (2.19 and 2.16)=sanity" \
	  "unit tests=units,emulator tests=units-emulator,ansible-lint (production)=ansible-lint,antsibull-changelog lint=changelog-lint,antsibull-docs lint=docs-lint,action groups complete=action-groups,galaxy-importer=galaxy-importer,ansible-builder create=ee-check"
	@$(ROOT)/tools/stage.sh "$(MAKE)" \
	  "integration (emulator)=integration" \
	  "reliability and security=reliability,examples/ playbooks=examples"
	@$(ROOT)/tools/summary.sh $(SUMMARY)

# ---------------------------------------------------------------------------------------------- emulator
emulator: venv
	@PYTHONPATH=tests $(VENV)/bin/python -m emulator

emulator-start: venv
	@$(ROOT)/tools/emulator_ctl.sh start $(EMU_DIR) $(VENV)/bin/python

emulator-stop:
	@$(ROOT)/tools/emulator_ctl.sh stop $(EMU_DIR)

# ---------------------------------------------------------------------------------------------- demo
demo: setup
	@EMULATOR_EM_PORT=$${EMULATOR_EM_PORT:-0} EMULATOR_M365_PORT=$${EMULATOR_M365_PORT:-0} \
	  EMULATOR_VBR_PORT=$${EMULATOR_VBR_PORT:-0} $(MAKE) --no-print-directory emulator-start
	@rc=0; $(ROOT)/tools/demo.sh $(EMU_DIR)/endpoints.json $(VENV) $(COLLECTIONS) || rc=$$?; \
	  $(MAKE) --no-print-directory emulator-stop; exit $$rc

clean:
	@$(MAKE) --no-print-directory emulator-stop 2>/dev/null || true
	rm -rf $(WORK) tests/output
