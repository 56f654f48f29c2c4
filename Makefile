# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make demo DEMO_CLUSTER=x`: the demo beside another local cluster named demo
DEMO_CLUSTER ?= demo

.PHONY: setup crds binaries demo test check unit bench docs golden clean image system-packages

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

demo: setup binaries
	@echo "== 1. Render the guide's platform, jobs and endpoints (examples/) =="
	$(BIN)/mlkube render examples/ --output-dir out/bundle
	@echo
	@echo "== 2. The rendered bundle passes every ML rule =="
	$(BIN)/mlkube lint out/bundle
	@echo
	@echo "== 3. The guide's own manifests, as printed, do not =="
	-$(BIN)/mlkube lint demo/guide-manifests.yaml
	@echo
	@echo "== 4. The guide's walkthrough on a local cluster: real control plane, Kueue, =="
	@echo "==    the Training Operator, KServe, the GPU metrics pipeline and KWOK GPU  =="
	@echo "==    nodes shaped like the Platform                                        =="
	@set -e; trap '$(BIN)/mlkube cluster down --name $(DEMO_CLUSTER)' EXIT; \
	eval "$$($(BIN)/mlkube cluster up --name $(DEMO_CLUSTER) --platform examples/platform.yaml --serving --gpu-metrics)"; \
	$(BIN)/mlkube apply examples/platform.yaml examples/resnet-training.yaml demo/resnet-volumes.yaml; \
	$(BIN)/mlkube wait resnet-training -n ml-training --for=Succeeded --timeout=5m; \
	$(BIN)/mlkube status resnet-training -n ml-training; \
	echo; echo "== 5. A spot node is reclaimed mid-run: the checkpoint controller at work =="; \
	$(BIN)/python demo/spot.py; \
	echo; echo "== 6. The production LLM endpoint, Ready through the real KServe controller =="; \
	$(BIN)/mlkube apply examples/llm-endpoint.yaml; \
	$(BIN)/mlkube wait llama-chat -n ml-serving --for=Ready --timeout=5m; \
	$(BIN)/python demo/gpu_load.py settle; \
	$(BIN)/mlkube status llama-chat -n ml-serving; \
	echo; echo "== 7. GPU utilisation rises to 95 %: the HPA mlkube rendered adds replicas =="; \
	$(BIN)/python demo/gpu_load.py 95; \
	$(BIN)/mlkube status llama-chat -n ml-serving

# The local cluster's binaries, built from the Go module proxy and cached outside the
# repository by version (tools/build.sh); a no-op once built.
binaries:
	bash tools/build.sh

# The controller image (Containerfile), built with buildah from a debootstrap base
# cached outside the repository; needs root and `make system-packages`.
image: setup
	bash tools/image.sh

# Debian packages the packaging tests need (buildah, debootstrap, runc, zsh, fish);
# `make test` runs it (installing only as root).
system-packages:
	bash tools/system-packages.sh

check: setup
	$(BIN)/ruff check src tests bench demo
	$(BIN)/ruff format --check src tests bench demo
	$(BIN)/mypy

test: system-packages check crds binaries
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
	$(BIN)/mlkube controller manifests > deploy/controller.yaml
	$(BIN)/python -m mlkube.controller.chart > deploy/helm/mlkube-controller/files/controller.yaml

# Rewrite tests/golden from the examples; review the diff before committing it.
golden: setup
	$(BIN)/python -m tests.golden_bundles

clean:
	rm -rf out
