# tailorcrm: `make demo` and `make test` are all a fresh machine needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tailorcrm demo

# Runs the whole suite; starts a throwaway PostgreSQL when TAILORCRM_TEST_POSTGRES_URL is unset
# and the server binaries are installed (see scripts/with-postgres.sh).
test: $(STAMP)
	scripts/with-postgres.sh $(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

# scikit-surprise is a peer of the rating benchmark only; it builds from source, so a failed
# build skips that peer (the benchmark says so) instead of failing the run.
bench: $(STAMP)
	-$(BIN)/pip install -q scikit-surprise
	scripts/with-postgres.sh $(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tailorcrm.db* .tailorcrm
