# Two commands on a fresh machine with Python 3.11 and pip:
#   make demo   install, fetch data and models, run the default comparison, print the table
#   make test   install, run the test suite
# and for the documentation:
#   make docs     regenerate every table from its source, build the site into site/ (offline)
#   make lessons  execute the eight lessons at their defaults into docs/lessons/ (long)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY      = $(VENV)/bin/python
EXTRAS  = models,onnx,plot,notebooks,dev,ray,docs
# torch 2.13.0 is a CPU wheel; with a CUDA GPU present the normal torch build is taken instead
TORCH  ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo torch || echo torch==2.13.0)
PYTEST_ARGS ?=

.PHONY: install demo test test-fast lint docs lessons clean-cache

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	# EVoC compiles its numba kernels on first import (about 3 min on 2 cores) and caches them: once, here
	$(PY) -c "import evoc"
	# numba code of umap-learn and of datashader (under datamapplot and BERTopic): compiled once here and kept
	# in numba's cache (clustering/reduce.py, core/jit_cache.py), not again in every run
	$(PY) -c "import numpy as np; from simcse_lab.clustering.reduce import UMAPReducer as U; \
	  U(n_components=2, n_neighbors=5).fit_transform(np.random.default_rng(0).random((60, 8), dtype='float32')); \
	  from simcse_lab.core.jit_cache import import_with_jit_cache as cached; cached('bertopic')" \
	  || echo "numba warm-up failed: the first run compiles umap-learn and datashader instead"
	# the STS-B pairs every run scores its models on (metrics.sts_splits): fetched and hash-checked once, here
	$(PY) -c "from simcse_lab import load_config; from simcse_lab.corpus.benchmarks import load_sts; \
	  cfg = load_config('default'); [load_sts(s, data_dir=cfg.data_dir) for s in cfg.metrics.sts_splits]" \
	  || echo "STS-B fetch failed: the first run that scores STS-B fetches it"
	# encode.backend auto decides from a speed record of this machine, measured once here (about 1-2 min)
	$(VENV)/bin/simcse-lab probe-backends -q --set corpus.n_samples=500 \
	  || echo "backend probe failed: encode.backend auto keeps torch until simcse-lab probe-backends succeeds"
	touch $@

demo: install
	$(VENV)/bin/simcse-lab compare default

test: install lint
	$(PY) -m pytest $(PYTEST_ARGS)

# the layout is the formatter's (ruff format), the linter's rules are in pyproject.toml
lint: install
	$(PY) -m ruff format --check --quiet .
	$(PY) -m ruff check --quiet .

test-fast: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

docs: install
	$(PY) scripts/docs_tables.py
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

lessons: install
	$(PY) scripts/run_lessons.py $(LESSONS)

clean-cache:
	rm -rf data/interim
