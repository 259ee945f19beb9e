# Two commands set everything up on a fresh machine:  make reproduce  |  make test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Tests never touch the network; the main job may (a hub model such as TEXT_MODEL=hyp1231/blair-roberta-base).
test test-fast test-browser: export HF_HUB_OFFLINE := 1
test test-fast test-browser: export TRANSFORMERS_OFFLINE := 1

.PHONY: venv lint test test-fast test-browser docs reproduce tune bench-tuning bench-data bench-scaling bench-batch bench-eval bench-main-job bench bench-cli bench-symcere bench-analysis bench-parity bench-protocols gpu-check-prepare clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch==2.13.0 resolves to the local CPU wheel here (pip find-links); pinned so no CUDA build is pulled.
	$(PY) -m pip install --quiet -e ".[dev,notebooks,docs]"
	@rm -f $(VENV)/.installed-*
	@touch $@

# The whole suite (what CI runs); test-fast is the unit tier: no tests marked slow or browser (pyproject.toml).
# TEST_WORKERS pytest-xdist workers (default: the cores, at most 4); loadgroup keeps the notebook runs on one.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
test: venv lint
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# ruff (lint and import order) and the layer contracts (import-linter), both configured in pyproject.toml.
lint: venv
	$(VENV)/bin/ruff check
	$(VENV)/bin/lint-imports --no-cache

test-fast: venv
	$(PY) -m pytest -q -m "not slow and not browser" $(PYTEST_ARGS)

# A real Chromium drives the LIME explorer in JupyterLab (Debian: apt-get install chromium chromium-driver).
test-browser: venv
	SYMCERE_REQUIRE_BROWSER=1 $(PY) -m pytest -q tests/test_browser.py

# The documentation site into build/site/, strict (any warning fails; tests/test_docs.py builds it too). Its notebook
# pages are the executed QUICK copies: reproduce --quick first brings build/notebooks/quick/ up to date (~3 min when
# missing, nothing to do when current); SYMCERE_DOCS_NOTEBOOKS=skip renders the committed notebooks instead.
docs: venv
	$(if $(filter skip,$(SYMCERE_DOCS_NOTEBOOKS)),,$(VENV)/bin/symcere reproduce --quick)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/site

# make reproduce [QUICK=1] [PARAMS="SEEDS=[0,1,2] TEXT_MODE=lora-top"] [CELL_TIMEOUT=SECONDS]  (notebook parameters,
# YAML values; the per-cell limit defaults to symcere reproduce --help's)
reproduce: venv
	$(VENV)/bin/symcere reproduce $(if $(QUICK),--quick,) $(if $(CELL_TIMEOUT),--cell-timeout $(CELL_TIMEOUT),) $(foreach p,$(PARAMS),--param '$(p)')

# Re-derive configs/tuned/: every variant of GROUPS["tuning"] on both shared datasets, each study topped up to
# the equal budget (20 finished trials; resumes a cut run). Delete results/tuning/studies.db to start afresh.
TUNE_DATASETS ?= amazon2018_gift_cards_5 amazon2014_musical_instruments
TUNE_TRIALS   ?= 20
tune: venv
	@for d in $(TUNE_DATASETS); do \
	  for v in $$($(PY) -c "from symcere_kit.runs.variants import GROUPS; print(*GROUPS['tuning'])"); do \
	    $(VENV)/bin/symcere --quiet tune $$d --model $$v --up-to $(TUNE_TRIALS) || exit 1; \
	  done; \
	done

# Tuning cost per study from configs/tuned/ (BENCH_ARGS=--run re-tunes everything into benchmarks/_work/ first).
bench-tuning: venv
	$(PY) benchmarks/bench_tuning.py $(BENCH_ARGS)

bench: venv
	$(PY) benchmarks/bench_core.py

# The Python reader against the DuckDB-native one on generated large-category Amazon 2023 files, read alone and
# read + preprocess, with DuckDB's bare scan as the floor (~6 min; BENCH_ARGS="--sizes 20000000" for the 20 M run:
# 10 GB generated, deleted after).
bench-data: venv
	$(PY) benchmarks/bench_data.py $(BENCH_ARGS)

# One LightGCN step at 10 k, 100 k and 600 k training interactions against a plain-torch LightGCN (issue 17).
bench-scaling: venv
	$(PY) benchmarks/bench_scaling.py $(if $(wildcard $(RECBOLE_VENV)/.ok),--recbole-python $(RECBOLE_VENV)/bin/python,) $(BENCH_ARGS)

# LightGCN at growing batch sizes: metrics on Musical Instruments, epoch time at ~600 k interactions.
bench-batch: venv
	$(PY) benchmarks/bench_batch.py $(BENCH_ARGS)

# Where the main job's minutes go: each distinct run of notebooks 02-04 and LIME, projected from timed epochs.
bench-main-job: venv
	$(PY) benchmarks/bench_main_job.py $(BENCH_ARGS)

# All-ranking evaluation at 100 k users x 50 k items, batch by batch, against its bare products + top-K.
bench-eval: venv
	$(PY) benchmarks/bench_eval.py $(BENCH_ARGS)

# `symcere --help` and a usage error against Python's start-up and `import torch`.
bench-cli: venv
	$(PY) benchmarks/bench_cli.py

# SymCERE per text mode (takes ~45 min here: one cold whole run per mode).
bench-symcere: venv
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/bench_symcere.py --full-runs frozen lora-top --cold

# RecBole 1.2.1 lives in its own virtualenv with old pins; never a project dependency.
RECBOLE_VENV := .venv-recbole
$(RECBOLE_VENV)/.ok:
	$(PYTHON) -m venv $(RECBOLE_VENV)
	$(RECBOLE_VENV)/bin/pip install --quiet "setuptools<81" torch==2.13.0 numpy==1.26.4 "pandas<2.3" scipy==1.11.4 recbole==1.2.1
	@touch $@

bench-analysis: venv
	$(PY) benchmarks/bench_analysis.py

bench-parity: venv $(RECBOLE_VENV)/.ok
	$(PY) benchmarks/bench_core.py --recbole-python $(RECBOLE_VENV)/bin/python

# Re-scoring every stored run (results/grid) under uni100 and pop100 against all-ranking, and RecBole 1.2.1's own
# uni100/pop100 beside ours for MostPop and LightGCN on both shared datasets (issue 26).
bench-protocols: venv $(RECBOLE_VENV)/.ok
	$(PY) benchmarks/bench_protocols.py --recbole-python $(RECBOLE_VENV)/bin/python $(BENCH_ARGS)

# The GPU check's carry set (issue 17) in build/gpu_check/, and the device tool's `run` call that uses it; the check
# runs there (`bash benchmarks/gpu_check.sh`); `bash benchmarks/gpu_check.sh --dry-run` tries it here on the CPU.
gpu-check-prepare: venv
	PYTHON=$(PY) bash benchmarks/gpu_check.sh --prepare

clean:
	rm -rf $(VENV) $(RECBOLE_VENV) data/processed build .pytest_cache
