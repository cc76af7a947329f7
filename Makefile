# image-to-audio: `make run` sets up, builds the models if needed and serves the app;
# `make test` sets up and runs every test, `make test-fast` the quick ones. All work on a fresh clone.
# `make run DATA=flickr8k` builds on the real Flickr8k (downloads it; DATA=synthetic switches back).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the tests need (installed only when missing, and only where apt exists): Chromium for the
# browser tests, PostgreSQL for the scaleout tests (tests/scaleout/), Redis for the service's shared state.
DEBIAN_PACKAGES ?= chromium fonts-dejavu-core postgresql redis-server
AXE := tests/browser/node_modules/axe-core/axe.min.js

export PATH := $(CURDIR)/$(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup system-packages browser-deps run test test-fast repro ui clean

setup: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if command -v apt-get >/dev/null; then \
			echo "installing Debian packages:$$missing"; \
			SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
		else echo "apt-get not found: install$$missing yourself for the browser and scaleout tests"; fi; \
	fi

# axe-core for the accessibility tests, pinned by tests/browser/package-lock.json
browser-deps: $(AXE)

$(AXE): tests/browser/package-lock.json
	@command -v npm >/dev/null || DEBIAN_PACKAGES=npm $(MAKE) --no-print-directory system-packages
	npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
	@touch $@

repro: setup
	$(BIN)/dvc repro

run: setup
	$(BIN)/python -m pipeline.bootstrap $(if $(DATA),--data $(DATA))
	$(BIN)/gunicorn -c app/gunicorn_config.py app.wsgi:app

ui: setup
	$(BIN)/mlflow ui --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}" -h 127.0.0.1 -p 5001

test: setup system-packages browser-deps
	$(BIN)/python -m pytest

# The quick loop: every test not marked pipeline, browser, scaleout or slow (tests/conftest.py marks them);
# no model is trained.
test-fast: setup
	$(BIN)/python -m pytest -m "not pipeline and not browser and not scaleout and not slow"

clean:
	rm -rf $(VENV) .pytest_cache
