# Two commands do all the set-up on a fresh machine (Python 3.11): `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export DAGSTER_HOME ?= $(CURDIR)/dagster_home

.PHONY: venv demo test lint ui bench clean

# Bytecode is compiled at install (dependencies by uv, the project's own packages by compileall), so no command
# recompiles modules on start-up, even with PYTHONDONTWRITEBYTECODE set. compileall only rewrites stale files.
PACKAGES := vgos vgos_app recon connectors gl_mappings vgos_assets
BYTECODE := $(BIN)/python -m compileall -q $(PACKAGES)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	@# uv compiles only what it installs; a venv made before this rule gets its dependencies compiled here once
	@# (a few vendored files that are not Python 3.11 source fail to compile: harmless, hence `|| true`).
	-$(BIN)/python -m compileall -q -j0 $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') >/dev/null 2>&1 || true
	$(BYTECODE)
	touch $(STAMP)

venv: $(STAMP)
	$(BYTECODE)

demo: $(STAMP)
	$(BIN)/vgos demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 $(if $(filter true,$(CI)),,-m "not slow")

lint: $(STAMP)
	$(BIN)/ruff check .

# `dagster dev` runs the webserver and the daemon together on the instance under DAGSTER_HOME: the daemon launches
# queued runs (a run started from the UI completes) and ticks the sensors and schedules, which default to RUNNING.
ui: $(STAMP)
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: venv
	$(BIN)/python benchmarks/fold_bench.py

clean:
	rm -rf $(VENV) .vgos
