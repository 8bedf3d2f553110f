# Two commands for a fresh machine: `make run` and `make test`.
# Both build .venv on first use (and refresh it when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.rvlib-installed
NOTEBOOKS := 01_train_baselines 02_margin_ablation 03_hebbian_vs_sgd \
             04_hardware_constraints 05_noise_robustness
NB    ?= 02_margin_ablation
GRID  ?= lam=0,1,10
export PYTHONHASHSEED := 0

.PHONY: venv run test bench sweep clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[notebooks,test]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# The main job: the paper table, the five notebooks with their default parameters
# (executed copies in results/<nb>/default/, figures in figures/<nb>/), then REPRODUCTION.md.
run: venv
	$(PY) -m rvlib.paper_table
	@for nb in $(NOTEBOOKS); do \
	  echo "== $$nb"; mkdir -p results/$$nb/default; \
	  $(PY) -m papermill notebooks/$$nb.ipynb results/$$nb/default/$$nb.ipynb \
	    -p quick False -p run_name default --cwd notebooks -k python3 --log-level WARNING \
	    || exit 1; \
	done
	$(PY) -m rvlib.report

# Unit tests, then every numbered notebook re-executed and compared by nbval.
test: venv
	$(PY) -m pytest tests notebooks/*.ipynb --nbval \
	  --nbval-sanitize-with .ci/nbval_sanitize.cfg -p no:cacheprovider

# make sweep NB=02_margin_ablation GRID="lam=0,1,10 seed=0,1"
sweep: venv
	$(PY) -m rvlib.batch $(NB) $(GRID)

bench: venv
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) results .pytest_cache
