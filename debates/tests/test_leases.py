"""One writer per debate: a runner holds a lease, every write it makes is fenced by it and by the expected seq, a
runner whose lease is taken writes nothing more, a failing heartbeat stops the runner cleanly, a cancel during a
commit never skips a seq, and resync requests are rate-limited."""
import asyncio
import threading

import pytest
from channels.db import database_sync_to_async

from debates import orchestrator
from debates.events import EventStream, LeaseLost
from debates.tests.factories import DebateFactory
from debates.models import Debate, DebateStatus, Turn
from debates.tests.test_orchestrator import is_judge, make, run
from debates.tests.conftest import numbered, valid_verdict

pytestmark = pytest.mark.django_db(transaction=True)
SPEECH = " ".join(f"word{i}" for i in range(60))


def slow_seats(server, chunk_delay: float = 0.02) -> None:
    server.responder = lambda body: valid_verdict(body) if is_judge(body) else SPEECH
    server.chunk_delay = chunk_delay


async def test_a_runner_whose_lease_is_taken_writes_nothing_more(debate_on, openai_server):
    slow_seats(openai_server)
    debate = await make(debate_on, openai_server, rounds=1)
    seen: list[dict] = []
    stolen: dict = {}

    async def listener(event: dict) -> None:
        seen.append(event)
        if event["type"] == "turn.delta" and not stolen:
            def steal() -> None:
                Debate.objects.filter(pk=debate.pk).update(runner_token="another-runner")
                stolen.update(Debate.objects.values("last_seq").get(pk=debate.pk))
            await database_sync_to_async(steal)()

    await orchestrator.DebateRunner(debate.pk, listener=listener).run()

    row = await Debate.objects.aget(pk=debate.pk)
    assert row.last_seq == stolen["last_seq"] == seen[-1]["seq"]  # not one event after the theft
    assert row.status == DebateStatus.RUNNING and row.runner_token == "another-runner"  # the thief's to finish
    turn = await Turn.objects.aget(debate_id=debate.pk, round=1, seat__position=1)
    assert turn.status == "streaming" and turn.text != SPEECH  # cut where it was taken, for the new runner to redo


async def test_the_debate_fields_an_event_sets_are_written_with_its_seq_or_not_at_all():
    debate = await database_sync_to_async(DebateFactory)(runner_token="ours", last_seq=4)
    events = EventStream(debate.pk, 4, token="ours")

    await events.emit("round.started", {"round": 2}, debate_fields={"current_round": 2, "spent_usd": 0.25})
    await database_sync_to_async(Debate.objects.filter(pk=debate.pk).update)(runner_token="another-runner")
    with pytest.raises(LeaseLost):
        await events.emit("round.started", {"round": 3}, debate_fields={"current_round": 3, "spent_usd": 0.5})

    row = await Debate.objects.aget(pk=debate.pk)
    assert (row.last_seq, row.current_round, row.spent_usd) == (5, 2, 0.25)


async def test_a_second_runner_for_a_running_debate_does_not_run(debate_on, openai_server):
    slow_seats(openai_server, chunk_delay=0.05)
    debate = await make(debate_on, openai_server, rounds=1)
    first = asyncio.create_task(run(debate.pk))
    while not (await Debate.objects.aget(pk=debate.pk)).runner_token:
        await asyncio.sleep(0.01)

    second = await run(debate.pk)  # returns at once: the lease is held

    assert second == []
    await first
    row = await Debate.objects.aget(pk=debate.pk)
    assert row.status == DebateStatus.COMPLETED and row.runner_token == ""  # freed when it finished


async def test_a_failing_heartbeat_stops_the_runner_cleanly(debate_on, openai_server, monkeypatch):
    slow_seats(openai_server, chunk_delay=0.05)
    debate = await make(debate_on, openai_server, rounds=2)
    beats = []

    def failing_beat(debate_id: int, token: str):
        beats.append(token)
        if len(beats) > 1:
            raise RuntimeError("the database is gone")
        return True, False

    monkeypatch.setattr(orchestrator, "_beat_once", failing_beat)
    monkeypatch.setattr(orchestrator, "HEARTBEAT_SECONDS", 0.2)

    events = await run(debate.pk)

    row = await Debate.objects.aget(pk=debate.pk)
    assert row.status == DebateStatus.FAILED and "could not keep its heartbeat" in row.failure_reason
    assert events[-1]["type"] == "debate.failed"
    assert numbered(events) == list(range(events[0]["seq"], events[-1]["seq"] + 1))
    assert await Turn.objects.filter(debate_id=debate.pk, round=2, status="completed").acount() < 2


async def test_a_cancel_during_a_commit_never_skips_a_seq(debate_on, openai_server):
    debate = await make(debate_on, openai_server, rounds=1)
    published: list[dict] = []
    stream = EventStream(debate.pk, 0, listener=published.append)
    in_commit, release = threading.Event(), threading.Event()

    def slow_change() -> None:
        in_commit.set()
        release.wait(5)

    emitting = asyncio.create_task(stream.emit("round.started", {"round": 1}, slow_change))
    await asyncio.to_thread(in_commit.wait, 5)
    emitting.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await emitting

    ending = await stream.emit("debate.cancelled", {"status": "cancelled"})

    assert [event["seq"] for event in published] == [1, 2] and ending["seq"] == 2
    assert (await Debate.objects.aget(pk=debate.pk)).last_seq == 2


async def test_resync_requests_are_rate_limited(debate_on, openai_server):
    from debates.tests.test_live_channel import connect, session_cookie

    debate = await make(debate_on, openai_server, rounds=1)
    communicator, connected, _ = await connect(debate.pk, await session_cookie())
    assert connected
    assert (await communicator.receive_json_from())["type"] == "snapshot"

    for _ in range(10):
        await communicator.send_json_to({"type": "resync"})
    replies = [await communicator.receive_json_from(timeout=10) for _ in range(10)]
    await communicator.disconnect()

    kinds = [reply["type"] for reply in replies]
    assert kinds.count("snapshot") == 3  # the burst
    assert kinds.count("error") == 7 and replies[-1]["payload"]["code"] == "rate_limited"


async def test_a_heartbeat_after_the_ending_commit_is_not_taken_for_a_stolen_lease(monkeypatch):
    """The ending commit frees the lease; a heartbeat landing between it and the runner's return finds it free."""
    monkeypatch.setattr(orchestrator, "_beat_once", lambda debate_id, token: (False, False))
    runner = orchestrator.DebateRunner(1)
    main = asyncio.create_task(asyncio.sleep(0.2))
    runner.ending = True

    await runner._beat(main, "a-token")

    await main  # not cancelled with LEASE_LOST (which logs "another runner took the lease")
