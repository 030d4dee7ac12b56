# Two commands do all the set-up on a fresh machine:
#   make demo   installs monoglot and runs recipes/swahili.toml (e5-small -> Swahili student)
#   make test   installs monoglot with its test extras and runs the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: the CPU build; a bare 'torch' requirement would pull a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/monoglot run recipes/swahili.toml

test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist worksteal

clean:
	rm -rf out .pytest_cache
