# One image for the web server (gunicorn), the Celery worker and beat; see docker-compose.yml.
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --user-group --no-create-home --home-dir /app \
    --shell /usr/sbin/nologin doorstep

WORKDIR /app
COPY requirements.txt .
RUN pip install --require-hashes -r requirements.txt

COPY . .
RUN python scripts/compile_messages.py

# DEBUG off insists on SECRET_KEY, DATABASE_URL and SITE_URL; these dummies serve collectstatic only,
# which connects to neither. var/ must be writable at run time for beat's schedule file.
RUN SECRET_KEY=collectstatic-only DEBUG=0 DATABASE_URL=sqlite:////tmp/unused.sqlite3 SITE_URL=http://unused \
        REDIS_URL=redis://unused:6379/0 python manage.py collectstatic --noinput \
    && chown doorstep:doorstep var

USER doorstep
EXPOSE 8000
# Workers, threads, time-outs and the access log: gunicorn.conf.py.
CMD ["gunicorn", "organizing.wsgi"]
