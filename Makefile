# Two commands a user needs: `make run` (the main job) and `make test`.
# Both create .venv and install what is missing first.
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.stamp-installed

.PHONY: run test venv clean

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/sramflow analyze --model efficientnet_b0 --num-classes 7 --resolution 224 --out sramflow-out/

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q tests

clean:
	rm -rf $(VENV) sramflow-out
