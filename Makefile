# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint bench clean services ocr

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ocr

# OCR of scanned statements needs tesseract: installed when missing and apt-get can (as
# root); otherwise a line says what to install. Never fails the build.
ocr:
	@scripts/ensure-ocr.sh

# Start PostgreSQL when it is installed but down (tests need it; the demo does not).
services:
	@scripts/ensure-services.sh

# The demo keeps .data/ (store, runs, review decisions): `make demo FRESH=1` wipes it first.
demo: $(STAMP) ocr
	$(BIN)/aura-dagster demo $(if $(FRESH),--fresh) $(ARGS)

test: $(STAMP) services ocr
	$(BIN)/ruff check aura_dagster aura_dagster_tests benchmarks
	$(BIN)/python -m pytest -q

bench: $(STAMP) services ocr
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .dagster_home .data
