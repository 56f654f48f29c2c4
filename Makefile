# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup crds demo test check unit bench docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The released CRDs of the Training Operator, KServe and Kueue, through the Go module
# proxy into Go's module cache (cached by version, outside the repository).
crds: setup
	$(BIN)/python -c "from mlkube.crds import load_crds; print(len(load_crds()), 'CRDs ready')"

demo: setup
	@echo "== 1. Render the guide's platform, jobs and endpoints (examples/) =="
	$(BIN)/mlkube render examples/ -o out/bundle
	@echo
	@echo "== 2. The rendered bundle passes every ML rule =="
	$(BIN)/mlkube lint out/bundle
	@echo
	@echo "== 3. The guide's own manifests, as printed, do not =="
	-$(BIN)/mlkube lint demo/guide-manifests.yaml
	@echo
	@echo "== 4. Why one of them matters =="
	$(BIN)/mlkube explain MK805

check: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: check crds
	$(BIN)/pytest

unit: setup
	$(BIN)/pytest tests/unit tests/test_rule_fixtures.py

# Benchmarks (not tests). Checkov, the peer, lives in its own virtualenv.
bench: setup .venv-checkov/bin/checkov
	$(BIN)/python bench/lint_throughput.py
	$(BIN)/python bench/large_input.py

.venv-checkov/bin/checkov:
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet checkov

docs: setup
	$(BIN)/python -m mlkube.rules.docs > docs/rules.md
	$(BIN)/python -m mlkube.spec.docs > docs/spec.md

clean:
	rm -rf out
