"""Scale-out configuration problems surface at start-up, not when the first watcher connects."""
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_redis_reachable(app_configs, **kwargs) -> list[Error]:
    if not settings.REDIS_URL:
        return []
    import redis  # channels-redis's own client: it reads every form of REDIS_URL the layer does (unix://, rediss://)

    url = urlsplit(settings.REDIS_URL)
    where = url.path if url.scheme == "unix" else f"{url.hostname}:{url.port or 6379}"  # never its password
    try:
        with redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2) as client:
            client.ping()
        return []
    except (redis.RedisError, OSError, ValueError) as exc:
        return [Error(
            f"REDIS_URL points at {where}, which does not answer ({type(exc).__name__}); "
            "live debates cannot reach their watchers.",
            hint="Start Redis, correct REDIS_URL, or unset it to use the in-memory layer on a single process.",
            id="debates.E001",
        )]
