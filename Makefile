# Doorstep. `make run` to try it out, `make test` for the suite against real PostgreSQL and Redis.

# Interpreters to look for, most preferred first; see scripts/find-python.sh.
PYTHON_CANDIDATES ?= python3.13 python3.12 python3
PYTEST_ARGS ?=

.PHONY: venv run test bench lint clean

venv: .venv/.installed

# Rebuilt only when the lock changes. The old .venv goes, so packages dropped from the lock do too.
.venv/.installed: requirements-dev.txt
	@python=$$(PYTHON_CANDIDATES="$(PYTHON_CANDIDATES)" scripts/find-python.sh) && \
		echo "Creating .venv with $$python" && \
		rm -rf .venv && "$$python" -m venv .venv
	.venv/bin/python -m pip install --disable-pip-version-check --require-hashes -r requirements-dev.txt
	touch $@

requirements-dev.txt:
	@echo "requirements-dev.txt is missing: it is the hash-pinned lock of the dev dependencies." >&2
	@exit 1

run: venv
	scripts/run.sh

test: venv
	scripts/with-services.sh .venv/bin/pytest $(PYTEST_ARGS)

bench: venv
	scripts/with-services.sh .venv/bin/python -m bench

lint: venv
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy . && .venv/bin/lint-imports --no-cache

clean:
	rm -rf .venv var db.sqlite3
