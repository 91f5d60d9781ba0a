"""Django's PostgreSQL backend, with its health check skipped on a connection that answered a moment ago.

Channels closes stale connections around every `database_sync_to_async` call, so with `CONN_HEALTH_CHECKS` Django
sends a `SELECT 1` before the first query of each call: three of the fourteen round trips of a streamed turn, about
0.25 ms each (bench/bench_concurrent.py, docs/PERFORMANCE.md). The check is there for a connection that died while
it sat idle: a server restart, a proxy's or a firewall's idle timeout. A connection whose last call used it and
ended without a database error less than FRESH_FOR seconds ago is taken as it is: no server restarts that fast,
and a connection cut in that moment fails its next query, as it would if it were cut right after a check.
A call that did hit a database error, or a connection idle for longer, is checked as Django checks it.
"""
import time

from django.db.backends.postgresql import base

FRESH_FOR = 0.1  # seconds


class DatabaseWrapper(base.DatabaseWrapper):
    answered_at = float("-inf")  # when the last call that used this connection ended without a database error
    used = False  # this call asked for a cursor

    def _cursor(self, name=None):
        self.used = True
        return super()._cursor(name)

    def close_if_unusable_or_obsolete(self):
        """Run at the end of each call (and at its start): stamp a connection the call used without an error."""
        if self.connection is not None and self.used and not self.errors_occurred:
            self.answered_at = time.monotonic()
        self.used = False
        super().close_if_unusable_or_obsolete()

    def close_if_health_check_failed(self):
        if self.connection is not None and time.monotonic() - self.answered_at < FRESH_FOR:
            self.health_check_done = True
        super().close_if_health_check_failed()
