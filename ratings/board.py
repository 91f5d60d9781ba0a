"""The leaderboard: built from outcomes in the background, kept as a Board row per set of filters, served from it.

A request never fits anything: it reads the board for its filters; when the outcomes changed since the board was
built (or there is none yet) it asks for a rebuild in the background and shows what it has, saying so.
"""
import contextlib
import logging
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Count, Max
from django.utils import timezone

from debates.models import Debate, Verdict
from providers.models import LLMModel
from ratings.models import Board, LeaderboardSetting, Vote
from ratings.outcomes import Filters, collect

logger = logging.getLogger("ratings")
SEED = 20261201  # fixed: a rebuild from the same outcomes gives identical numbers
LOCK_TIMEOUT_SECONDS = 5

_builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leaderboard")
_pending: set[str] = set()
_lock = threading.Lock()


def outcomes_version() -> str:
    """Names the state of every input of every board: a verdict, a vote, a tag or the anchor that changes changes
    it. A few aggregate queries, cheap enough for every request."""
    verdicts = Verdict.objects.aggregate(n=Count("pk"), last=Max("pk"))
    votes = Vote.objects.aggregate(n=Count("pk"), last=Max("updated_at"))
    tags = Debate.tags.through.objects.aggregate(n=Count("pk"), last=Max("pk"))
    completed = Debate.objects.filter(verdict__isnull=False).aggregate(last=Max("finished_at"))
    setting = LeaderboardSetting.load()
    return (f"v{verdicts['n']}.{verdicts['last']}-u{votes['n']}.{votes['last']}-t{tags['n']}.{tags['last']}"
            f"-f{completed['last']}-a{setting.anchor_model_id}-m{setting.min_debates}")


def build(filters: Filters) -> dict:
    """The board for these filters, computed now (the background builder and the terminal command call this)."""
    # numpy and scipy load here, on the builder's thread: a verdict's commit asks for a rebuild (ratings.signals),
    # and loading them there, on the database thread every debate of the process shares, stalled them all ~1 s.
    from ratings import fit
    from ratings.trust import trust_figures

    outcomes = collect(filters)
    setting = LeaderboardSetting.load()
    anchor, min_debates = setting.anchor_model_id, max(1, setting.min_debates)
    models = {m.pk: m for m in LLMModel.objects.select_related("provider").filter(
        pk__in={o.model_a for o in outcomes} | {o.model_b for o in outcomes})}
    rows = []
    if outcomes:
        arrays, keys = fit.outcomes_from_records((o.model_a, o.model_b, o.result, o.debate_id) for o in outcomes)
        table = fit.rate_models(arrays, rounds=settings.LEADERBOARD_BOOTSTRAP_ROUNDS, seed=SEED,
                                anchor=keys.index(anchor) if anchor in keys else None)
        for row in table:
            model = models[keys[row.model]]
            rows.append({"model_id": model.pk, "model": model.litellm_model_name, "display_name": model.display_name,
                         "rating": row.rating, "lower": row.lower, "upper": row.upper, "wins": row.wins,
                         "losses": row.losses, "ties": row.ties, "games": row.games, "debates": row.debates})
    # Every model's outcomes count in the fit (they place the others too); a model with too few debates is listed
    # after the ranked ones, with no rank.
    for row in rows:
        row["provisional"], row["rank"] = row["debates"] < min_debates, None
    rows.sort(key=lambda r: (r["provisional"], -r["rating"]))
    ranked = [row for row in rows if not row["provisional"]]
    for rank, row in enumerate(ranked, start=1):
        row["rank"] = rank
    return {"filters": filters.as_dict(), "models": rows, "outcomes": len(outcomes),
            "debates": len({o.debate_id for o in outcomes}), "anchor_model_id": anchor, "min_debates": min_debates,
            "unranked": len(rows) - len(ranked),
            "bootstrap_rounds": settings.LEADERBOARD_BOOTSTRAP_ROUNDS, "seed": SEED, "trust": trust_figures(filters.debates()),
            "built_at": timezone.now().isoformat()}


def current(filters: Filters) -> tuple[dict | None, bool]:
    """(the board as last built or None, whether it is current); asks for a rebuild when it is not."""
    version = outcomes_version()
    board = Board.objects.filter(key=filters.key()).first()
    fresh = board is not None and board.version == version
    if not fresh:
        rebuild_soon(filters)
    return (board.data if board else None), fresh


def rebuild_soon(filters: Filters) -> None:
    """Queue a rebuild of this board on the background builder, once however often it is asked for."""
    key = filters.key()
    with _lock:
        if key in _pending:
            return
        _pending.add(key)
    _builder.submit(_rebuild, filters)


def _rebuild(filters: Filters) -> None:
    try:
        # Inside the try: with the database out of reach even tidying the connection raises, and a build that
        # raised before the `finally` left its board "being built" for as long as the process lived.
        close_old_connections()
        _give_up_on_locks()
        version = outcomes_version()  # before reading outcomes: a change during the build leaves it stale
        started = time.monotonic()
        data = build(filters)
        Board.objects.update_or_create(key=filters.key(), defaults={
            "version": version, "data": data, "build_seconds": time.monotonic() - started})
    except Exception:  # noqa: BLE001 - the next request asks again; the page says the board is not ready
        logger.exception("leaderboard %s could not be built", filters.key())
    finally:
        with _lock:
            _pending.discard(filters.key())
        with contextlib.suppress(Exception):  # a connection that cannot even be closed is closed next time
            close_old_connections()


def _give_up_on_locks() -> None:
    """A board is a cache: a build that would queue behind another transaction's lock for long fails instead (the
    next request asks again) rather than hold the one builder, and every board behind it, for as long as that lasts.
    SQLite's writers already give up after the busy timeout."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{LOCK_TIMEOUT_SECONDS * 1000:.0f}"])


def wait_idle(timeout: float = 30.0) -> None:
    """Block until every queued build has finished (for tests and the benchmark)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _lock:
            if not _pending:
                return
        time.sleep(0.02)
    raise TimeoutError(f"the leaderboard builds {sorted(_pending)} did not finish in {timeout:g} s; "
                       f"the builder is at:\n{_builder_stacks()}")


def _builder_stacks() -> str:
    """Where each builder thread is, so a build that never ends says why."""
    frames = sys._current_frames()
    return "\n".join(f"{thread.name}:\n" + "".join(traceback.format_stack(frames[thread.ident]))
                     for thread in threading.enumerate()
                     if thread.name.startswith("leaderboard") and thread.ident in frames) or "(no builder thread)"
