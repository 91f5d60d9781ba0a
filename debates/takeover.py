"""Automatic takeover: a debate whose runner died is claimed by exactly one server process and run on from its
last completed turn (the turn that was cut off is redone; watchers see it reset).

Every daphne process sweeps every SWEEP_SECONDS, the first time as it starts. An orphan is an active debate whose
lease ran out, or at once one whose runner is known to have exited: it lived on this host in a process that no
longer exists, or its mark in the shared var directory is no longer held (leases.py). So a restarted server, or a
container that replaces another on the same volume, takes their debates back at start-up. A claim is a
compare-and-set on the lease token the sweep saw, so one process wins; on PostgreSQL the orphans are locked FOR
UPDATE SKIP LOCKED, so sweepers never wait on each other.

With takeover off (settings.AUTO_TAKEOVER, ARENA_AUTO_TAKEOVER=false) the sweep only frees the lease of a debate
whose runner died here, so that it shows as interrupted at once, and Resume stays manual."""
import asyncio
import logging
import random
import sys
import uuid

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from debates import leases, tasks
from debates.models import ACTIVE_STATUSES, RUNNER_STALE_AFTER, Debate

logger = logging.getLogger("debates.takeover")
SWEEP_SECONDS = 2.0
CLAIMS_PER_SWEEP = 20  # a process coming back to many orphans shares them with its peers over a few sweeps
_watch: asyncio.Task | None = None


def sweep(running_here: set[int], takeover: bool) -> list[tuple[int, str]]:
    """Claim the orphaned debates (or, with takeover off, free the leases of those whose runner died here).
    Returns (debate id, lease token) of each debate this process now holds and must run."""
    marked = leases.marked_runners()
    seen = list(Debate.objects.filter(status__in=ACTIVE_STATUSES)
                .filter(leases.lease_expired() | leases.runners_on_this_host() | Q(runner__in=marked))
                .exclude(pk__in=running_here).values_list("pk", "runner_token", "runner", "heartbeat_at"))
    stale_before = timezone.now() - RUNNER_STALE_AFTER
    expired = {pk for pk, _, _, beat in seen if beat is None or beat < stale_before}
    gone = {runner for runner in {runner for _, _, runner, _ in seen}
            if leases.died_here(runner) or (runner in marked and leases.marked_gone(runner))}
    died = {pk for pk, _, runner, _ in seen if runner in gone}
    for idle in set(marked) - {runner for _, _, runner, _ in seen}:
        leases.forget_mark(idle)  # a runner that holds no debate: its mark goes once its process has
    # As the sweep saw it: a claim is a compare-and-set on both, so a runner that renewed meanwhile keeps its lease.
    orphans = {pk: {"runner_token": token, "heartbeat_at": beat} for pk, token, _, beat in seen if pk in expired | died}
    if not takeover:  # shown as interrupted from now on (no heartbeat), for someone to resume
        for pk in died - expired:
            Debate.objects.filter(pk=pk, **orphans[pk]).update(heartbeat_at=None, runner_token="", runner="")
        return []
    if not orphans:
        return []
    claimed = []
    with transaction.atomic():
        locked = Debate.objects.filter(pk__in=list(orphans)[:CLAIMS_PER_SWEEP], status__in=ACTIVE_STATUSES)
        if connection.features.has_select_for_update_skip_locked:
            locked = locked.select_for_update(skip_locked=True)
        for pk in locked.values_list("pk", flat=True):
            token = uuid.uuid4().hex
            if Debate.objects.filter(pk=pk, **orphans[pk]).update(
                    runner_token=token, runner=leases.this_process(), heartbeat_at=timezone.now()):
                claimed.append((pk, token))
    return claimed


async def take_over_orphans() -> list[int]:
    """One sweep, and a runner launched for each debate it claimed."""
    claimed = await database_sync_to_async(sweep)(tasks.running_here(), settings.AUTO_TAKEOVER)
    for debate_id, token in claimed:
        logger.warning("debate %s: its runner is gone; taken over by %s", debate_id, leases.this_process())
        tasks.launch(debate_id, token=token)
    return [debate_id for debate_id, _ in claimed]


async def keep_watch() -> None:
    while True:
        try:
            await take_over_orphans()
        except Exception:  # noqa: BLE001 - the database may be away for a while: the next sweep tries again
            logger.exception("takeover sweep failed")
        # Jittered, so that processes started together do not sweep in step.
        await asyncio.sleep(SWEEP_SECONDS * random.uniform(0.75, 1.25))


def watch_from_server_start() -> None:
    """Under daphne, sweep from the moment the server runs until it stops (called from debateproject.asgi)."""
    reactor = sys.modules.get("twisted.internet.reactor")  # never import it: that would install one
    if reactor is None:  # not a server (a test, a management command): nothing to watch from
        return

    def start() -> None:
        global _watch
        _watch = asyncio.ensure_future(keep_watch())

    def stop() -> None:
        if _watch is not None:
            _watch.cancel()

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown", stop)
