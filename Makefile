# Two commands a user needs: `make run` (the main job) and `make test`.
# Both create .venv and install what is missing first.
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.stamp-installed

.PHONY: run test venv clean train

# HAM10000 folder (metadata CSV + images); CC BY-NC 4.0, never committed.
HAM10000 ?= ../shared/data/ham10000

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/sramflow run --out sramflow-out/

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q tests

# Reproduces weights/efficientnet_b0_ham10000.safetensors (CPU, 2 threads, ~25-45 min).
train: $(STAMP)
	$(VENV)/bin/python -m sramflow.train --data $(HAM10000) --model efficientnet_b0 --resolution 128 --epochs 5 --out weights/

clean:
	rm -rf $(VENV) sramflow-out
