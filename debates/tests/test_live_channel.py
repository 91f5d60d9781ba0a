"""The WebSocket channel through the real ASGI stack: origin check, session auth, snapshot, events, resync."""
import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from debateproject.asgi import application
from debates import services, tasks
from debates.models import Debate
from debates.tests.conftest import followed_text, numbered, scripted_responder

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def session_cookie() -> str:
    client = Client()
    client.force_login(User.objects.create_user("watcher", password="not-used-here-123"))
    return client.cookies["sessionid"].value


async def connect(debate_id: int, cookie: str | None, origin: str = "http://127.0.0.1:8000"):
    headers = [(b"host", b"127.0.0.1:8000"), (b"origin", origin.encode())]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/debates/{debate_id}/", headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def receive_until(communicator, event_type: str, timeout: float = 10) -> list[dict]:
    seen = []
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        seen.append(message)
        if message["type"] == event_type:
            return seen


@pytest.fixture
async def started(debate_on, openai_server):
    """A debate whose turns stream slowly enough to join in the middle of one."""
    openai_server.responder = scripted_responder()
    openai_server.chunk_delay = 0.03
    debate = await database_sync_to_async(debate_on)(openai_server, rounds=1)
    await database_sync_to_async(services.debate_mark_started)(debate_id=debate.pk)
    return debate


async def test_it_sends_a_snapshot_then_events_with_rising_seq(started):
    communicator, connected, _ = await connect(started.pk, await session_cookie())
    assert connected
    snapshot = await communicator.receive_json_from(timeout=5)
    assert snapshot["type"] == "snapshot"
    assert [s["display_name"] for s in snapshot["payload"]["seats"]] == ["Seat1", "Seat2"]

    task = tasks.launch(started.pk)
    events = await receive_until(communicator, "debate.completed")
    await task

    seqs = numbered(events)
    assert seqs == list(range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(seqs)))
    # A delta takes no number of its own: it carries the last numbered event's.
    for before, delta in zip(events, events[1:]):
        if delta["type"] == "turn.delta":
            assert delta["seq"] == before["seq"]
    assert {"turn.started", "turn.delta", "turn.completed", "judging.started", "verdict"} <= {e["type"] for e in events}
    completed = [e for e in events if e["type"] == "turn.completed"]
    assert completed[0]["payload"]["text"] == "I argue my case with conviction and evidence."
    # The page swaps the streamed text for the server's sanitised rendering of its Markdown.
    assert completed[0]["payload"]["text_html"] == "<p>I argue my case with conviction and evidence.</p>"
    verdict = next(e for e in events if e["type"] == "verdict")["payload"]["verdict"]
    assert (verdict["summary_html"], verdict["key_arguments_html"]) == (
        "<p>A close debate.</p>", ["<p>congestion costs</p>"])
    await communicator.disconnect()


def follow_text(snapshot: dict, events: list[dict], turn_id: int) -> list[str]:
    """The text of one turn as a watcher shows it after its snapshot and then after each delta."""
    shown = [next(t["text"] for t in snapshot["payload"]["turns"] if t["id"] == turn_id)]
    for event in events:
        if event["type"] == "turn.delta" and event["payload"]["turn_id"] == turn_id:
            shown.append(followed_text([event["payload"]], shown[-1]))
            assert shown[-1] is not None, "a gap: the watcher would have to resync"
    return shown


async def test_a_late_joiner_gets_the_text_in_progress(started, openai_server):
    speech = " ".join(f"word{i}" for i in range(80))  # about 2.4 s of speech: the late joiner comes mid-turn
    openai_server.responder = lambda body: scripted_responder()(body) if "impartial" in str(body) else speech
    cookie = await session_cookie()
    early, _, _ = await connect(started.pk, cookie)
    await early.receive_json_from(timeout=5)
    task = tasks.launch(started.pk)
    seen = await receive_until(early, "turn.delta")
    seen += [await early.receive_json_from(timeout=5) for _ in range(3)]  # a few words in

    late, connected, _ = await connect(started.pk, cookie)
    snapshot = await late.receive_json_from(timeout=5)
    in_progress = [t for t in snapshot["payload"]["turns"] if t["status"] == "streaming"]
    assert connected and len(in_progress) == 1
    turn = in_progress[0]
    early_text = follow_text({"payload": {"turns": [{"id": turn["id"], "text": ""}]}}, seen, turn["id"])[-1]
    # The runner is in this process: the snapshot holds the text to the last token, not as last saved.
    assert turn["text"].startswith(early_text) and early_text != ""
    assert turn["text_html"] is None  # text in progress is text, until the turn is completed
    # From here the late joiner's deltas continue its text exactly, to the turn's last word.
    events = await receive_until(late, "turn.completed")
    shown = follow_text(snapshot, events, turn["id"])
    final = events[-1]["payload"]["text"]
    assert all(final.startswith(text) for text in shown) and shown[-1] == final
    seqs = numbered(events)
    assert seqs == list(range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(seqs)))
    task.cancel()
    await asyncio.wait([task])
    await early.disconnect()
    await late.disconnect()


async def test_watchers_joining_at_once_share_a_few_snapshot_reads_and_each_follows_the_text_exactly(
        started, openai_server, monkeypatch):
    speech = " ".join(f"word{i}" for i in range(80))
    openai_server.responder = lambda body: scripted_responder()(body) if "impartial" in str(body) else speech
    cookie = await session_cookie()
    early, _, _ = await connect(started.pk, cookie)
    await early.receive_json_from(timeout=5)
    task = tasks.launch(started.pk)
    await receive_until(early, "turn.delta")
    from debates import consumers

    reads, read = [], consumers.debate_snapshot
    monkeypatch.setattr(consumers, "debate_snapshot", lambda debate_id: reads.append(debate_id) or read(debate_id))

    burst = [communicator for communicator, connected, _ in
             await asyncio.gather(*(connect(started.pk, cookie) for _ in range(30))) if connected]

    snapshots = [await watcher.receive_json_from(timeout=5) for watcher in burst]

    assert len(burst) == 30 and 1 <= len(reads) <= 3  # a read for each watcher would be 30
    for watcher, snapshot in zip(burst, snapshots):
        streaming = [t["id"] for t in snapshot["payload"]["turns"] if t["status"] == "streaming"]
        events = await receive_until(watcher, "turn.completed")
        seqs = numbered(events)
        assert seqs == list(range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(seqs)))
        for turn_id in streaming:
            final = next(e["payload"]["text"] for e in events if e["type"] == "turn.completed")
            assert follow_text(snapshot, events, turn_id)[-1] == final == speech
    task.cancel()
    await asyncio.wait([task])
    for watcher in [early, *burst]:
        await watcher.disconnect()


async def test_resync_answers_with_a_fresh_snapshot(started):
    communicator, _, _ = await connect(started.pk, await session_cookie())
    first = await communicator.receive_json_from(timeout=5)
    await tasks.launch(started.pk)  # the debate runs to its end; say this client missed all of it
    await receive_until(communicator, "debate.completed")

    await communicator.send_json_to({"type": "resync"})
    fresh = await receive_until(communicator, "snapshot")

    assert fresh[-1]["seq"] > first["seq"]
    assert fresh[-1]["payload"]["debate"]["status"] == "completed"
    assert len(fresh[-1]["payload"]["turns"]) == 2 and fresh[-1]["payload"]["verdict"]["parsed"]
    await communicator.disconnect()


async def test_an_unknown_message_gets_an_error_event_not_a_dropped_socket(started):
    communicator, _, _ = await connect(started.pk, await session_cookie())
    await communicator.receive_json_from(timeout=5)

    await communicator.send_to(text_data="not json at all")

    error = await communicator.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["payload"]["code"] == "bad_message"
    await communicator.disconnect()


@pytest.mark.parametrize("frame", [{"text": ""}, {"bytes": b"\x00\x01"}, {"text": "[" * 100_000}],
                         ids=["empty", "binary", "nested too deep"])
async def test_a_malformed_frame_gets_an_error_event_and_the_socket_carries_on(started, frame):
    communicator, _, _ = await connect(started.pk, await session_cookie())
    await communicator.receive_json_from(timeout=5)

    await communicator.send_input({"type": "websocket.receive", **frame})

    error = await communicator.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["payload"]["code"] == "bad_message"
    await communicator.send_json_to({"type": "resync"})
    assert (await communicator.receive_json_from(timeout=5))["type"] == "snapshot"
    await communicator.disconnect()


async def test_a_watcher_of_a_debate_deleted_meanwhile_is_told_and_leaves(started):
    from debates.fanout import hub

    communicator, _, _ = await connect(started.pk, await session_cookie())
    await communicator.receive_json_from(timeout=5)
    await Debate.objects.filter(pk=started.pk).adelete()

    await communicator.send_json_to({"type": "resync"})

    error = await communicator.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["payload"]["code"] == "not_found"
    assert (await communicator.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4404}
    assert started.pk not in hub().subscriptions  # no event is sent to it any more


async def test_a_watcher_whose_handler_fails_leaves_the_debates_watchers(started, monkeypatch):
    from debates import consumers
    from debates.fanout import hub

    communicator, _, _ = await connect(started.pk, await session_cookie())
    await communicator.receive_json_from(timeout=5)
    assert started.pk in hub().subscriptions

    def broken(debate_id: int) -> dict:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(consumers, "debate_snapshot", broken)  # a fault in reading: the consumer fails
    await communicator.send_json_to({"type": "resync"})

    with pytest.raises(RuntimeError, match="the database went away"):
        await communicator.receive_output(timeout=5)
    assert started.pk not in hub().subscriptions  # not a dead watcher that every later event is sent to


async def test_an_anonymous_socket_is_told_why_and_closed(started):
    communicator, connected, _ = await connect(started.pk, cookie=None)

    error = await communicator.receive_json_from(timeout=5)
    closed = await communicator.receive_output(timeout=5)

    assert error["payload"]["code"] == "unauthenticated"
    assert closed == {"type": "websocket.close", "code": 4401}


@database_sync_to_async
def change_password(username: str) -> None:
    user = User.objects.get(username=username)
    user.set_password("a-new-one-456")
    user.save()


@pytest.mark.parametrize("spoilt", ["password changed", "unknown session"])
async def test_a_session_that_no_longer_signs_anyone_in_is_told_why_and_closed(started, spoilt):
    cookie = await session_cookie()
    if spoilt == "password changed":  # Django signs such sessions out everywhere; so does this socket
        await change_password("watcher")
    else:
        cookie = "x" * 32

    communicator, _, _ = await connect(started.pk, cookie)

    assert (await communicator.receive_json_from(timeout=5))["payload"]["code"] == "unauthenticated"
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}


async def test_a_foreign_origin_is_refused(started):
    communicator, connected, _ = await connect(started.pk, await session_cookie(), origin="https://evil.example")

    assert not connected


def group_members(debate_id: int) -> int | None:
    """How many channels the debate's group holds, on the in-memory layer (None on Redis, which keeps it there)."""
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    layer = get_channel_layer()
    return len(layer.groups.get(f"debate-{debate_id}", {})) if isinstance(layer, InMemoryChannelLayer) else None


async def test_watchers_in_one_process_share_one_subscription_and_each_gets_every_event(started):
    cookie = await session_cookie()
    watchers = [(await connect(started.pk, cookie))[0] for _ in range(3)]
    snapshots = [await w.receive_json_from(timeout=5) for w in watchers]
    assert group_members(started.pk) in (1, None)  # the channel layer carries each event to this process once

    await watchers[2].disconnect()  # one leaves: the others carry on
    task = tasks.launch(started.pk)
    seen = [await receive_until(w, "debate.completed") for w in watchers[:2]]
    await task

    assert seen[0] == seen[1] and snapshots[0]["seq"] == snapshots[1]["seq"]
    seqs = numbered(seen[0])
    assert seqs == list(range(snapshots[0]["seq"] + 1, snapshots[0]["seq"] + 1 + len(seqs)))
    for watcher in watchers[:2]:
        await watcher.disconnect()
    assert group_members(started.pk) in (0, None)  # the last to leave ends the subscription


async def test_a_watcher_whose_process_loses_the_events_is_told_and_closed_and_follows_again_on_reconnect(
        started, monkeypatch):
    from channels.layers import get_channel_layer

    from debates.fanout import hub

    layer = get_channel_layer()
    receive = type(layer).receive
    failed = []

    async def broken_once(self, channel):  # the link to the channel layer fails (Redis restarted, say)
        subscription = hub().subscriptions.get(started.pk)
        if not failed and subscription is not None and channel == subscription.channel:
            failed.append(channel)
            raise ConnectionError("the channel layer went away")
        return await receive(self, channel)

    monkeypatch.setattr(type(layer), "receive", broken_once)
    cookie = await session_cookie()
    watcher, _, _ = await connect(started.pk, cookie)

    seen = await receive_until(watcher, "error")
    closed = await watcher.receive_output(timeout=5)

    assert seen[-1]["payload"]["code"] == "events_lost" and closed == {"type": "websocket.close", "code": 1011}
    again, connected, _ = await connect(started.pk, cookie)  # as debate.js does after a close it was not refused
    snapshot = await again.receive_json_from(timeout=5)
    task = tasks.launch(started.pk)
    events = await receive_until(again, "debate.completed")
    await task
    assert connected and snapshot["type"] == "snapshot"
    assert numbered(events) == list(range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(numbered(events))))
    await again.disconnect()
