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

# Reproduces weights/efficientnet_b0_ham10000.safetensors in three stages (weights/MODEL_CARD.md), all at 224 px:
# base fine-tuning from the Lite0 ImageNet weights (14 epochs) into build/train-base/, quantization-aware fine-tuning
# from it (3 epochs, dual float + fake-quant loss) into build/train-qat/, then a short fake-quant-weighted QAT
# (0.5 epoch, float weight 0.25) into weights/. --device auto takes a CUDA GPU when one is visible: the shipped
# stages 1-2 ran on a lent H200 (~1.5 + ~3.5 min, TRAIN_WORKERS=4), stage 3 on 2 CPU cores (~28 min at 1 thread).
# On this 2-core CPU stages 1-2 would take many hours (~12 img/s for the base stage at 224 px).
TRAIN_RES ?= 224
TRAIN_EPOCHS ?= 14
TRAIN_WORKERS ?= 0
TRAIN_BASE ?= build/train-base
TRAIN_QAT ?= build/train-qat
QAT_ARGS ?= --qat-epochs 3 --lr 3e-5 --qat-float-weight 0.5
QAT2_ARGS ?= --qat-epochs 0.5 --lr 3e-5 --qat-float-weight 0.25
TRAIN_CMD = OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/python -m sramflow.train --data $(HAM10000) --model efficientnet_b0 \
	--resolution $(TRAIN_RES) --device auto --workers $(TRAIN_WORKERS)
train: $(STAMP)
	@mkdir -p $(TRAIN_BASE) $(TRAIN_QAT)
	$(TRAIN_CMD) --epochs $(TRAIN_EPOCHS) --out $(TRAIN_BASE)/
	$(TRAIN_CMD) --qat-from $(TRAIN_BASE)/efficientnet_b0_ham10000.safetensors $(QAT_ARGS) --threads 1 --out $(TRAIN_QAT)/
	$(TRAIN_CMD) --qat-from $(TRAIN_QAT)/efficientnet_b0_ham10000.safetensors $(QAT2_ARGS) --threads 1 --out weights/

# One QAT stage alone, for trying other settings (QAT_ARGS) from a trained checkpoint; writes build/qat/ and
# evaluates it on the validation split (never on test: weights/MODEL_CARD.md, selection rule).
QAT_FROM ?= $(TRAIN_BASE)/efficientnet_b0_ham10000.safetensors
QAT_OUT ?= build/qat
train-qat: $(STAMP)
	@mkdir -p $(QAT_OUT)
	$(TRAIN_CMD) --qat-from $(QAT_FROM) $(QAT_ARGS) --threads 1 --out $(QAT_OUT)/
	$(VENV)/bin/sramflow evaluate --checkpoint $(QAT_OUT)/efficientnet_b0_ham10000.safetensors --data $(HAM10000) \
		--split val --no-progress --out $(QAT_OUT)/eval-val

clean:
	rm -rf $(VENV) sramflow-out
