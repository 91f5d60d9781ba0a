"""Who a WebSocket is, read off the database thread that every debate of the process commits on.

Channels' AuthMiddleware reads the session and the user on that one thread (database_sync_to_async's default):
a thousand watchers connecting at once queued there, behind each other and behind every debate's commits, for
longer than daphne waits for a handshake (5 s). The same reads, on the worker threads instead.
"""
from channels.auth import AuthMiddleware, get_user
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware

_read_user = database_sync_to_async(get_user.func, thread_sensitive=False)  # get_user's own code, elsewhere


class AuthOffTheDatabaseThread(AuthMiddleware):
    async def resolve_scope(self, scope) -> None:
        scope["user"]._wrapped = await _read_user(scope)


def auth_middleware_stack(inner):
    """channels.auth.AuthMiddlewareStack, with the user read on a worker thread."""
    return CookieMiddleware(SessionMiddleware(AuthOffTheDatabaseThread(inner)))
