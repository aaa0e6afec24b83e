# Two commands do all the set-up on a fresh machine with python3 and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test soak bench bench-compare bench-scale demo server clean install mlflow-server

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Byte-compiled up front as a wheel install would be: with PYTHONDONTWRITEBYTECODE set (it is on
# many CI images) every start would otherwise compile the package again (~0.3 s of start-up).
# `make run` is the demo (server + inference + demo extras); see pyproject.toml for the extras.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[demo]'
	$(BIN)/python -m compileall -q src/signoff
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[demo,test]'
	$(BIN)/python -m compileall -q src/signoff
	touch $(STAMP) $@

install: $(STAMP)

# A real MLflow tracking server for the MLflow bridge's tests and benchmark, in its own venv (the
# full server's Flask/gunicorn stack stays out of signoff's). tests/fixtures/mlflow_server.py finds it.
MLFLOW_VENV := .venv-mlflow
MLFLOW_SPEC ?= mlflow==3.17.2
MLFLOW_STAMP := $(MLFLOW_VENV)/.installed

$(MLFLOW_STAMP): Makefile
	$(PY) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/pip install -q --upgrade pip
	$(MLFLOW_VENV)/bin/pip install -q '$(MLFLOW_SPEC)'
	touch $@

mlflow-server: $(MLFLOW_STAMP)

# The main job: first the scripted dev -> prod story in the terminal (it completes, ending with
# the version live in prod), then the demo server: web UI on http://127.0.0.1:8080, demo users
# with printed passwords, a model waiting for approval, and its emails at /mailbox (./.signoff/).
run: $(STAMP)
	$(BIN)/signoff demo
	$(BIN)/signoff server --demo

# The scripted dev -> prod story in the terminal (a temporary database).
demo: $(STAMP)
	$(BIN)/signoff demo

# The suite runs twice: first all of it on SQLite, then with SIGNOFF_TEST_DB=postgres
# every test that uses a database, on a real PostgreSQL server (processes the tests start get
# its URL too). tests/conftest.py leaves out of the second pass only what it cannot vary:
# tests/unit (pure; refused a database), tests marked `sqlite_only` (the demo's SQLite file,
# the SQLite writer gate)
# and tests that start PostgreSQL themselves (they ran on it in the first pass).
# Serially the two passes take ~8 + ~8 min on 2 cores, over the 13 min we allow CI; so both run
# on TEST_WORKERS pytest-xdist workers: ~3.5 + ~3.5 min on a quiet 2-core machine (~4.5 + ~5
# with other work on it). `--dist loadfile` keeps each file on one worker, in order, so its
# module- and class-scoped servers and databases are shared as written, and the timing-
# sensitive tests (leases, killed workers) passed in every run. Each worker starts its own
# PostgreSQL cluster. TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 2
XDIST = -n $(TEST_WORKERS) --dist loadfile

test: $(TEST_STAMP) $(MLFLOW_STAMP)
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)
	SIGNOFF_TEST_DB=postgres $(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# The multi-process soak on PostgreSQL, longer than in `make test` (30 s there).
SOAK_SECONDS ?= 300
soak: $(TEST_STAMP)
	SIGNOFF_SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m pytest -m soak -s -p no:cacheprovider \
		-o timeout=$$(( $(SOAK_SECONDS) + 600 )) tests/integration/test_soak_postgres.py

# Benchmarks print JSON, one key per database: SQLite, then a PostgreSQL server the run starts
# from the Debian binaries (or SIGNOFF_BENCH_POSTGRES_URL). DB=sqlite or DB=postgres runs one.
DB ?= all
# QUICK=1: a short run (2 s loads, fewer seeded rows) to check that every figure arrives (bench/quick.py).
QUICK ?=

bench: $(TEST_STAMP) $(MLFLOW_STAMP)  # the aws suite drives boto3 against moto (test extras)
	@$(BIN)/python -m compileall -q src/signoff  # start-up is measured as installed (see $(STAMP))
	@SIGNOFF_BENCH_DB=$(DB) SIGNOFF_BENCH_QUICK=$(QUICK) $(BIN)/python bench/run.py

# The HTTP workloads against signoff and an MLflow server (installed on demand under .bench/).
bench-compare: $(STAMP)
	@$(BIN)/python -m compileall -q src/signoff
	@SIGNOFF_BENCH_DB=$(DB) SIGNOFF_BENCH_QUICK=$(QUICK) $(BIN)/python bench/compare_mlflow.py

# The capacity estimate's registry on PostgreSQL: 1,000,000 versions over 10,000 models, bulk-seeded;
# resolve, register, pages, `audit verify`, database size (bench/scale_million.py). Not in `make
# bench`: seeding and verifying take several minutes and ~3.5 GB of disk.
bench-scale: $(TEST_STAMP)
	@$(BIN)/python -m compileall -q src/signoff
	@$(BIN)/python bench/scale_million.py

clean:
	rm -rf $(VENV) $(MLFLOW_VENV) .signoff build *.egg-info
