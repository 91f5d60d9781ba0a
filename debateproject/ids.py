"""Row ids as people type them: in a query string, a form field, a command's argument."""
MAX_ID = 2 ** 63 - 1  # the largest integer SQLite and PostgreSQL's bigint hold: a larger one overflows a query


def parse_id(text: str | None) -> int | None:
    """`text` as a row id, or None when it cannot be one. Only ASCII digits: `str.isdigit` is also true of "²" and
    other digits that `int` refuses."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None
