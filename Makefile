# The two commands of the README do all set-up themselves: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BENCH_VENV ?= .venv-bench
LAYERING_BENCH_VENV ?= .venv-bench-layering
NUDGES_BENCH_VENV ?= .venv-bench-nudges
REFERRAL_BENCH_VENV ?= .venv-bench-referral
SCALE_BENCH_VENV ?= .venv-bench-scale

.PHONY: demo test lint typecheck unit docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-runtime

demo: $(VENV)/.installed-runtime
	$(BIN)/python -m privdomain demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy --strict privdomain

unit: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pytest -q --nbmake docs/tutorial

docs: $(VENV)/.installed-dev
	$(BIN)/mkdocs build --strict --site-dir site

test: lint typecheck unit docs

$(BENCH_VENV)/.installed: pyproject.toml benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

# Peers pin incompatible stacks (lifetimes needs numpy 1, pymc-marketing numpy 2), so the
# benchmarks run in two environments; each peer is measured side by side with privdomain.
$(LAYERING_BENCH_VENV)/.installed: pyproject.toml benchmarks/requirements-layering.txt
	$(PYTHON) -m venv $(LAYERING_BENCH_VENV)
	$(LAYERING_BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LAYERING_BENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements-layering.txt
	$(LAYERING_BENCH_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

$(NUDGES_BENCH_VENV)/.installed: pyproject.toml benchmarks/requirements-nudges.txt
	$(PYTHON) -m venv $(NUDGES_BENCH_VENV)
	$(NUDGES_BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NUDGES_BENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements-nudges.txt
	$(NUDGES_BENCH_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

$(REFERRAL_BENCH_VENV)/.installed: pyproject.toml benchmarks/requirements-referral.txt
	$(PYTHON) -m venv $(REFERRAL_BENCH_VENV)
	$(REFERRAL_BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(REFERRAL_BENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements-referral.txt
	$(REFERRAL_BENCH_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

$(SCALE_BENCH_VENV)/.installed: pyproject.toml benchmarks/requirements-scale.txt
	$(PYTHON) -m venv $(SCALE_BENCH_VENV)
	$(SCALE_BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCALE_BENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements-scale.txt
	$(SCALE_BENCH_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

bench: $(BENCH_VENV)/.installed $(LAYERING_BENCH_VENV)/.installed $(NUDGES_BENCH_VENV)/.installed $(REFERRAL_BENCH_VENV)/.installed $(SCALE_BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m benchmarks pool value lifecycle cycle
	$(LAYERING_BENCH_VENV)/bin/python -m benchmarks layering
	$(NUDGES_BENCH_VENV)/bin/python -m benchmarks uplift nudges policies
	$(REFERRAL_BENCH_VENV)/bin/python -m benchmarks referral attribution
	$(SCALE_BENCH_VENV)/bin/python -m benchmarks frames outofcore

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(LAYERING_BENCH_VENV) $(NUDGES_BENCH_VENV) $(REFERRAL_BENCH_VENV) $(SCALE_BENCH_VENV) site build dist .mypy_cache .pytest_cache .ruff_cache
