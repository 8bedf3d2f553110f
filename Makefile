# Two commands for a fresh machine: `make run` and `make test`.
# Both build .venv on first use (and refresh it when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.rvlib-installed
export PYTHONHASHSEED := 0

.PHONY: venv run test bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[notebooks,test]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

run: venv
	$(PY) -m rvlib.paper_table

test: venv
	$(PY) -m pytest tests

bench: venv
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) results .pytest_cache
