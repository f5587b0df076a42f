PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= data/archive.sqlite
SAMPLE ?= Can Russia prevent Ukraine from joining NATO?

.PHONY: demo run test bench bench-10m soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/archive-bot --db $(DB) ingest seeds/
	$(BIN)/archive-bot --db $(DB) ask "$(SAMPLE)"

run: $(STAMP)
	$(BIN)/archive-bot run

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.retrieval

bench-10m: $(STAMP)
	$(BIN)/python -m bench.retrieval --sizes 100k 1M 10M

soak: $(STAMP)
	$(BIN)/python -m pytest -q -m soak

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
