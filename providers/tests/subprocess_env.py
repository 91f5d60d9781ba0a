"""What a subprocess of a test (a command, daphne) needs to reach the database this test run uses."""
from urllib.parse import quote

from django.db import connection


def current_database_url() -> str:
    """The DATABASE_URL of the test database, whichever engine the run is on (SQLite file or PostgreSQL)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    if connection.vendor == "postgresql":
        auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{quote(db['NAME'])}"
    raise NotImplementedError(f"no subprocess URL for the {connection.vendor} engine")
