# Doorstep. `make run` to try it out, `make test` for the suite against real PostgreSQL and Redis.

# Interpreters to look for, most preferred first; see scripts/find-python.sh.
PYTHON_CANDIDATES ?= python3.13 python3.12 python3
PYTEST_ARGS ?=

.PHONY: venv run test bench lint clean messages

# The compiled translations, rebuilt when their catalogue changes (scripts/compile_messages.py).
CATALOGUES := $(wildcard locale/*/LC_MESSAGES/*.po)
COMPILED := $(CATALOGUES:.po=.mo)

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

run: venv $(COMPILED)
	scripts/run.sh

test: venv $(COMPILED)
	scripts/with-services.sh .venv/bin/pytest $(PYTEST_ARGS)

bench: venv $(COMPILED)
	scripts/with-services.sh .venv/bin/python -m bench

lint: venv
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy . && .venv/bin/lint-imports --no-cache

%.mo: %.po .venv/.installed
	.venv/bin/python scripts/compile_messages.py

# Extract every string marked for translation into each language's catalogue (needs GNU
# gettext: apt install gettext), then compile. New strings come in untranslated: translate
# them in locale/<language>/LC_MESSAGES/django.po; tests/test_translations.py fails until
# every one is. A new language: `make messages LANGUAGE=xx`, then add it to LANGUAGES.
LANGUAGE ?=
messages: venv
	.venv/bin/python manage.py makemessages $(if $(LANGUAGE),--locale $(LANGUAGE),--all) \
		--add-location file --no-wrap --no-obsolete \
		--ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --ignore 'bench/*' --ignore 'scripts/*'
	.venv/bin/python scripts/compile_messages.py

clean:
	rm -rf .venv var db.sqlite3
