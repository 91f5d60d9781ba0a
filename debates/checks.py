"""Scale-out configuration problems surface at start-up, not when the first watcher connects."""
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_redis_reachable(app_configs, **kwargs) -> list[Error]:
    if not settings.REDIS_URL:
        return []
    url = urlsplit(settings.REDIS_URL)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), timeout=2):
            return []
    except OSError as exc:
        return [Error(
            f"REDIS_URL points at {url.hostname}:{url.port or 6379}, which does not answer ({exc}); "
            "live debates cannot reach their watchers.",
            hint="Start Redis, correct REDIS_URL, or unset it to use the in-memory layer on a single process.",
            id="debates.E001",
        )]
