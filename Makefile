# The commands people type every day. `make run` and `make test` set everything up themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The suite runs on both cores (pytest-xdist); PYTEST_ARGS= runs it in one process.
PYTEST_ARGS ?= -n 2

.PHONY: run test test-postgres bench lint fmt messages install clean-demo browser

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py compile_translations
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py demo_logins --url http://127.0.0.1:$(PORT)/
	@echo "Kring runs on http://127.0.0.1:$(PORT)/ (stop with Ctrl-C)"
	@trap 'kill 0' INT TERM EXIT; \
	  $(PY) manage.py kring_worker & \
	  $(PY) manage.py runserver --noreload 127.0.0.1:$(PORT)

# Debian's chromium for the browser tests (Playwright drives it; it never downloads a browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: install browser
	$(PY) manage.py compile_translations
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-postgres: install browser
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} $(PY) -m pytest -q $(PYTEST_ARGS)

bench: install
	$(PY) -m bench $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

messages: install
	$(PY) manage.py makemessages --locale nl --locale en --ignore ".venv/*" --ignore "*/tests/*" --ignore "bench/*"
	$(PY) manage.py compile_translations

clean-demo:
	rm -f var/kring.sqlite3 var/kring.sqlite3-wal var/kring.sqlite3-shm
