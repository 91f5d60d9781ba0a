"""Who a WebSocket is, read off the database thread that every debate of the process commits on.

Channels' AuthMiddleware reads the session and the user on that one thread (database_sync_to_async's default):
a thousand watchers connecting at once queued there, behind each other and behind every debate's commits, for
longer than daphne waits for a handshake (5 s). The same reads, on the worker threads instead.

And the session is only read: Channels' SessionMiddleware also wraps every message the socket sends, to save a
session changed meanwhile, which a socket here never changes. That check at each send was about a sixth of the
server's work per frame when one event went to a thousand watchers (py-spy on bench/bench_fanout.py).
"""
from importlib import import_module
from types import SimpleNamespace

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware
from django.conf import settings
from django.contrib import auth


class SessionForReading:
    """scope["session"]: the session of the socket's cookie, loaded when first read (on a worker thread, by the
    user's read below), with the socket's sends left as they are."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope, receive, send):
        session = self.store(scope["cookies"].get(settings.SESSION_COOKIE_NAME))
        return await self.inner({**scope, "session": session}, receive, send)


def _user_of(scope: dict):
    """The session's user, checked as Django checks a request's (backend, session hash), else AnonymousUser."""
    if "session" not in scope:
        raise ValueError("The WebSocket's user is read from its session: SessionForReading must come first.")
    return auth.get_user(SimpleNamespace(session=scope["session"]))  # all get_user reads of a request


_read_user = database_sync_to_async(_user_of, thread_sensitive=False)


class AuthOffTheDatabaseThread(AuthMiddleware):
    async def resolve_scope(self, scope) -> None:
        scope["user"]._wrapped = await _read_user(scope)


def auth_middleware_stack(inner):
    """channels.auth.AuthMiddlewareStack, with the user read on a worker thread and the session only read."""
    return CookieMiddleware(SessionForReading(AuthOffTheDatabaseThread(inner)))
