# autochart: `make help` lists the targets. Every target creates or reuses the project venv (.venv).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test lab lint format notebook benchmark clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name autochart --display-name "Python (autochart)" >/dev/null
	@touch $(STAMP)

run: $(STAMP) ## run the main job once on params.yaml (offline sample data by default)
	$(PY) run_notebook.py $(ARGS)

test: $(STAMP) ## run every test (unit, notebook end-to-end, local servers)
	$(PY) -m pytest $(ARGS)

lab: $(STAMP) ## open the notebook in JupyterLab for interactive exploration
	$(PY) -m pip install --quiet -e '.[lab]'
	$(VENV)/bin/jupyter lab notebooks/stock_dashboard.ipynb

lint: $(STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check autochart tests benchmarks run_notebook.py
	$(VENV)/bin/ruff format --check autochart tests benchmarks run_notebook.py

notebook: $(STAMP) ## re-sync the notebook from its py:percent pair and strip outputs
	$(VENV)/bin/jupytext --sync notebooks/stock_dashboard.py
	$(VENV)/bin/nbstripout notebooks/stock_dashboard.ipynb

benchmark: $(STAMP) ## print the benchmark figures
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/incremental.py

clean: ## remove the venv and all outputs (runs and the published site)
	rm -rf $(VENV) outputs/runs outputs/site outputs/logs
