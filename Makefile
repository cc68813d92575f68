# virtkg: the two quick-start commands are `make serve` and `make test`.
# Both create .venv and install what they need from this repository's own files.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Debian packages the test suite needs: the OWL API (OWL 2 DL profile check, the library Protégé
# is built on), a Java runtime (HermiT via owlready2), Chromium for the browser tests, wrk for benches.
APT_PACKAGES := openjdk-17-jre-headless libowlapi-java chromium chromium-driver wrk

.PHONY: serve test install install-test system-deps lint format check bench render clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Browser libraries for the UI, pinned in package-lock.json, served from node_modules/.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --omit=dev --no-audit --no-fund --loglevel=error

install: $(BIN)/python node_modules/.package-lock.json
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python system-deps node_modules/.package-lock.json
	$(BIN)/pip install --quiet -e '.[test]'

# Installs the Debian packages above when any is missing (needs root or sudo).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing >/dev/null; \
	fi

serve: install
	$(BIN)/virtkg serve

test: install-test
	$(BIN)/ruff check service tests bench
	$(BIN)/ruff format --check service tests bench
	$(BIN)/python -m pytest -q

lint:
	$(BIN)/ruff check service tests bench
	$(BIN)/ruff format --check service tests bench

format:
	$(BIN)/ruff format service tests bench
	$(BIN)/ruff check --fix service tests bench

check: install-test
	$(BIN)/virtkg check

bench: install-test
	$(BIN)/python bench/run_all.py

render: install-test
	$(BIN)/virtkg render rdfxml
	$(BIN)/virtkg render html

clean:
	rm -rf $(VENV) .pytest_cache artifacts node_modules
