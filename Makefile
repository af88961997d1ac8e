# One command to set up and run the main job; one to set up and run the tests.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast setup bench clean

$(STAMP): pyproject.toml
	@$(PY) -c "import sys; sys.exit(sys.version_info[:2] != (3, 11))" || { echo "error: codesign needs Python 3.11 (python3.11 on PATH)" >&2; exit 2; }
	scripts/system_packages.sh
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/codesign run designs/digits_mlp.yaml

# one pytest worker per core (pytest-xdist); a file's tests stay on one worker (module fixtures run once)
test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -ra -n auto --dist loadfile

# the inner loop: every test not marked slow (no training, no hls4ml compile, no Yosys), about a minute
test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -q -ra -n auto -m "not slow"

bench: $(STAMP)
	$(VENV)/bin/pip install --quiet -e ".[test,bench]"
	$(VENV)/bin/python benchmarks/cost_model_accuracy.py --jobs 2
	$(VENV)/bin/python benchmarks/ptq_methods.py
	$(VENV)/bin/python benchmarks/protocol.py --design digits_mlp --seeds 0,1,2

clean:
	rm -rf $(VENV) build *.egg-info
