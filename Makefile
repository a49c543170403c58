# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STATE := .state
DEMO_DB := $(STATE)/demo.duckdb

# No network here and no telemetry wanted anywhere; the first server-less run
# migrates a fresh SQLite database, which takes longer than Prefect's 20 s default.
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 600

.PHONY: install demo test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: install
	mkdir -p $(STATE)
	rm -f $(DEMO_DB) $(DEMO_DB).wal
	$(BIN)/docmill ingest samples/ --db $(DEMO_DB)
	$(BIN)/docmill query --db $(DEMO_DB) \
	  "SELECT source, lang, title, n_paragraphs, n_kept, n_removed, n_duplicate FROM documents ORDER BY source"
	$(BIN)/docmill query --db $(DEMO_DB) "SELECT * FROM boilerplate_by_rule"

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) $(STATE) .pytest_cache .hypothesis *.egg-info
