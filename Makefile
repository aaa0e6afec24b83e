# Two commands do all the set-up on a fresh machine with python3 and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test bench bench-compare demo server clean install

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

# The demo server: web UI on http://127.0.0.1:8080, demo users with printed passwords, a model
# waiting for approval, and the emails it sends at /mailbox (state in ./.signoff/).
run: $(STAMP)
	$(BIN)/signoff server --demo

# The scripted dev -> prod story in the terminal (a temporary database).
demo: $(STAMP)
	$(BIN)/signoff demo

test: $(TEST_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run.py

# The HTTP workloads against signoff and an MLflow server (installed on demand under .bench/).
bench-compare: $(STAMP)
	$(BIN)/python bench/compare_mlflow.py

clean:
	rm -rf $(VENV) .signoff build *.egg-info
