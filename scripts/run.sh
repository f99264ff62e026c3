#!/usr/bin/env bash
# Try Doorstep out with nothing else installed.
#
# 1. Migrate and seed the demo data (seed_demo prints the logins).
# 2. Start a Celery worker with embedded beat in the background.
# 3. Serve on http://127.0.0.1:8000/ in the foreground; when it stops, for Ctrl-C or any other
#    reason, stop the worker too.
#
# With DATABASE_URL and REDIS_URL unset the settings fall back to SQLite and a filesystem
# broker under var/; set them to try it against PostgreSQL and Redis instead.
set -euo pipefail
cd "$(dirname "$0")/.."

# The settings keep the database, the broker folder and beat's schedule under VAR_DIR.
mkdir -p "${VAR_DIR:-var}"
.venv/bin/python manage.py migrate
.venv/bin/python manage.py seed_demo
# Flag lapses now rather than at the next hourly run, so the dashboard has something to show.
.venv/bin/python manage.py flag_lapsed

worker=
stop_worker() {
  if [[ -n $worker ]]; then
    # A background job of a script ignores Ctrl-C, so it has to be told.
    kill -TERM "$worker" 2>/dev/null || true
    wait "$worker" 2>/dev/null || true
  fi
}
trap stop_worker EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

.venv/bin/celery -A organizing worker --beat --loglevel info --concurrency 1 &
worker=$!

echo
echo "Doorstep: http://127.0.0.1:8000/ (Ctrl-C stops the server and the worker)"
echo
.venv/bin/python manage.py runserver 127.0.0.1:8000
