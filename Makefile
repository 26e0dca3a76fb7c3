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
VENV_221      := $(WORK)/venv-2.21
EDA_VENV      := $(WORK)/eda-venv
PYTHON        ?= $(shell command -v python3.11 || command -v python3)
# ansible-test needs the real interpreter path: with HOME redirected, pyenv shims would not resolve.
PYTHON_REAL   := $(shell $(PYTHON) -c 'import os, sys; print(os.path.realpath(sys.executable))')
PY_VERSION    := 3.11
# ansible-core 2.21 needs Python 3.12 or newer on the controller.  Its toolchain (.work/venv-2.21: integration, with
# the controller and the modules on 3.12) is made with Python 3.12, and ansible-test runs its sanity and unit tests
# in virtualenvs of Python 3.13, the newest Python that 2.21 supports and this machine has: so that 3.11, 3.12 and
# 3.13 are each run.  tools/find_python.sh finds them (pythonX.Y on PATH, else pyenv), with the user's HOME; set
# PYTHON_312 / PYTHON_313 to choose others.  Without them those checks do not run, and make test says so (with
# CI=true it fails instead).
USER_HOME     := $(HOME)
PYTHON_312    ?= $(shell HOME="$(USER_HOME)" $(ROOT)/tools/find_python.sh 3.12)
PYTHON_313    ?= $(shell HOME="$(USER_HOME)" $(ROOT)/tools/find_python.sh 3.13)
export PYTHON_312 PYTHON_313
MISSING_PYTHONS := $(strip $(if $(PYTHON_312),,3.12) $(if $(PYTHON_313),,3.13))
SKIPPED       := $(WORK)/skipped.txt
MISSING_TEXT  := Python $(subst $() , and ,$(MISSING_PYTHONS))
# `$(call not_run,<check>)`: say that <check> cannot run, and record it for the summary; with CI=true, fail.
not_run        = echo "NOT RUN: $(1): needs $(MISSING_TEXT), not found on this machine (looked for pythonX.Y on PATH and with pyenv)"; \
                 if [ "$(CI)" = true ]; then echo "CI=true: a check that cannot run fails the run"; exit 1; fi; \
                 mkdir -p $(WORK); echo "$(1) (needs $(MISSING_TEXT))" >> $(SKIPPED)
# `@$(call need_pythons,<check>); <commands>`: run <commands> only when Python 3.12 and 3.13 are there.
need_pythons   = if [ -n "$(MISSING_PYTHONS)" ]; then $(call not_run,$(1)); exit 0; fi
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
SOURCES       := $(shell find galaxy.yml README.md CHANGELOG.rst LICENSE requirements.txt bindep.txt meta plugins roles tests docs extensions playbooks \
                   changelogs examples -type f -not -path 'tests/output/*' -not -name '*.pyc' 2>/dev/null)

# Every tool (pip, ansible-galaxy, ansible-test, ansible-lint) keeps its caches under .work/home, not in ~.
export HOME := $(AT_HOME)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
# The tools call each other (antsibull-docs runs ansible-doc, galaxy-importer runs ansible-lint): use .venv's.
# .work/python-bin has python3.12 and python3.13 (links to what tools/find_python.sh found): ansible-test looks
# for pythonX.Y on PATH for the virtualenvs of a Python other than its own, and a pyenv shim there would fail.
PY_BIN        := $(WORK)/python-bin
export PATH := $(VENV)/bin:$(PY_BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export ANSIBLE_NOCOLOR := 1

.PHONY: help demo test setup venv venv-2.16 venv-2.21 pythons build install sanity sanity-2.19 sanity-2.16 sanity-2.21 \
        units units-2.21 units-emulator integration integration-2.16 integration-2.21 reliability examples lint ansible-lint \
        changelog-lint docs-lint action-groups galaxy-importer ee-check emulator emulator-start emulator-stop bench \
        changelog clean eda venv-eda

help:
	@echo "make demo         start the emulator and run examples/demo.yml (starts a job and awaits it)"
	@echo "make test         every check: sanity (2.16, 2.21), unit and integration (2.19, 2.21), emulator, lint, docs"
	@echo "make emulator     run the Veeam emulator in the foreground (EM :9398, VB365 :4443, VBR :9419)"
	@echo "make build        build the collection tarball into .work/default/dist/"
	@echo "make install      build it and install it into .work/default/collections (what every check uses)"
	@echo "make eda          the event source and the example rulebook under ansible-rulebook (Java 17), against the emulator"
	@echo "make sanity | units | integration | reliability | examples | lint | bench | changelog | clean"
	@echo "make sanity-2.16 | sanity-2.19 | sanity-2.21 | units-2.21 | integration-2.16 | integration-2.21   one release"

# ---------------------------------------------------------------------------------------------- setup
$(VENV)/.stamp: tools/requirements-dev.txt tools/constraints-dev.txt tests/emulator/requirements.txt
	@test -x $(VENV)/bin/python || $(PYTHON_REAL) -m venv $(VENV)
	@echo "== installing pinned tools into .venv"
	@$(PIP) install -r tools/requirements-dev.txt -r tests/emulator/requirements.txt -c tools/constraints-dev.txt
	@touch $@

# ansible-core 2.16 (what AAP 2.5 execution environments carry), with what the integration targets need.
$(VENV_216)/.stamp: tools/requirements-2.16.txt tests/integration/requirements.txt
	@test -x $(VENV_216)/bin/python || $(PYTHON_REAL) -m venv $(VENV_216)
	@echo "== installing ansible-core 2.16 into .work/venv-2.16"
	@$(VENV_216)/bin/python -m pip --disable-pip-version-check -q install -r tools/requirements-2.16.txt \
	  -r tests/integration/requirements.txt
	@touch $@

$(PY_BIN)/.stamp: $(MAKEFILE_LIST)
	@mkdir -p $(PY_BIN)
	@ln -sf $(PYTHON_312) $(PY_BIN)/python3.12 && ln -sf $(PYTHON_313) $(PY_BIN)/python3.13
	@touch $@

# ansible-core 2.21 on Python 3.12, with what the integration targets need (they run with --local in it).
$(VENV_221)/.stamp: tools/requirements-2.21.txt tests/integration/requirements.txt | $(PY_BIN)/.stamp
	@$(VENV_221)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null || \
	  { rm -rf $(VENV_221) && $(PYTHON_312) -m venv $(VENV_221); }
	@echo "== installing ansible-core 2.21 into .work/venv-2.21 (Python 3.12)"
	@$(VENV_221)/bin/python -m pip --disable-pip-version-check -q install -r tools/requirements-2.21.txt \
	  -r tests/integration/requirements.txt
	@touch $@

venv: $(VENV)/.stamp
venv-2.16: $(VENV_216)/.stamp
venv-2.21: pythons
	@if [ -z "$(MISSING_PYTHONS)" ]; then $(MAKE) -s --no-print-directory $(VENV_221)/.stamp; fi

# Say which Pythons ansible-core 2.21 will run on, or that they are missing (with CI=true: fail at once).
pythons:
	@if [ -z "$(MISSING_PYTHONS)" ]; then echo "== Python 3.12: $(PYTHON_312), Python 3.13: $(PYTHON_313)"; \
	 else echo "== Python $(subst $() , and ,$(MISSING_PYTHONS)) not found: the ansible-core 2.21 checks (sanity, unit tests, integration) cannot run here"; \
	   if [ "$(CI)" = true ]; then echo "CI=true: failing, so that no check is silently skipped (install them, e.g. pyenv install 3.12 3.13)"; exit 1; fi; fi

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

# One pip bootstrap per pinned pip (23.1.2 for 2.16, 24.2 for 2.19, 25.2 for 2.21).
$(AT_HOME)/.stamp-bootstrap: $(VENV)/.stamp $(VENV_216)/.stamp tools/ansible_test_offline.py
	@mkdir -p $(AT_HOME)
	@$(VENV)/bin/python tools/ansible_test_offline.py >/dev/null
	@$(VENV_216)/bin/python tools/ansible_test_offline.py >/dev/null
	@touch $@

$(AT_HOME)/.stamp-bootstrap-2.21: $(VENV_221)/.stamp tools/ansible_test_offline.py
	@mkdir -p $(AT_HOME)
	@$(VENV_221)/bin/python tools/ansible_test_offline.py >/dev/null
	@touch $@

setup: $(VENV)/.stamp $(VENV_216)/.stamp $(AT_HOME)/.stamp-bootstrap $(COLL_DIR)/MANIFEST.json
	@if [ -z "$(MISSING_PYTHONS)" ]; then $(MAKE) -s --no-print-directory $(VENV_221)/.stamp $(AT_HOME)/.stamp-bootstrap-2.21; fi

# ---------------------------------------------------------------------------------------------- checks
# Sanity runs on the source tree (tools/sanity.sh), as `ansible-test sanity` in a clone does: the oldest and the
# newest ansible-core at once (2.19, today's toolchain, sits between them: `make sanity-2.19`).
SANITY_216    := $(VENV_216):$(PY_VERSION):$(PYTHON_REAL)
SANITY_219    := $(VENV):$(PY_VERSION):$(PYTHON_REAL)
SANITY_221    := $(VENV_221):3.13:$(PYTHON_313)

sanity: setup
	@if [ -n "$(MISSING_PYTHONS)" ]; then $(call not_run,sanity on ansible-core 2.21); fi; \
	 $(ROOT)/tools/sanity.sh $(WORK)/$(WORKSET) $(ROOT) -- $(SANITY_216) $(if $(MISSING_PYTHONS),,$(SANITY_221))

sanity-2.19: setup
	@$(ROOT)/tools/sanity.sh $(WORK)/$(WORKSET) $(ROOT) -- $(SANITY_219)

sanity-2.16: setup
	@$(ROOT)/tools/sanity.sh $(WORK)/$(WORKSET) $(ROOT) -- $(SANITY_216)

sanity-2.21: setup
	@$(call need_pythons,sanity on ansible-core 2.21); $(ROOT)/tools/sanity.sh $(WORK)/$(WORKSET) $(ROOT) -- $(SANITY_221)

units: setup
	@cd $(COLL_DIR) && $(VENV)/bin/ansible-test units --venv --requirements $(AT_OPTS)

# The unit tests on ansible-core 2.21 and Python 3.13, in a copy of the installed collection (units on 2.19 may
# run at the same time in the installed tree).
UNITS_221     := $(WORK)/$(WORKSET)/units-2.21/ansible_collections/backupops/veeam
units-2.21: setup
	@$(call need_pythons,unit tests on ansible-core 2.21); \
	 rm -rf $(UNITS_221) && mkdir -p $(dir $(UNITS_221)) && cp -a $(COLL_DIR) $(UNITS_221) && rm -rf $(UNITS_221)/tests/output && \
	 cd $(UNITS_221) && $(VENV_221)/bin/ansible-test units --venv --requirements --python 3.13 \
	   --python-interpreter $(PYTHON_313) --color no

units-emulator: setup
	@cd $(ROOT) && PYTHONPATH=tests $(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/emulator/tests

# Integration: every target against the emulator (four groups at once, each with its own emulator on free ports).
# `make integration TARGETS="veeam_em_job_start role_job_run"` runs just those.
integration: setup
	@$(ROOT)/tools/integration.sh $(VENV) $(WORK)/$(WORKSET) $(COLL_DIR) $(VENV)/bin/python $(TARGETS)

# On ansible-core 2.16, as an AAP 2.5 execution environment runs the modules: the adhoc target (credentials
# injected into the environment the way AWX injects those of the collection's credential types).
TARGETS_216   ?= adhoc
integration-2.16: setup
	@AT_PYTHON=$(PY_VERSION) $(ROOT)/tools/integration.sh $(VENV_216) $(WORK)/$(WORKSET)/core-2.16 $(COLL_DIR) \
	  $(VENV)/bin/python $(TARGETS_216)

# One integration target on ansible-core 2.21, the controller and the modules on Python 3.12 (the emulator runs
# with .venv's Python).  `make integration-2.21 TARGETS_221="..."` runs others.
TARGETS_221   ?= veeam_em_job_start
integration-2.21: setup
	@$(call need_pythons,integration on ansible-core 2.21); \
	 AT_PYTHON=3.12 $(ROOT)/tools/integration.sh $(VENV_221) $(WORK)/$(WORKSET)/core-2.21 $(COLL_DIR) \
	   $(VENV)/bin/python $(TARGETS_221)

# The reliability and security suite (faults, bad input, secrets at -vvvv, TLS): pytest driving ansible against
# emulators it starts and restarts itself.
reliability: setup
	@cd $(ROOT) && PYTHONPATH=tests $(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/reliability

# Event-Driven Ansible: the event source poll by poll, and at the same time the example rulebook under
# ansible-rulebook (from .work/eda-venv, made from tools/requirements-eda.txt), each against its own emulator.
# ansible-rulebook needs Java 17: without it that check does not run, and make test says so (with CI=true it fails).
eda: setup
	@SKIPPED_FILE=$(SKIPPED) $(ROOT)/tools/eda.sh $(VENV)/bin/python $(PYTHON_REAL) $(EDA_VENV) $(COLLECTIONS)

venv-eda:
	@$(ROOT)/tools/eda.sh --venv-only $(VENV)/bin/python $(PYTHON_REAL) $(EDA_VENV) $(COLLECTIONS)

# What a newcomer copies, as printed (tools/doc_commands.py): every playbook in examples/ (the demo is one of them),
# for real and in check mode; every command line of README.md, docs/ and the examples' headers; every module's
# EXAMPLES.  Four emulators on free ports, each taking the next piece of work when it is free.
DOC_EMUS      := $(foreach n,1 2 3 4,$(WORK)/$(WORKSET)/emulator-doc$(n))
examples: setup
	@mkdir -p $(LOGS); for d in $(DOC_EMUS); do EMULATOR_EM_PORT=0 EMULATOR_M365_PORT=0 EMULATOR_VBR_PORT=0 \
	   $(ROOT)/tools/emulator_ctl.sh start $$d $(VENV)/bin/python >/dev/null || exit 1; done
	@rc=0; $(VENV)/bin/python $(ROOT)/tools/doc_commands.py run $(foreach d,$(DOC_EMUS),$(d)/endpoints.json) \
	    --log $(LOGS)/doc_commands.log || rc=$$?; \
	  for d in $(DOC_EMUS); do $(ROOT)/tools/emulator_ctl.sh stop $$d; done; exit $$rc

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
# ansible-core 2.21 (Python 3.12 and 3.13) adds its sanity run beside 2.16's and its unit tests to the first
# stage; one integration target on 2.21 and the adhoc target on 2.16 make a third stream of the second (they
# mostly wait on the emulator's job runs), and Event-Driven Ansible (make eda) after them in that stream.
test:
	@rm -f $(SUMMARY) $(SKIPPED); mkdir -p $(LOGS)
	@$(MAKE) --no-print-directory pythons
	@$(MAKE) -j4 --no-print-directory venv venv-2.16 venv-2.21 venv-eda
	@$(MAKE) --no-print-directory setup
	@$(ROOT)/tools/stage.sh "$(MAKE)" \
	  "sanity (2.16 and 2.21)=sanity" \
	  "unit tests=units,unit tests (2.21)=units-2.21,emulator tests=units-emulator,ansible-lint (production)=ansible-lint,antsibull-changelog lint=changelog-lint,antsibull-docs lint=docs-lint,action groups complete=action-groups,galaxy-importer=galaxy-importer,ansible-builder create=ee-check"
	@$(ROOT)/tools/stage.sh "$(MAKE)" \
	  "integration (emulator)=integration" \
	  "reliability and security=reliability,examples + doc commands + EXAMPLES=examples" \
	  "integration (2.21)=integration-2.21,integration (2.16)=integration-2.16,event-driven (ansible-rulebook)=eda"
	@$(ROOT)/tools/summary.sh $(SUMMARY) $(SKIPPED)

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
