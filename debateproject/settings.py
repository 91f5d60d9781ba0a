"""One settings module; every value comes from the environment through debateproject.env."""
import os
from pathlib import Path

import dj_database_url

from debateproject.env import (APP_ENV_VARS, ensure_dir, envbool, envbool_pin, envfloat, envint, envlist, envsecret,
                               envstr)

# LiteLLM must never reach the internet: its price list and tokenizers come from the package.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("ARENA_VAR_DIR", str(BASE_DIR / "var")))
# Made here, before anything needs it: the SQLite file, the secret key, the local model and its log live in it,
# and every entry point (manage.py, daphne, pytest) loads these settings first, whatever the secret's source.
ensure_dir("ARENA_VAR_DIR", VAR_DIR)
APP_ENV_VARS.add("SECRET_KEY")

SECRET_KEY = envsecret("DJANGO_SECRET_KEY", VAR_DIR / "secret_key")
DEBUG = envbool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# Where the app is reachable, for the links that commands print.
SITE_URL = envstr("ARENA_SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "ninja",  # serves Swagger UI's files itself for /api/docs: no CDN
    "providers",
    "debates",
    "accounts",
    "ratings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "debateproject.urls"
ASGI_APPLICATION = "debateproject.asgi.application"

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
            ],
        },
    },
]

DATABASES = {
    # Reused connections: opening one cost ~5 ms on PostgreSQL per socket handshake, and ~1.5 ms on SQLite per trip
    # to the database thread (a connection and its PRAGMAs each time), which every streamed delta's commit makes.
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Debates write from background tasks while requests write too, each on a connection of its own. A transaction
    # that begins by reading and then writes fails at once with "database is locked" when another connection
    # writes, whatever the busy timeout: so every transaction takes the write lock when it begins (IMMEDIATE) and
    # waits for it up to the timeout. WAL lets readers carry on beside the writer; NORMAL is safe with WAL.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE", "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that tests can run the real commands in a second process against it.
    # One per test run, so that two runs side by side never share a file.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}  # likewise
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same backend, with the health check skipped on a connection that answered a moment ago: one round trip
    # fewer at every trip to the database thread (debateproject/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "debateproject.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py's pool defaults to 100 connections, too few for a busy debate page; and redis-py 8's
            # 5 s socket timeout kills channels-redis's 5 s blocking read: it must be longer than that.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "max_connections": 1000, "socket_timeout": 15}],
                       "capacity": 1000},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# ---- LLM gateway ---------------------------------------------------------------------------
# Pins the backend at deploy time ("litellm" or "legacy"); empty means the database decides.
LLM_BACKEND_PIN = envstr("ARENA_LLM_BACKEND", "")
# Pins the gateway setting "allow private networks" (true or false); empty means the database decides.
ALLOW_PRIVATE_NETWORKS_PIN = envbool_pin("ARENA_ALLOW_PRIVATE_NETWORKS")
# A whole call may take this long; a stream must produce its first chunk, and each next one, sooner.
LLM_TIMEOUT_SECONDS = envfloat("ARENA_LLM_TIMEOUT", 120.0)
LLM_FIRST_CHUNK_TIMEOUT_SECONDS = envfloat("ARENA_LLM_FIRST_CHUNK_TIMEOUT", 30.0)
# Failures that retrying can fix (429, 5xx, timeouts, a cut stream) are retried this many times per call (a model
# row may say otherwise), after an exponential backoff with jitter from this many seconds, at most 8 s; a
# provider's Retry-After is honoured up to the cap.
LLM_RETRIES = envint("ARENA_LLM_RETRIES", 2)
LLM_RETRY_BACKOFF_SECONDS = envfloat("ARENA_LLM_RETRY_BACKOFF", 0.5)
LLM_RETRY_AFTER_CAP_SECONDS = envfloat("ARENA_LLM_RETRY_AFTER_CAP", 30.0)
# The port of the embedded llama.cpp server that `manage.py local_llm start` runs.
LOCAL_LLM_PORT = envint("ARENA_LOCAL_LLM_PORT", 8080)

# The leaderboard: bootstrap rounds per fit, and whether a new verdict or vote starts the default board's rebuild
# at once (off in tests, which rebuild when they ask; a request never fits, it only queues a rebuild).
LEADERBOARD_BOOTSTRAP_ROUNDS = envint("ARENA_LEADERBOARD_BOOTSTRAP_ROUNDS", 1000)
# The fit's BLAS calls are small: a pool of BLAS threads only spins against the server's own work, and made the
# fit 2 to 4 times slower on two cores (bench/bench_ratings.py). Set before numpy is first imported; an operator's
# own value wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
LEADERBOARD_REBUILD_ON_CHANGE = envbool("ARENA_LEADERBOARD_REBUILD_ON_CHANGE", True)

# Automatic takeover: each daphne process claims the debates whose runner died and runs them on (debates.takeover).
# Off: a debate whose runner died is shown as interrupted, and someone resumes it.
AUTO_TAKEOVER = envbool("ARENA_AUTO_TAKEOVER", True)

# Import LiteLLM in a background thread when the ASGI server starts (off in tests that time imports).
LLM_PREWARM = envbool("ARENA_LLM_PREWARM", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "providers": {"handlers": ["console"], "level": envstr("ARENA_LOG_LEVEL", "INFO"), "propagate": False},
        "debates": {"handlers": ["console"], "level": envstr("ARENA_LOG_LEVEL", "INFO"), "propagate": False},
        "LiteLLM": {"level": "WARNING"},
    },
}
