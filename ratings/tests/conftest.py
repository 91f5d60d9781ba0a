import pytest


@pytest.fixture(autouse=True)
def builds_end_with_the_test():
    """A leaderboard build a test queued finishes before the next test's data arrives (or the database goes)."""
    yield
    from ratings import board

    board.wait_idle()
