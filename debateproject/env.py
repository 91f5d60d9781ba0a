"""Typed helpers that read configuration from the environment and fail loudly.

Every variable the application reads for its own configuration is listed in
APP_ENV_VARS, so that an admin cannot name one of them as a provider's key
variable and have our own secrets sent to a third-party server.
"""
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

APP_ENV_VARS: set[str] = set()
# Prefixes of variables that configure the app or its libraries; never a provider key.
APP_ENV_PREFIXES = ("DJANGO_", "ARENA_", "LITELLM_", "DATABASE_", "REDIS_", "PG")


def _read(name: str) -> str | None:
    APP_ENV_VARS.add(name)
    return os.environ.get(name)


def envstr(name: str, default: str) -> str:
    value = _read(name)
    return default if value is None or value == "" else value


def envbool(name: str, default: bool) -> bool:
    value = _read(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envbool_pin(name: str) -> bool | None:
    """True or False when NAME is set, None when it is not: a deploy-time pin that wins over a database row."""
    value = _read(name)
    return None if value is None or value == "" else envbool(name, False)


def envfloat(name: str, default: float) -> float:
    value = _read(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def envint(name: str, default: int) -> int:
    value = _read(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def envlist(name: str, default: list[str]) -> list[str]:
    value = _read(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def envsecret(name: str, fallback_file: Path) -> str:
    """The secret from NAME, else NAME_FILE, else a random one kept in fallback_file."""
    value = _read(name)
    if value:
        return value
    path = _read(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    fallback_file.parent.mkdir(parents=True, exist_ok=True)
    if not fallback_file.exists():
        fallback_file.write_text(secrets.token_urlsafe(50))
        fallback_file.chmod(0o600)
    return fallback_file.read_text().strip()


def ensure_dir(name: str, path: Path) -> Path:
    """Create the directory a setting names, or say which setting to fix."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}: cannot create {path} ({exc.strerror}); point it at a writable folder") from None
    return path


def is_app_env_var(name: str) -> bool:
    upper = name.upper()
    return upper in APP_ENV_VARS or upper.startswith(APP_ENV_PREFIXES)
