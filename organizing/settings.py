"""Doorstep settings, read from the environment.

Unset DATABASE_URL and REDIS_URL mean the zero-set-up default for trying the app:
SQLite and Celery's filesystem broker (no server). Set them for PostgreSQL and Redis,
as `make test` and production do. With DEBUG off, a missing SECRET_KEY or DATABASE_URL
stops the process at start-up instead of running on a default.
"""

import datetime as dt
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from psycopg_pool import ConnectionPool

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def envbool(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: str) -> int:
    return int(os.environ.get(name, default))


def envfloat(name: str, default: str) -> float:
    return float(os.environ.get(name, default))


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", "1")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")

if not DEBUG:
    missing = [name for name in ("SECRET_KEY", "DATABASE_URL") if not os.environ.get(name)]
    if missing:
        raise ImproperlyConfigured(
            f"Production settings (DEBUG off) need {' and '.join(missing)} in the environment."
        )
elif not SECRET_KEY:
    SECRET_KEY = "dev-only-insecure-key-never-used-with-debug-off"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "simple_history",
    "organizing",
    "buildings",
    "contacts",
]

MIDDLEWARE = [
    # /livez, for the process manager, answered before anything else can touch a database.
    "organizing.health.LivenessMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    # A fault (PostgreSQL or Redis out of reach) answers 503 with Retry-After, never 500.
    "organizing.faults.FaultMiddleware",
    # Django's, except that a session save failing after a knock was recorded keeps the
    # answer that says so.
    "organizing.faults.SessionMiddleware",
    # The browser's language (or the language cookie) for pages before login; a member's own
    # replaces it in member_required. Each request starts from the default time zone too.
    "organizing.i18n.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "organizing.security.no_store_for_members",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "organizing.urls"
WSGI_APPLICATION = "organizing.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "organizing.i18n.languages",
            ],
        },
    },
]

if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # psycopg 3's pool keeps connections across requests; it replaces CONN_MAX_AGE.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["OPTIONS"] = {
            "pool": {
                "min_size": envint("DATABASE_POOL_MIN", "1"),
                "max_size": envint("DATABASE_POOL_MAX", "10"),
                # Each connection is tried before a request gets it: one that PostgreSQL
                # closed (a restart, a failover) is replaced, not handed out to fail.
                "check": ConnectionPool.check_connection,
                # Waiting longer for a connection is a fault: the request answers 503
                # (organizing/faults.py) and the phone sends its knock again.
                "timeout": envfloat("DATABASE_POOL_TIMEOUT", "3"),
            },
            # Seconds to open a connection to a PostgreSQL that does not answer.
            "connect_timeout": envint("DATABASE_CONNECT_TIMEOUT", "2"),
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "db.sqlite3"),
            # Celery's worker, the web server and a phone downloading its turf use the
            # database at once in `make run`: writers take the lock when they begin, and
            # wait for it; with the write-ahead log, readers never wait for a writer.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

# PgBouncer in transaction mode hands each transaction to any server connection: a
# statement prepared on one is unknown on the next, and a server-side cursor dies with its
# transaction. DATABASE_PGBOUNCER=1 turns both off.
if envbool("DATABASE_PGBOUNCER", "0"):
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_PGBOUNCER needs a PostgreSQL DATABASE_URL.")
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    # First, so that a locked-out user is refused before their password is checked:
    # django-axes' lockout, and the account's across addresses (organizing/security.py).
    "organizing.security.AccountLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Seconds a request waits for Redis to accept a connection, and then for each reply. Redis
# answers in a millisecond; one that is hung (stopped, a dead network path) must cost a knock
# well under a second, not redis-py's default of five, nor forever.
REDIS_TIMEOUT = envfloat("REDIS_TIMEOUT", "0.5")

# Shared by every web server when Redis is there (rate limits count across them); in one
# process otherwise, as in `make run`.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "organizing.cache.KeptClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "doorstep",
            # Tried once (redis-py retries nothing on a pool's connections unless told):
            # a rate limit that can't be counted lets the request in (organizing/security.py).
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT},
        }
    }
    # django-ratelimit knows django-redis, not Django's own Redis cache; it increments
    # atomically all the same (INCR).
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # django-ratelimit refuses a per-process cache as not shared: with one process it is.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

# How many proxies of ours stand before the app (a load balancer: 1). The client's address
# is then that many entries from the right of X-Forwarded-For; with 0, REMOTE_ADDR.
TRUSTED_PROXIES = envint("TRUSTED_PROXIES", "0")

# Lockout (django-axes): five wrong passwords for one account from one address lock that
# pair out for fifteen minutes. Addresses that try many accounts meet the login rate limit.
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = dt.timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# One account guessed at from many addresses: locked out for everyone after this many
# failures within AXES_COOLOFF_TIME of the last, from any address (AccountLockoutBackend).
LOGIN_ACCOUNT_FAILURE_LIMIT = envint("LOGIN_ACCOUNT_FAILURE_LIMIT", "30")
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "organizing.security.locked_out"
AXES_CLIENT_IP_CALLABLE = "organizing.security.client_ip"
AXES_USERNAME_CALLABLE = "organizing.security.login_username"
# Its log lines name the account and the address: personal data.
AXES_VERBOSE = False

# Rate limits (django-ratelimit), per client address; see organizing/security.py.
RATELIMIT_IP_META_KEY = "organizing.security.client_ip"
RATE_LIMITS = {
    "login": os.environ.get("RATE_LIMIT_LOGIN", "20/10m"),
    "password_reset": os.environ.get("RATE_LIMIT_PASSWORD_RESET", "5/h"),
    # A whole floor in bulk is one post; a knock a second for a minute is already a lot.
    "knock": os.environ.get("RATE_LIMIT_KNOCK", "120/m"),
    # django-otp also slows down each wrong code; this bounds the guessing per account.
    "two_factor": os.environ.get("RATE_LIMIT_TWO_FACTOR", "20/10m"),
}

# Two-factor (django-otp, TOTP): members of these roles must use it; anyone who has set it up
# must use it. In production the committee must too, since it reads and exports the whole
# organization; OTP_REQUIRED_ROLES=admin opts the committee out (README, SECURITY).
OTP_REQUIRED_ROLES = envlist("OTP_REQUIRED_ROLES", "" if DEBUG else "committee,admin")
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Doorstep")
# Django's admin lists the devices without their secret keys.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# The interface's languages. A member reads the one on their profile, chosen on their first
# page from the browser's among their organization's working languages (organizing.i18n).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
# Dates and times each language writes its own way (organizing/formats/<language>/).
FORMAT_MODULE_PATH = ["organizing.formats"]
# The default of a new organization's time zone (each sets its own), and the clock of the
# scheduled jobs' hours (OWNER_DIGEST_AT and the others).
TIME_ZONE = os.environ.get("TIME_ZONE", "America/Toronto")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # A CSV import's upload, between its preview and its confirmation (contacts.setup.
    # imports). Each web server must see the same files: with more than one, make this a
    # shared folder or an object store (django-storages' S3Storage, for one).
    "imports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": VAR_DIR / "imports",
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Email: the console in development, SMTP from the environment in production. With
# EMAIL_FILE_PATH, each email is written to a file in that folder and sent nowhere: the
# fault test reads there what its workers sent.
if os.environ.get("EMAIL_FILE_PATH"):
    MAILERS: dict[str, dict[str, object]] = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": os.environ["EMAIL_FILE_PATH"]},
        }
    }
elif DEBUG and not os.environ.get("EMAIL_HOST"):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ.get("EMAIL_HOST", "localhost"),
                "port": envint("EMAIL_PORT", "587"),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": envbool("EMAIL_USE_TLS", "1"),
                "timeout": 10,
            },
        }
    }
# Where links in emails point. Required in production: a digest must link to the real site.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
if not DEBUG and not SITE_URL:
    raise ImproperlyConfigured("Production settings (DEBUG off) need SITE_URL in the environment.")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Doorstep <doorstep@localhost>")

# Phones are shared: a session ends after this long without a request.
SESSION_COOKIE_AGE = envint("SESSION_IDLE_MINUTES", "120") * 60
# Renewed by the requests that use it, once a minute at most (organizing.faults).
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
# Scripts of ours read the token from the page (hx-headers), never from the cookie.
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "1")
    # The load balancer's health check speaks plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", str(365 * 24 * 3600))
    # On for a site that lives on its own domain; turn off where a subdomain is still HTTP.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "1")
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "1")

# No inline script, no eval: htmx is configured for it in base.html.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "worker-src": [CSP.SELF],
    "manifest-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "personal_data": {"()": "organizing.logs.RedactPersonalData"},
        "forbidden": {"()": "organizing.logs.ForbiddenInOneLine"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["forbidden", "personal_data"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Django's own console handler (on with DEBUG) would write its records unredacted:
    # they go to the root's instead, in the web server and in the worker alike.
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}

# Celery. Without REDIS_URL the broker is a folder on disk: the web server, the worker
# and beat of `make run` share it with no server to install.
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A request that hands a task over (a password link) waits at most this long for Redis
    # (and /healthz for its probe). The worker's BRPOP is unaffected: it reads its socket
    # only once the event loop has seen a reply there.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "socket_connect_timeout": REDIS_TIMEOUT,
        "socket_timeout": REDIS_TIMEOUT,
    }
else:
    BROKER_DIR = VAR_DIR / "broker"
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "store_processed": False,
        # Where the worker's exchanges are noted; kombu's default is ./control.
        "control_folder": str(BROKER_DIR / "control"),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat wakes at least this often, so a standby beat tries for the lock as often.
CELERY_BEAT_MAX_LOOP_INTERVAL = 30
if REDIS_URL:
    # Any number of beat processes may run: RedBeat keeps the schedule in Redis, and only
    # the one holding its lock sends tasks; the others wait for it. The holder renews the
    # lock every loop; if it dies, a standby takes over once the lock times out. See
    # organizing/beat.py for a Redis outage.
    CELERY_BEAT_SCHEDULER = "organizing.beat.OneBeatScheduler"
    CELERY_REDBEAT_REDIS_URL = REDIS_URL
    CELERY_REDBEAT_REDIS_OPTIONS = {"socket_connect_timeout": 3, "socket_timeout": 10}
    CELERY_REDBEAT_LOCK_TIMEOUT = envint("BEAT_LOCK_TIMEOUT", "150")

# When the scheduled jobs are due, local time (TIME_ZONE): the owners' digests and the
# committee's list of contacts needing an owner every day, the pace and the committee's
# digest on Mondays. Beat fires each of them every quarter hour, and each does what is due
# and not yet done (contacts.lapse.schedule): a firing lost to a broker outage, a restart
# or a deploy is made up by the next one, the same day (the same week for Monday's).
OWNER_DIGEST_AT = dt.time.fromisoformat(os.environ.get("OWNER_DIGEST_AT", "07:00"))
ORPHAN_DIGEST_AT = dt.time(7, 15)
PACE_AT = dt.time(6, 15)
COMMITTEE_DIGEST_AT = dt.time(7, 30)
# CATCH_UP_SECONDS fires them that often instead: the fault test cannot wait a quarter hour.
CATCHING_UP: crontab | dt.timedelta = (
    dt.timedelta(seconds=envint("CATCH_UP_SECONDS", "0"))
    if os.environ.get("CATCH_UP_SECONDS")
    else crontab(minute="*/15")
)

# The static beat schedule, reviewed like code. The hourly lapse job works out every
# contact's state afresh: a missed hour is covered by the next; so does closing meetings.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "flag-lapsed": {"task": "contacts.flag_lapsed", "schedule": crontab(minute=5)},
    # Before the lapse job: a no-show's follow-up is planned before it could lapse them.
    "close-meetings": {"task": "contacts.close_meetings", "schedule": crontab(minute=0)},
    "owner-digests": {"task": "contacts.send_owner_digests", "schedule": CATCHING_UP},
    "paces": {"task": "contacts.take_paces", "schedule": CATCHING_UP},
    "orphan-digests": {"task": "contacts.send_orphan_digests", "schedule": CATCHING_UP},
    "committee-digests": {"task": "contacts.send_committee_digests", "schedule": CATCHING_UP},
}
