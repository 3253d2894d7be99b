# Melody Box. `make run` sets up and runs the box; `make test` sets up and runs the tests.
# Every target creates what it needs in .venv (a virtual environment in this folder).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# tflite-runtime 2.14 needs numpy<2 and Python <= 3.11: it gets its own environment,
# used only by the tests and benchmarks that check a model loads there too.
TFLITE_RUNTIME_VENV ?= .venv-tflite-runtime
MODEL ?= models/default.tflite
RUN_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup setup-train system-packages run test lint bench corpus train export install-pi pi-check clean

help: ## Show this help
	@echo "Melody Box: make <target>"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.device: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[device]"
	@touch $@

$(VENV)/.train: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[device,train,test]"
	@touch $@ $(VENV)/.device

$(VENV)/.corpus: pyproject.toml $(VENV)/.train
	$(BIN)/pip install --quiet -e ".[device,train,test,corpus]"
	@touch $@

$(TFLITE_RUNTIME_VENV)/.ready:
	@if $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] > (3, 11))'; then \
		$(PYTHON) -m venv $(TFLITE_RUNTIME_VENV) && \
		$(TFLITE_RUNTIME_VENV)/bin/pip install --quiet "tflite-runtime==2.14.0" "numpy<2" && \
		touch $@; \
	else echo "tflite-runtime has no wheel for this Python; its tests will be skipped"; fi

setup: $(VENV)/.device ## Set up the device environment (what the Pi needs; no TensorFlow)

setup-train: $(VENV)/.train ## Set up the desktop environment (training, tests)

run: $(VENV)/.device ## Run the box here with the shipped default model (Ctrl-C stops)
	$(BIN)/melodybox run --model $(MODEL) $(RUN_ARGS)

# The Debian packages the tests need (tests/system_packages.py lists them): installed as root or with
# password-less sudo; otherwise one line names the command, and the tests that need them are skipped.
system-packages: ## Install the Debian packages the tests need (as root or with sudo), or name the command
	@$(PYTHON) -m tests.system_packages

test: system-packages $(VENV)/.corpus $(TFLITE_RUNTIME_VENV)/.ready ## Set up (system packages too) and run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(VENV)/.train ## Lint with ruff
	$(BIN)/ruff check .

bench: system-packages $(VENV)/.corpus $(TFLITE_RUNTIME_VENV)/.ready ## Run the benchmarks (figures go in BENCHMARKS.md)
	$(BIN)/python -m tests.bench.run_all

corpus: $(VENV)/.corpus ## Rebuild the bundled public-domain corpus from music21
	$(BIN)/python -m training.corpus.build

train: $(VENV)/.train ## Train the default model on the bundled corpus (runs/default; stops at its 19-minute budget on 2 cores)
	$(BIN)/melodybox-train train --run runs/default

export: $(VENV)/.train ## Evaluate runs/default, export it to models/default*.tflite + .json (float32 shipped; float16, int8 too)
	$(BIN)/melodybox-train evaluate --run runs/default
	$(BIN)/melodybox-train export --run runs/default --name default --out models
	$(BIN)/melodybox-train export --run runs/default --name default-float16 --out models --precision float16
	$(BIN)/melodybox-train export --run runs/default --name default-int8 --out models --precision int8 --min-agreement 0.985


install-pi: ## On a Raspberry Pi: venv, config and a systemd service that plays at boot
	sudo bash device/pi/install.sh

pi-check: ## Verify install.sh in arm64 Debian roots (Bookworm, Trixie) under qemu; needs root, ~20 min a release
	$(if $(filter 0,$(shell id -u)),,sudo) nice -n 10 bash device/pi/pi_check.sh

clean: ## Remove the virtual environments and caches
	rm -rf $(VENV) $(TFLITE_RUNTIME_VENV) .pytest_cache .ruff_cache .hypothesis
