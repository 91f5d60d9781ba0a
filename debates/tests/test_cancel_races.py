"""A cancel, a stop or a crash landing at an awkward moment: the debate still ends as asked, once, and its lease is
never left held by a runner that is gone (a takeover would otherwise run a cancelled debate to its end). The
moments are made wide by slowing one database step; the steps themselves run as they do in the server."""
import asyncio
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from debates import orchestrator, services, takeover, tasks
from debates.models import Debate, DebateStatus, Turn, Verdict
from debates.orchestrator import DebateRunner
from debates.tests.conftest import numbered, valid_verdict
from debates.tests.test_orchestrator import is_judge

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def started(debate_on, openai_server):
    judged = []

    def respond(body: dict) -> str:
        if is_judge(body):
            judged.append(body)
            return valid_verdict(body)
        return "I argue, and at some length, as debaters do."

    openai_server.responder = respond
    debate = debate_on(openai_server, rounds=1, swap_check=False)
    services.debate_mark_started(debate_id=debate.pk)
    debate.judged = judged
    return debate


def slowed(monkeypatch, name: str, seconds: float, before=None):
    real = getattr(orchestrator, name)

    def slow(*args):
        if before:
            before()
        time.sleep(seconds)
        return real(*args)

    monkeypatch.setattr(orchestrator, name, slow)
    return real


async def test_a_cancel_while_the_runner_claims_its_lease_cancels_the_debate(started, monkeypatch, settings):
    settings.AUTO_TAKEOVER = True
    slowed(monkeypatch, "_claim", 0.3)
    task = tasks.launch(started.pk)
    await asyncio.sleep(0.05)

    await services.debate_cancel(debate_id=started.pk)  # what POST /cancel runs: 202
    await asyncio.gather(task, return_exceptions=True)

    row = await Debate.objects.aget(pk=started.pk)
    assert (row.status, row.runner_token) == (DebateStatus.CANCELLED, "")
    await Debate.objects.filter(pk=started.pk).aupdate(heartbeat_at=timezone.now() - timedelta(minutes=1))
    assert await takeover.take_over_orphans() == []  # nothing left for another process to run on
    assert await Turn.objects.filter(debate_id=started.pk).acount() == 0


async def test_cancel_pressed_twice_during_a_commit_still_cancels_with_the_next_seq(started, monkeypatch):
    slowed(monkeypatch, "_mark_running", 0.4)
    events: list[dict] = []
    task = asyncio.create_task(DebateRunner(started.pk, listener=events.append).run())
    await asyncio.sleep(0.15)

    task.cancel()
    await asyncio.sleep(0.05)
    task.cancel()  # the second click
    await asyncio.gather(task, return_exceptions=True)

    row = await Debate.objects.aget(pk=started.pk)
    assert (row.status, row.runner_token) == (DebateStatus.CANCELLED, "")
    assert [e["type"] for e in events] == ["debate.started", "debate.cancelled"]
    assert numbered(events) == [1, 2] and row.last_seq == 2


async def test_a_cancel_asked_of_a_runner_that_had_died_does_not_cancel_the_resume(started, settings):
    settings.AUTO_TAKEOVER = False
    # Its runner, in another process, beat a moment ago, then died: the cancel is left for it, which never comes.
    await Debate.objects.filter(pk=started.pk).aupdate(runner_token="gone", runner="elsewhere:42",
                                                       heartbeat_at=timezone.now())
    await services.debate_cancel(debate_id=started.pk)
    await Debate.objects.filter(pk=started.pk).aupdate(heartbeat_at=timezone.now() - timedelta(minutes=1))

    await services.debate_resume(debate_id=started.pk)
    await tasks._running[started.pk]

    row = await Debate.objects.aget(pk=started.pk)
    assert row.status == DebateStatus.COMPLETED and not row.cancel_requested


async def test_a_cancel_asked_from_another_process_as_the_debate_starts_is_kept(started, openai_server,
                                                                                 monkeypatch):
    openai_server.chunk_delay = 0.05  # turns that take a while, as real ones do

    def cancel_from_elsewhere() -> None:  # another daphne's POST /cancel, landing as debate.started commits
        Debate.objects.filter(pk=started.pk).update(cancel_requested=True)

    slowed(monkeypatch, "_mark_running", 0.0, before=cancel_from_elsewhere)
    monkeypatch.setattr(orchestrator, "HEARTBEAT_SECONDS", 0.1)

    await asyncio.gather(asyncio.create_task(DebateRunner(started.pk).run()), return_exceptions=True)

    row = await Debate.objects.aget(pk=started.pk)
    assert row.status == DebateStatus.CANCELLED
    assert not started.judged  # stopped at the next beat, long before any verdict


async def test_a_debate_stopped_between_its_verdict_and_its_completion_is_not_judged_again(started, monkeypatch,
                                                                                          settings):
    settings.AUTO_TAKEOVER = True
    loop, saving = asyncio.get_running_loop(), asyncio.Event()
    slowed(monkeypatch, "_save_verdict", 0.3, before=lambda: loop.call_soon_threadsafe(saving.set))
    task = tasks.launch(started.pk)
    await saving.wait()

    tasks.stop_all()  # the server stops gracefully as the verdict commits: the lease is handed on
    await asyncio.gather(task, return_exceptions=True)
    verdict = await Verdict.objects.aget(debate_id=started.pk)
    assert await takeover.take_over_orphans() == [started.pk]
    await tasks._running[started.pk]

    row = await Debate.objects.aget(pk=started.pk)
    assert row.status == DebateStatus.COMPLETED
    assert len(started.judged) == 1  # paid once
    assert (await Verdict.objects.aget(debate_id=started.pk)).pk == verdict.pk  # the verdict watchers saw
