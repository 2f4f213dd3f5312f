# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[piper,photo,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/podforge demo -o out

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

# The default suite: everything but tests marked slow or gpu (gpu tests skip themselves without a GPU).
test: lint
	$(BIN)/python -m pytest -q -m "not slow" tests

test-all: lint
	$(BIN)/python -m pytest -q tests

bench: $(STAMP)
	$(BIN)/python bench/audio.py
	$(BIN)/python bench/video.py
	$(BIN)/python bench/video.py --minutes 10 --avatars
	$(BIN)/python bench/avatar.py

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache .mypy_cache .ruff_cache
