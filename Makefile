# Two commands a user needs: `make run` (the main job) and `make test`.
# Both create .venv and install what is missing first.
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.stamp-installed

.PHONY: run test venv clean train train-qat

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

# Reproduces weights/efficientnet_b0_ham10000.safetensors in two stages (weights/MODEL_CARD.md):
# base fine-tuning from the Lite0 ImageNet weights (2 threads, ~25-45 min) into build/train-base/, then
# quantization-aware fine-tuning from it (2 epochs, dual float + fake-quant loss, 1 thread, ~35 min) into weights/.
TRAIN_BASE ?= build/train-base
train: $(STAMP)
	@mkdir -p $(TRAIN_BASE)
	OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/python -m sramflow.train --data $(HAM10000) --model efficientnet_b0 --resolution 128 \
		--epochs 5 --out $(TRAIN_BASE)/
	OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/python -m sramflow.train --data $(HAM10000) --model efficientnet_b0 --resolution 128 \
		--qat-from $(TRAIN_BASE)/efficientnet_b0_ham10000.safetensors $(QAT_ARGS) --threads 1 --out weights/

# The QAT stage alone, for trying other settings (QAT_ARGS) from a trained checkpoint; writes build/qat/ and
# evaluates it on the validation split (the shipped settings: QAT_ARGS below, weights/MODEL_CARD.md trial I).
QAT_FROM ?= $(TRAIN_BASE)/efficientnet_b0_ham10000.safetensors
QAT_OUT ?= build/qat
QAT_ARGS ?= --qat-epochs 2 --lr 3e-5 --qat-float-weight 0.5
train-qat: $(STAMP)
	@mkdir -p $(QAT_OUT)
	OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/python -m sramflow.train --data $(HAM10000) --model efficientnet_b0 --resolution 128 \
		--qat-from $(QAT_FROM) $(QAT_ARGS) --threads 1 --out $(QAT_OUT)/
	$(VENV)/bin/sramflow evaluate --checkpoint $(QAT_OUT)/efficientnet_b0_ham10000.safetensors --data $(HAM10000) \
		--split val --resolution 128 --no-progress --out $(QAT_OUT)/eval-val

clean:
	rm -rf $(VENV) sramflow-out
