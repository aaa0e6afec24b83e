# Two commands do all the set-up on a fresh machine with python3 and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test soak bench bench-compare demo server clean install

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[server]'
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[server,test]'
	touch $(STAMP) $@

install: $(STAMP)

# The main job: first the scripted dev -> prod story in the terminal (it completes, ending with
# the version live in prod), then the demo server: web UI on http://127.0.0.1:8080, demo users
# with printed passwords, a model waiting for approval, and its emails at /mailbox (./.signoff/).
run: $(STAMP)
	$(BIN)/signoff demo
	$(BIN)/signoff server --demo

# The scripted dev -> prod story in the terminal (a temporary database).
demo: $(STAMP)
	$(BIN)/signoff demo

# Database suites run twice: on SQLite (the whole suite) and on a real PostgreSQL server.
PG_SUITES := tests/integration/test_registry.py tests/integration/test_promotion_policies.py \
	tests/integration/test_lifecycle.py tests/integration/test_event_rules.py \
	tests/integration/test_tokens.py tests/e2e/test_api_endpoints.py tests/e2e/test_api_auth.py \
	tests/e2e/test_sdk_contract.py

test: $(TEST_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	SIGNOFF_TEST_DB=postgres $(BIN)/python -m pytest $(PG_SUITES)

# The multi-process soak on PostgreSQL (issue 9), longer than in `make test` (30 s there).
SOAK_SECONDS ?= 300
soak: $(TEST_STAMP)
	SIGNOFF_SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m pytest -m soak -s -p no:cacheprovider \
		-o timeout=$$(( $(SOAK_SECONDS) + 600 )) tests/integration/test_soak_postgres.py

# Benchmarks print JSON, one key per database: SQLite, then a PostgreSQL server the run starts
# from the Debian binaries (or SIGNOFF_BENCH_POSTGRES_URL). DB=sqlite or DB=postgres runs one.
DB ?= all

bench: $(STAMP)
	@SIGNOFF_BENCH_DB=$(DB) $(BIN)/python bench/run.py

# The HTTP workloads against signoff and an MLflow server (installed on demand under .bench/).
bench-compare: $(STAMP)
	@SIGNOFF_BENCH_DB=$(DB) $(BIN)/python bench/compare_mlflow.py

clean:
	rm -rf $(VENV) .signoff build *.egg-info
