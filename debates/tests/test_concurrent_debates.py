"""Twenty debates started at once on one daphne: every request is answered (no 5xx) and every debate completes.

Real HTTP, real debate tasks, a local OpenAI-compatible server streaming slowly enough that the debates overlap:
daphne runs each request's database work in a thread of its own while the runners write from another, which is
what once answered "database is locked" on SQLite (500s on create, /start and /resume; debates ending in an
internal error). A few debates are also cancelled mid-turn, all at once, and resumed all at once while the
others run: under Redis a cancel was once lost while the debate published an event (see events.send_to_group).
"""
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx
import pytest

from accounts.tests.factories import bearer, issue_token
from debates.tests.api_live_server import daphne_on_test_db
from debates.tests.conftest import scripted_responder

DEBATES = 20
CANCELLED = 4  # the first few debates are cancelled mid-turn, then resumed
DEADLINE_SECONDS = 50
CANCEL_ME = "(cancelled, then resumed)"
# Long enough (about 15 s, see chunk_delay) that a turn to be cancelled is still streaming when the cancel comes.
LONG_SPEECH = " ".join(f"point{i}" for i in range(400))
FINISHED = ("completed", "failed", "cancelled")
SPEECH = scripted_responder()({"messages": []})  # what every seat says in the end

pytestmark = pytest.mark.django_db(transaction=True)


class RecordingClient:
    """An httpx client that keeps every answer (thread-safe: list.append is atomic), to assert on all of them."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.answers: list[tuple[str, str, int, str]] = []

    def send(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        self.answers.append((method, path, response.status_code, response.text))
        return response

    def debates(self, ids: list[int]) -> dict[int, dict]:
        items = self.send("GET", "/api/debates", params={"page_size": 100}).json()["items"]
        return {item["id"]: item for item in items if item["id"] in ids}

    def server_errors(self) -> str:
        return "\n".join(f"{method} {path} -> {status}: {body}" for method, path, status, body in self.answers
                         if status >= 500)


def all_at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Each call in a thread of its own, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def fire(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(fire, calls))


def wait_until(condition: Callable[[], bool], deadline: float, what: str) -> None:
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.2)


def speaker(resumed: threading.Event):
    """The scripted seats and judge; a debate to be cancelled speaks at length until it is resumed."""
    scripted = scripted_responder()

    def respond(body: dict) -> str:
        text = str(body)
        if CANCEL_ME in text and "impartial debate judge" not in text and not resumed.is_set():
            return LONG_SPEECH
        return scripted(body)

    return respond


def test_twenty_debates_started_at_once_all_complete_without_a_server_error(openai_server, model_on):
    resumed = threading.Event()
    openai_server.responder = speaker(resumed)
    openai_server.chunk_size, openai_server.chunk_delay = 2, 0.01  # ~25 deltas a turn, a quarter of a second
    model = model_on("openai", openai_server)
    seats = [{"model_id": model.pk, "stance": stance, "max_tokens": 100} for stance in ("for", "against")]
    _, secret = issue_token()
    deadline = time.monotonic() + DEADLINE_SECONDS

    # The server, not the api_live_server fixture: a failure here then prints daphne's log (a 500's traceback).
    with daphne_on_test_db() as (url, _), httpx.Client(base_url=url, headers=bearer(secret), timeout=30) as http:
        api = RecordingClient(http)
        created = all_at_once([partial(api.send, "POST", "/api/debates", json={
            "topic": f"Motion {n}: cities should ban cars {CANCEL_ME if n < CANCELLED else ''}".strip(),
            "rounds": 2, "judge_model_id": model.pk, "seats": seats}) for n in range(DEBATES)])
        assert [r.status_code for r in created] == [201] * DEBATES, api.server_errors()
        ids = [r.json()["id"] for r in created]

        started = all_at_once([partial(api.send, "POST", f"/api/debates/{i}/start") for i in ids])
        assert [r.status_code for r in started] == [202] * DEBATES, api.server_errors()

        to_cancel = ids[:CANCELLED]
        wait_until(lambda: all(speaking(api.send("GET", f"/api/debates/{i}").json()) for i in to_cancel),
                   deadline, "every debate to be cancelled is speaking")
        cancels = all_at_once([partial(api.send, "POST", f"/api/debates/{i}/cancel") for i in to_cancel])
        assert [r.status_code for r in cancels] == [202] * CANCELLED, api.server_errors()
        wait_until(lambda: all(d["status"] == "cancelled" for d in api.debates(to_cancel).values()),
                   deadline, "the cancelled debates say so")
        resumed.set()
        resumes = all_at_once([partial(api.send, "POST", f"/api/debates/{i}/resume") for i in to_cancel])
        assert [r.status_code for r in resumes] == [202] * CANCELLED, api.server_errors()

        wait_until(lambda: all(d["status"] in FINISHED for d in api.debates(ids).values()), deadline,
                   "every debate has finished")
        debates = [api.send("GET", f"/api/debates/{i}").json() for i in ids]

    assert not api.server_errors(), api.server_errors()
    assert not [d["failure_reason"] for d in debates if "locked" in d["failure_reason"]]
    assert {d["id"]: outcome(d) for d in debates} == {d["id"]: {
        "status": "completed", "failure_reason": "",
        "turns": [(1, "completed", SPEECH)] * 2 + [(2, "completed", SPEECH)] * 2,
        "verdict": (True, d["seats"][0]["id"]),
    } for d in debates}


def speaking(debate: dict) -> bool:
    return bool(debate["turns"]) and bool(debate["turns"][0]["text"])


def outcome(debate: dict) -> dict:
    verdict = debate["verdict"] or {}
    return {"status": debate["status"], "failure_reason": debate["failure_reason"],
            "turns": [(turn["round"], turn["status"], turn["text"]) for turn in debate["turns"]],
            "verdict": (verdict.get("parsed"), verdict.get("winner_seat_id"))}
