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

.PHONY: install demo test bench clean server stop-server browser

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: install
	@mkdir -p $(STATE)
	@rm -f $(DEMO_DB) $(DEMO_DB).wal
	@echo "== docmill ingest samples/ --db $(DEMO_DB)"
	@$(BIN)/docmill ingest samples/ --db $(DEMO_DB)
	@echo "== documents"
	@$(BIN)/docmill query --db $(DEMO_DB) "SELECT regexp_extract(source, '[^/]+$$') AS file, lang, \
	  n_kept AS kept, n_removed AS removed, n_duplicate AS dup, left(title, 48) AS title FROM documents ORDER BY file"
	@echo "== why did these lines go? (SELECT * FROM removals)"
	@$(BIN)/docmill query --db $(DEMO_DB) "SELECT rule, position, left(text, 60) AS text FROM removals ORDER BY source, position"

test: install browser
	$(BIN)/python -m pytest

# The UI test drives Debian's Chromium (test tools' own browser downloads fail here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing chromium (apt-get)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing and this is not root: install Debian's chromium for the UI test"; fi; }

# A Prefect server with its UI on 127.0.0.1:4200, its home in .state/prefect.
server: install
	$(BIN)/docmill server start --state $(STATE)

stop-server:
	$(BIN)/docmill server stop --state $(STATE)

bench: install
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) $(STATE) .pytest_cache .hypothesis *.egg-info
