"""What an admin does with debates in Django admin: edit a draft, look at a started one without being able to
change it under its runner, cancel and resume through the services, find debates by status, judge and date.

Debates resumed here do not run: `launched` (debates/tests/conftest.py) records the debate instead."""
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from debates.models import Debate, DebateStatus, SeatScore, Tag, Turn, TurnStatus, Verdict
from debates.tests.factories import DebateFactory, SeatFactory
from providers.tests.factories import LLMModelFactory

pytestmark = pytest.mark.django_db
# Cancel and resume reach the database through database_sync_to_async, which closes the connection it finds:
# that would end the transaction a plain django_db test runs in, so these tests commit for real.
lifecycle = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/debates/debate/"


@pytest.fixture
def model(model_on, openai_server):
    """A model that can answer: resuming a debate first asks each of its models for a token (pre-flight)."""
    return model_on("openai", openai_server, display_name="Model A")


def make_debate(model=None, status=DebateStatus.DRAFT, **fields) -> Debate:
    model = model or LLMModelFactory()
    debate = SeatFactory(model=model, position=1, debate__judge_model=model, debate__status=status,
                         debate__rounds=1, display_name="Ada", **fields).debate
    SeatFactory(model=model, debate=debate, position=2, stance="against", display_name="Bo")
    return debate


def running(model=None, **fields) -> Debate:
    """A debate whose runner beats right now (in another process: no task of this one runs it)."""
    return make_debate(model, DebateStatus.RUNNING, debate__heartbeat_at=timezone.now(), **fields)


def change_url(debate: Debate) -> str:
    return f"{CHANGELIST}{debate.pk}/change/"


def form_data(debate: Debate, **changes) -> dict:
    """The change form as a browser posts it, every inline's rows left out (so they stay as they are)."""
    inlines = {f"{prefix}-{key}": "0" for prefix in ("seats", "panel", "criteria", "turns")
               for key in ("TOTAL_FORMS", "INITIAL_FORMS")}
    return {"topic": debate.topic, "rounds": debate.rounds, "judge_model": debate.judge_model_id,
            "blind_seats": "on", "swap_check": "on", "budget_usd": "", "created_by": "", **inlines, **changes}


def editable_inputs(page: str) -> list[str]:
    """The fields of the debate's form a person could type into or choose from (the page's navigation filter
    is not one): visible inputs, selects and text areas."""
    form = re.search(r'<form [^>]*id="debate_form".*?</form>', page, re.S).group(0)
    tags = re.findall(r"<(?:input|select|textarea)\b[^>]*>", form)
    return [tag for tag in tags if 'type="hidden"' not in tag]


def act(admin_client, action: str, *debates: Debate):
    return admin_client.post(CHANGELIST, {"action": action, "_selected_action": [d.pk for d in debates]},
                             follow=True)


# ---- a started debate is read-only ---------------------------------------------------------------
def test_the_change_form_of_a_running_debate_has_no_editable_inputs(admin_client):
    debate = running()
    Turn.objects.create(debate=debate, seat=debate.seats.first(), round=1, status=TurnStatus.STREAMING,
                        text="Cars choke our streets " * 20, completion_tokens=42)

    response = admin_client.get(change_url(debate))

    page = response.content.decode()
    assert response.status_code == 200
    assert editable_inputs(page) == []
    assert 'value="Save"' not in page and "Delete</a>" not in page
    assert "View debate" in page
    assert "is running and its runner writes it" in page
    assert "Cars choke our streets Cars choke" in page and "…" in page  # the turn, cut short
    assert "Ada (for)" in page  # its seat


def test_a_post_changing_a_running_debates_topic_is_refused_and_saves_nothing(admin_client):
    debate = running()
    seat = debate.seats.get(position=1)

    response = admin_client.post(change_url(debate), form_data(debate, topic="Something else", **{
        "seats-TOTAL_FORMS": "1", "seats-INITIAL_FORMS": "1", "seats-0-id": seat.pk, "seats-0-debate": debate.pk,
        "seats-0-position": 1, "seats-0-display_name": "Mallory", "seats-0-stance": "for",
        "seats-0-model": seat.model_id, "seats-0-temperature": 0.0, "seats-0-max_tokens": 100}), follow=True)

    assert response.status_code == 200
    assert "Nothing was saved." in response.content.decode()
    assert "is running and its runner writes it: cancel it before changing it." in response.content.decode()
    debate.refresh_from_db()
    seat.refresh_from_db()
    assert (debate.topic, debate.status, seat.display_name) == (
        "Cities should ban cars from their centres", DebateStatus.RUNNING, "Ada")


def test_an_interrupted_debate_is_read_only_and_says_to_resume_or_cancel_it(admin_client):
    debate = make_debate(status=DebateStatus.RUNNING, debate__heartbeat_at=timezone.now() - timedelta(minutes=5))

    page = admin_client.get(change_url(debate)).content.decode()
    response = admin_client.post(change_url(debate), form_data(debate, topic="Something else"), follow=True)

    assert editable_inputs(page) == []
    assert "Resume debate" in page and "Cancel debate" in page
    assert "is interrupted (its server stopped): resume it or cancel it" in response.content.decode()
    debate.refresh_from_db()
    assert debate.topic == "Cities should ban cars from their centres"


def test_a_running_debate_cannot_be_deleted(admin_client):
    debate = running()

    assert admin_client.get(f"{CHANGELIST}{debate.pk}/delete/").status_code == 403
    response = admin_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [debate.pk],
                                              "post": "yes"})

    assert response.status_code == 403
    assert Debate.objects.filter(pk=debate.pk).exists()


def test_a_finished_debate_keeps_its_record_and_only_its_tags_change(admin_client):
    debate = make_debate(status=DebateStatus.COMPLETED)
    tag = Tag.objects.create(name="transport")

    page = admin_client.get(change_url(debate)).content.decode()
    response = admin_client.post(change_url(debate), form_data(debate, topic="Something else", tags=[tag.pk]))

    assert 'name="topic"' not in page and 'name="seats-0-stance"' not in page
    assert 'name="tags"' in page
    assert "is completed: only its tags can change." in page
    assert response.status_code == 302
    debate.refresh_from_db()
    assert debate.topic == "Cities should ban cars from their centres"
    assert list(debate.tags.values_list("name", flat=True)) == ["transport"]


def judged(debate: Debate) -> tuple[Turn, Verdict]:
    """A completed debate's record: one turn, and a verdict with a score for its winner."""
    seat = debate.seats.get(position=1)
    turn = Turn.objects.create(debate=debate, seat=seat, round=1, status=TurnStatus.COMPLETED, text="Cars out.")
    verdict = Verdict.objects.create(debate=debate, judge_model=debate.judge_model, parsed=True, winner=seat,
                                     summary="Ada argued better.")
    SeatScore.objects.create(verdict=verdict, seat=seat, score=8.0)
    return turn, verdict


@pytest.mark.parametrize("kind", ["turn", "verdict"])
def test_a_turn_or_verdict_is_shown_but_never_added_changed_or_deleted_on_its_own(admin_client, kind):
    turn, verdict = judged(make_debate(status=DebateStatus.COMPLETED))
    row = {"turn": turn, "verdict": verdict}[kind]
    url = f"/admin/debates/{kind}/"

    page = admin_client.get(f"{url}{row.pk}/change/").content.decode()
    changed = admin_client.post(f"{url}{row.pk}/change/", {"text": "Rewritten", "summary": "Bo argued better."})
    deleted = admin_client.post(f"{url}{row.pk}/delete/", {"post": "yes"})
    bulk = admin_client.post(url, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"})
    listing = admin_client.get(url).content.decode()

    assert "Cars out." in page if kind == "turn" else "Ada argued better." in page
    assert "<textarea" not in page and 'value="Save"' not in page and "/delete/" not in page
    assert changed.status_code == 403 and deleted.status_code == 403
    assert bulk.status_code in (200, 302) and "delete_selected" not in listing  # no such action: nothing done
    assert admin_client.get(f"{url}add/").status_code == 403
    turn.refresh_from_db()
    verdict.refresh_from_db()
    assert (turn.text, verdict.summary, verdict.scores.count()) == ("Cars out.", "Ada argued better.", 1)


def test_a_finished_debate_is_deleted_with_its_turns_and_verdict(admin_client):
    debate = make_debate(status=DebateStatus.COMPLETED)
    judged(debate)

    confirm = admin_client.get(f"{CHANGELIST}{debate.pk}/delete/").content.decode()
    response = admin_client.post(f"{CHANGELIST}{debate.pk}/delete/", {"post": "yes"})

    assert "Are you sure" in confirm and "permission" not in confirm
    assert response.status_code == 302
    assert not Debate.objects.filter(pk=debate.pk).exists()
    assert not Turn.objects.exists() and not Verdict.objects.exists() and not SeatScore.objects.exists()


# ---- a draft stays editable ----------------------------------------------------------------------
def test_a_draft_is_still_editable(admin_client):
    debate = make_debate()

    page = admin_client.get(change_url(debate)).content.decode()
    response = admin_client.post(change_url(debate), form_data(debate, topic="Remote work beats the office"))

    assert 'name="topic"' in page and 'name="seats-0-stance"' in page and 'value="Save"' in page
    assert response.status_code == 302
    debate.refresh_from_db()
    assert (debate.topic, debate.status) == ("Remote work beats the office", DebateStatus.DRAFT)


def test_a_draft_started_while_its_form_was_open_is_not_overwritten(admin_client, monkeypatch):
    debate = make_debate()
    from debates.admin import DebateAdmin

    original = DebateAdmin.save_form

    def started_meanwhile(self, request, form, change):  # the page's Start, between the check and the save
        Debate.objects.filter(pk=debate.pk).update(status=DebateStatus.RUNNING, heartbeat_at=timezone.now())
        return original(self, request, form, change)

    monkeypatch.setattr(DebateAdmin, "save_form", started_meanwhile)
    response = admin_client.post(change_url(debate), form_data(debate, topic="Remote work beats the office"),
                                 follow=True)

    assert "Nothing was saved." in response.content.decode()
    assert "is running and its runner writes it" in response.content.decode()
    debate.refresh_from_db()  # the start, simulated inside the form's transaction, is rolled back with it
    assert debate.topic == "Cities should ban cars from their centres"


# ---- cancel and resume ---------------------------------------------------------------------------
@lifecycle
def test_cancel_asks_the_runner_of_another_process_to_stop(admin_client):
    debate = running()

    response = act(admin_client, "cancel_debates", debate)

    assert "asked to stop: its runner, in another server process, stops at its next heartbeat." in \
        response.content.decode()
    debate.refresh_from_db()
    assert (debate.status, debate.cancel_requested) == (DebateStatus.RUNNING, True)


@lifecycle
def test_cancel_cancels_a_draft_and_says_why_not_for_a_completed_one(admin_client):
    draft, completed = make_debate(), make_debate(status=DebateStatus.COMPLETED)

    page = act(admin_client, "cancel_debates", draft, completed).content.decode()

    assert f"Debate {draft.pk} (Cities should ban cars from their centres): cancelled." in page
    assert "This debate is completed and cannot be cancelled." in page
    draft.refresh_from_db()
    completed.refresh_from_db()
    assert (draft.status, completed.status) == (DebateStatus.CANCELLED, DebateStatus.COMPLETED)


@lifecycle
def test_resume_launches_a_failed_debate(admin_client, model, launched):
    debate = make_debate(model, DebateStatus.FAILED, debate__failure_reason="timeout")

    response = act(admin_client, "resume_debates", debate)

    assert "resumed; it carries on from its last completed turn." in response.content.decode()
    assert launched == [debate.pk]
    debate.refresh_from_db()
    assert (debate.status, debate.failure_reason) == (DebateStatus.RUNNING, "")


@lifecycle
def test_resume_says_why_a_completed_debate_cannot_be_resumed(admin_client, model, launched):
    debate = make_debate(model, DebateStatus.COMPLETED)

    response = act(admin_client, "resume_debates", debate)

    assert "only a failed, cancelled or interrupted debate can be resumed." in response.content.decode()
    assert launched == []
    debate.refresh_from_db()
    assert debate.status == DebateStatus.COMPLETED


@lifecycle
def test_resume_shows_why_the_pre_flight_check_refused(admin_client, launched):
    keyless = LLMModelFactory(display_name="Keyless", provider__api_key_env_var="ARENA_TEST_UNSET_KEY")
    debate = make_debate(keyless, DebateStatus.FAILED, debate__failure_reason="timeout")

    page = act(admin_client, "resume_debates", debate).content.decode()

    assert "Keyless cannot answer: the environment variable ARENA_TEST_UNSET_KEY" in page
    assert launched == []
    debate.refresh_from_db()
    assert (debate.status, debate.failure_reason) == (DebateStatus.FAILED, "timeout")


@lifecycle
def test_the_change_page_buttons_cancel_and_resume(admin_client, model, launched):
    debate = make_debate(model, DebateStatus.FAILED)

    page = admin_client.get(change_url(debate)).content.decode()
    response = admin_client.post(f"{CHANGELIST}{debate.pk}/resume/")

    assert "Resume debate" in page and "Cancel debate" not in page
    assert (response.status_code, response["Location"]) == (302, change_url(debate))
    assert launched == [debate.pk]
    assert admin_client.get(f"{CHANGELIST}{debate.pk}/cancel/").status_code == 405


# ---- the list ------------------------------------------------------------------------------------
def test_the_list_filters_by_status_judge_and_date(admin_client):
    judge = LLMModelFactory(display_name="Judge Judy")
    live, draft = running(judge), make_debate()
    stale = make_debate(status=DebateStatus.RUNNING, debate__heartbeat_at=timezone.now() - timedelta(minutes=5))
    Debate.objects.filter(pk=draft.pk).update(topic="A draft about trains")
    Debate.objects.filter(pk=stale.pk).update(topic="A stale one about buses")

    page = admin_client.get(CHANGELIST).content.decode()
    interrupted = admin_client.get(CHANGELIST + "?state=interrupted").content.decode()
    live_only = admin_client.get(CHANGELIST + "?state=running").content.decode()
    judged = admin_client.get(f"{CHANGELIST}?judge_model__id__exact={judge.pk}").content.decode()
    today = timezone.localdate()
    dated = admin_client.get(f"{CHANGELIST}?created_at__year={today.year}&created_at__month={today.month}")

    assert "By status" in page and "Interrupted" in page and "By judge model" in page
    assert "Judge Judy" in page
    assert '<nav class="toplinks">' in page  # the date drill-down
    assert "buses" in interrupted and "trains" not in interrupted and "ban cars" not in interrupted
    assert "ban cars" in live_only and "buses" not in live_only
    assert "ban cars" in judged and "trains" not in judged
    assert dated.status_code == 200 and "trains" in dated.content.decode()
    assert 'href="?state=interrupted"' in page
    assert str(live) in page


def test_the_list_makes_as_many_queries_for_many_debates_as_for_one(admin_client):
    make_debate()
    admin_client.get(CHANGELIST)  # the session, the content types: once

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(captured)

    one = queries()
    for _ in range(5):
        running(LLMModelFactory())  # each with its own judge and provider
    DebateFactory(status=DebateStatus.COMPLETED)

    assert queries() == one


def test_saving_a_draft_that_could_not_start_says_why(admin_client):
    debate = make_debate()
    debate.seats.filter(position=2).delete()

    response = admin_client.post(change_url(debate), form_data(debate, topic="Remote work beats the office"),
                                 follow=True)

    page = response.content.decode()
    assert "cannot start yet" in page and "A debate needs 2 to 6 seats, not 1." in page
    debate.refresh_from_db()
    assert debate.topic == "Remote work beats the office"  # saved all the same: a draft may be finished later
