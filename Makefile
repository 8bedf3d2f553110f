# Two commands for a fresh machine: `make run` and `make test`.
# Both build .venv on first use (and refresh it when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.rvlib-installed
NB    ?= 02_margin_ablation
GRID  ?= lam=0,1,10
ARGS  ?=
export PYTHONHASHSEED := 0

.PHONY: venv run test notebook sweep bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[notebooks,test]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# The main job: the master table, then every numbered notebook with the defaults of its
# parameters cell through the sweep runner (results/<nb>/default/, figures/<nb>/), then
# REPRODUCTION.md. The notebook list is rvlib.nb.params.PARAMS.
run: export RVLIB_QUICK := 0
run: venv
	$(PY) -m rvlib.paper.table
	$(PY) -m rvlib.nb.sweep --defaults
	$(PY) -m rvlib.paper.report

# Unit tests, then every numbered notebook executed by nbval as a quick run (RVLIB_QUICK=1:
# results/<nb>/quick/, never figures/). --nbval-lax: every cell must run and each notebook's
# final assert cells must hold; printed floats are not compared (their last digits differ
# between CPUs), which is why the notebooks are committed without outputs.
test: export RVLIB_QUICK := 1
test: venv
	$(PY) -m pytest tests notebooks/*.ipynb --nbval-lax -p no:cacheprovider

# One notebook through the runner, e.g. make notebook NB=02_margin_ablation ARGS="lam=10 seed=1"
# (-> results/<nb>/lam=10.0_seed=1/); ARGS="lam=10 --set quick=True" for a quick one;
# without ARGS: its defaults into results/<nb>/default/ and figures/<nb>/ (make run's run).
notebook: venv
	$(PY) -m rvlib.nb.sweep $(NB) $(if $(strip $(ARGS)),$(ARGS),--defaults)

# make sweep NB=02_margin_ablation GRID="lam=0,1,10 seed=0,1,2"
sweep: venv
	$(PY) -m rvlib.nb.sweep $(NB) $(GRID)

bench: venv
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) results .pytest_cache
