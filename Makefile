# The two commands of the README: `make demo` (PORT=8000 by default) and `make test`. Each sets up its own .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo demo-cross-origin screenshots test test-fast lint services-test migrations-check clean bench bench-instructions

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e . --group test --group demo
	touch $(STAMP)

# `make demo PORT=8001` when 8000 is taken. The browser flow's Origin is the demo's own address,
# so the same-origin check passes on any port; DEMO_ORIGIN points the demo's mails at its pages.
PORT ?= 8000
# `make demo-cross-origin`: the API on PORT, the same demo page served from PAGE_PORT, another
# origin of the same site (docs/recipe-cross-origin.md).
PAGE_PORT ?= 8001

demo: $(STAMP)
	@case "$(PORT)" in ''|*[!0-9]*) echo "PORT must be a number, got '$(PORT)'" >&2; exit 2;; esac
	$(PY) manage.py migrate --noinput
	$(PY) manage.py create_demo_user
	@$(PY) -m example_project.demo.howto $(PORT)
	DEMO_ORIGIN=http://127.0.0.1:$(PORT) $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Two servers of the example project: the API on PORT trusts the page's origin (CORS and
# CSRF_TRUSTED_ORIGINS from DEMO_ORIGIN); the one on PAGE_PORT serves the page, whose client
# calls http://127.0.0.1:PORT/auth (DEMO_API_ORIGIN). Ctrl-C stops both.
demo-cross-origin: $(STAMP)
	@for p in "$(PORT)" "$(PAGE_PORT)"; do case "$$p" in ''|*[!0-9]*) echo "PORT and PAGE_PORT must be numbers, got '$$p'" >&2; exit 2;; esac; done
	$(PY) manage.py migrate --noinput
	$(PY) manage.py create_demo_user
	@echo "Demo page (cross-origin): http://127.0.0.1:$(PAGE_PORT)/  -> API http://127.0.0.1:$(PORT)/auth"
	@DEMO_ORIGIN=http://127.0.0.1:$(PAGE_PORT) $(PY) manage.py runserver --noreload 127.0.0.1:$(PORT) & api=$$!; \
	  trap 'kill $$api 2>/dev/null' EXIT INT TERM; \
	  DEMO_ORIGIN=http://127.0.0.1:$(PAGE_PORT) DEMO_API_ORIGIN=http://127.0.0.1:$(PORT) \
	    $(PY) manage.py runserver --noreload 127.0.0.1:$(PAGE_PORT)

# The screenshots the docs show (docs/images/), taken by the demo page's Chromium tests.
screenshots: $(STAMP)
	DUALAUTH_SCREENSHOTS=docs/images $(PY) -m pytest tests/test_demo_page.py -q -p no:randomly

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
