# GOMFlow Payments. `make run` serves the app with demo data; `make test` runs the whole suite.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
PYTHON := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=
# Debian packages the app uses at run time, and those the tests need on top.
RUN_DEBS := libmagic1 libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
TEST_DEBS := $(RUN_DEBS) postgresql-client chromium fonts-dejavu-core

.PHONY: help venv run test lint format bench backup restore check-migrations

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(VENV)/.installed ## Create .venv and install the app with its test tools

run: venv ## Set up and serve the app with demo data on 127.0.0.1:$(PORT) (SQLite, eager Celery)
	@scripts/ensure-packages --optional $(RUN_DEBS)
	DEBUG=1 $(PYTHON) manage.py migrate --noinput
	DEBUG=1 $(PYTHON) manage.py seed_demo
	@echo ""
	@echo "  Admin (GOMs, finance):  http://127.0.0.1:$(PORT)/admin/"
	@echo "  Buyer pages:            http://127.0.0.1:$(PORT)/login/"
	@echo "  API docs:               http://127.0.0.1:$(PORT)/api/docs/"
	@echo ""
	DEBUG=1 $(PYTHON) manage.py runserver 127.0.0.1:$(PORT)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

test: venv ## Run the whole suite on PostgreSQL and Redis (starting them when none answers)
	@scripts/ensure-packages $(TEST_DEBS)
	@command -v npm >/dev/null || scripts/ensure-packages nodejs npm
	@$(MAKE) --no-print-directory node_modules/.installed
	scripts/with-test-services $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv ## ruff lint and format check, and makemigrations --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(PYTHON) manage.py makemigrations --check --dry-run

format: venv ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv ## Run every benchmark (make bench-…) and write docs/performance.md
	@for target in $$(grep -oE '^bench-[a-z]+' $(MAKEFILE_LIST) | sort -u); do $(MAKE) --no-print-directory $$target || exit 1; done
	$(PYTHON) benchmarks/collect.py

# --- Data safety: backups and the migration rule (docs/backups.md, docs/migrations.md)
BACKUP_DIR ?= backups

backup: venv ## Write a verified backup archive (database dump + manifest + media) into $(BACKUP_DIR)/
	@scripts/ensure-packages --optional postgresql-client
	$(PYTHON) manage.py backup --output $(BACKUP_DIR)

restore: venv ## Restore FILE=… into the (empty) database DATABASE_URL points at, then verify it
	@test -n "$(FILE)" || { echo "usage: make restore FILE=backups/gomflow-backup-….tar"; exit 2; }
	@scripts/ensure-packages --optional postgresql-client
	$(PYTHON) manage.py restore $(FILE)

check-migrations: venv ## Check every migration against the large-table safety rule
	scripts/with-test-services $(VENV)/bin/pytest -q tests/safety/test_migration_safety.py

bench-money: venv ## Money API (apply credit, refunds) req/s and p95 next to a raw SQL posting
	@scripts/ensure-packages $(TEST_DEBS) wrk
	scripts/with-test-services $(PYTHON) -m benchmarks.bench_money

# --- Payment proofs and the smart agent (verification app)
# OCR, file-type sniffing, virus scanning (clamd; tests start their own), receipt fonts, PDFs.
PROOF_DEBS := tesseract-ocr tesseract-ocr-eng libmagic1 clamav-daemon fonts-dejavu-core poppler-utils
RUN_DEBS += $(PROOF_DEBS)
TEST_DEBS += $(PROOF_DEBS)

.PHONY: bench-ocr
bench-ocr: venv ## OCR seconds per proof, accuracy over generated receipts, bomb refusal vs full decode
	@scripts/ensure-packages $(TEST_DEBS)
	OMP_THREAD_LIMIT=1 scripts/with-test-services $(PYTHON) benchmarks/bench_ocr.py

bench-pages: venv ## Buyer status page req/s and p95 under wrk, next to a trivial view
	@scripts/ensure-packages $(TEST_DEBS) wrk
	scripts/with-test-services $(PYTHON) -m benchmarks.bench_pages

# --- Verification dashboard (queue, decisions, stats)
.PHONY: bench-dashboard
bench-dashboard: venv ## Queue page p50/p95 on 1,000,000 submissions next to COUNT(*); bulk approval of 1,000
	scripts/with-test-services $(PYTHON) benchmarks/bench_dashboard.py

# --- Finance: statement import, reconciliation, exports (payments.reconciliation)
.PHONY: bench-finance
bench-finance: venv ## Statement import vs bulk_create, matching at 10k vs 1M lines, 1M-row CSV export memory
	@scripts/ensure-packages $(TEST_DEBS)
	scripts/with-test-services $(PYTHON) benchmarks/bench_finance.py
