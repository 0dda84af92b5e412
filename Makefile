# The two commands of the README: `make demo` (PORT=8000 by default) and `make test`. Each sets up its own .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint services-test migrations-check clean bench bench-instructions

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e . --group test --group demo
	touch $(STAMP)

# `make demo PORT=8001` when 8000 is taken. The browser flow's Origin is the demo's own address,
# so the same-origin check passes on any port.
PORT ?= 8000

demo: $(STAMP)
	@case "$(PORT)" in ''|*[!0-9]*) echo "PORT must be a number, got '$(PORT)'" >&2; exit 2;; esac
	$(PY) manage.py migrate --noinput
	$(PY) manage.py create_demo_user
	@$(PY) -m example_project.demo.howto $(PORT)
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# TypeScript for the browser client's declarations test (tests/test_webclient_declarations.py),
# from tests/js/package-lock.json; without npm that test is skipped and says so.
JS_STAMP := tests/js/node_modules/.installed

$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tests/js --no-audit --no-fund --silent && touch $(JS_STAMP); \
	else echo "npm not found: the TypeScript check of dualauth.d.ts will be skipped"; fi

test: $(STAMP) $(JS_STAMP)
	$(PY) -m ruff check django_dualauth tests example_project
	$(PY) -m mypy
	$(PY) manage.py makemigrations dualauth --check --dry-run --settings=tests.settings
	$(PY) -m tests.run_all

lint: $(STAMP)
	$(PY) -m ruff check django_dualauth tests example_project
	$(PY) -m mypy

# The benchmark of issue 3 (bench/README.md). Needs PostgreSQL on 127.0.0.1:5432 (user postgres,
# trust) and Redis on 127.0.0.1:6379. BENCH_ARGS="--quick" for a smoke run, "--parts 1,2".
BENCH_STAMP := $(VENV)/.bench-installed
BENCH_ARGS ?=

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e . --group bench
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

# Instructions per refresh under valgrind's callgrind (bench/README.md): for before/after checks.
bench-instructions: $(BENCH_STAMP)
	$(PY) -m bench.instructions $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache tests/js/node_modules
