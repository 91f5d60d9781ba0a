"""The pages as a signed-in person sees them: the list, the new-debate form, a debate, its buttons."""
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.utils import timezone

from debates import services
from debates.models import Debate, DebateStatus, SeatScore, Turn, TurnStatus, Verdict
from debates.tests.factories import DebateFactory, PersonaFactory, SeatFactory
from providers.tests.factories import LLMModelFactory

# The new-debate page is an async view whose database work runs through channels' database_sync_to_async,
# which closes the connection after it: those tests need real transactions, not one rolled back at the end.
pytestmark = pytest.mark.django_db


@pytest.fixture
def models(model_on, openai_server):
    """Two models that can answer (starting a debate first asks each for a token)."""
    return (model_on("openai", openai_server, display_name="Usable Alpha"),
            model_on("openai", openai_server, display_name="Usable Beta"))


def new_debate_data(models, **changes) -> dict:
    alpha, beta = models
    data = {
        "topic": "Cities should ban cars from their centres", "rounds": "2", "judge_model": str(beta.pk),
        "seats-TOTAL_FORMS": "2", "seats-INITIAL_FORMS": "2", "seats-MIN_NUM_FORMS": "2", "seats-MAX_NUM_FORMS": "6",
        "seats-0-model": str(alpha.pk), "seats-0-stance": "for", "seats-0-persona": "",
        "seats-0-display_name": "Ada", "seats-0-temperature": "0.7",
        "seats-1-model": str(beta.pk), "seats-1-stance": "against", "seats-1-persona": "",
        "seats-1-display_name": "", "seats-1-temperature": "0.2",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def seat_sections(html: str) -> list[str]:
    """The HTML of each seat's fieldset on the new-debate page, in order (the empty template's last)."""
    return html.split("data-seat-form")[1:]


# ---- sign-in -------------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path", [("get", "/"), ("get", "/debates/new/"), ("get", "/debates/{id}/"),
                                          ("post", "/debates/{id}/start/"), ("post", "/debates/{id}/cancel/"),
                                          ("post", "/debates/{id}/resume/")])
def test_it_sends_visitors_to_sign_in(client, method, path):
    debate = DebateFactory()

    response = getattr(client, method)(path.format(id=debate.pk))

    assert response.status_code == 302
    assert response.url.startswith(resolve_url(settings.LOGIN_URL))
    debate.refresh_from_db()
    assert debate.status == DebateStatus.DRAFT


def test_the_login_page_signs_in(client, django_user_model):
    django_user_model.objects.create_user("ada", password="correct horse battery")

    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "ada", "password": "correct horse battery"})

    assert response.status_code == 302
    assert client.get("/").status_code == 200


@pytest.mark.django_db(transaction=True)
# ---- the new-debate form -------------------------------------------------------------------------
def test_the_form_offers_enabled_models_and_personas_only(admin_client, models):
    LLMModelFactory(display_name="Switched Off", enabled=False)
    LLMModelFactory(display_name="Provider Off", provider__enabled=False)
    PersonaFactory(name="Stoic", slug="stoic")
    PersonaFactory(name="Retired Persona", slug="retired", enabled=False)

    response = admin_client.get("/debates/new/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Usable Alpha" in html and "Usable Beta" in html
    assert "Switched Off" not in html and "Provider Off" not in html
    assert "Stoic" in html and "Retired Persona" not in html
    assert len(seat_sections(html)) == 3  # two seats, and the template "Add seat" copies
    assert 'name="seats-TOTAL_FORMS" value="2"' in html


@pytest.mark.django_db(transaction=True)
def test_it_creates_a_debate_and_starts_it(admin_client, models, launched):
    response = admin_client.post("/debates/new/", new_debate_data(models))

    debate = Debate.objects.get()
    assert response.status_code == 302
    assert response.url == f"/debates/{debate.pk}/"
    assert debate.status == DebateStatus.RUNNING
    assert debate.rounds == 2 and debate.judge_model == models[1]
    assert debate.created_by.username == "admin"
    assert [(s.display_name, s.stance, s.model, s.temperature) for s in debate.seats.all()] == [
        ("Ada", "for", models[0], 0.7), ("Usable Beta", "against", models[1], 0.2)]
    assert launched == [debate.pk]


@pytest.mark.django_db(transaction=True)
def test_it_seats_a_persona_and_a_third_seat(admin_client, models, launched):
    PersonaFactory(name="Stoic", slug="stoic")
    data = new_debate_data(models, **{"seats-TOTAL_FORMS": "3", "seats-2-model": str(models[0].pk),
                                      "seats-2-stance": "neutral", "seats-2-persona": "stoic",
                                      "seats-2-temperature": "1"})

    response = admin_client.post("/debates/new/", data)

    assert response.status_code == 302
    third = Debate.objects.get().seats.get(position=3)
    assert (third.display_name, third.persona.slug, third.stance) == ("Stoic", "stoic", "neutral")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("changes, field, message", [
    ({"topic": "   "}, "topic", "Enter the motion to debate."),
    ({"rounds": "0"}, "rounds", "greater than or equal to 1"),
    ({"rounds": "11"}, "rounds", "less than or equal to 10"),
    ({"judge_model": "disabled"}, "judge_model", "Choose an enabled model for the judge."),
    ({"seats-1-model": "disabled"}, "seats-1-model", "Choose an enabled model."),
    ({"seats-0-stance": ""}, "seats-0-stance", "Enter the seat&#x27;s stance"),
    ({"seats-0-temperature": "2.5"}, "seats-0-temperature", "less than or equal to 2"),
    ({"seats-0-persona": "nobody"}, "seats-0-persona", "Select a valid choice"),
])
def test_it_shows_errors_next_to_their_field_and_saves_nothing(admin_client, models, changes, field, message):
    disabled = LLMModelFactory(enabled=False)
    changes = {key: str(disabled.pk) if value == "disabled" else value for key, value in changes.items()}

    response = admin_client.post("/debates/new/", new_debate_data(models, **changes))

    html = response.content.decode()
    assert response.status_code == 200
    assert Debate.objects.count() == 0
    # Django writes a field's errors just before its input, inside the same field block.
    block = re.search(rf'<div class="field has-error">((?:(?!<div class="field).)*?name="{field}")', html, re.S)
    assert block is not None, f"no error block for {field}"
    assert message in block.group(1)


@pytest.mark.django_db(transaction=True)
def test_one_seat_is_not_a_debate(admin_client, models):
    data = new_debate_data(models, **{"seats-TOTAL_FORMS": "1", "seats-1-model": None, "seats-1-stance": None,
                                      "seats-1-persona": None, "seats-1-display_name": None,
                                      "seats-1-temperature": None})

    response = admin_client.post("/debates/new/", data)

    assert response.status_code == 200
    assert "A debate needs 2 to 6 seats." in response.content.decode()
    assert Debate.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_seat_added_and_left_blank_is_an_error_not_dropped(admin_client, models):
    response = admin_client.post("/debates/new/", new_debate_data(models, **{"seats-TOTAL_FORMS": "3"}))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Choose a model." in seat_sections(html)[2]
    assert Debate.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_services_errors_land_on_the_fields_they_name(admin_client, models, monkeypatch):
    def refuse(**kwargs):
        raise services.DebateValidationError("no", errors={
            "topic": ["Motion refused."], "judge_model_id": ["Judge refused."], "seats": ["Seats refused."],
            "seats.1.stance": ["Stance refused."], "seats.0.max_tokens": ["Tokens refused."]})

    monkeypatch.setattr(services, "debate_create", refuse)

    html = admin_client.post("/debates/new/", new_debate_data(models)).content.decode()

    first, second = seat_sections(html)[:2]
    assert "Motion refused." in html.split('name="topic"')[0]
    assert "Judge refused." in html.split('name="judge_model"')[0].split('name="rounds"')[1]
    assert "Seats refused." in html.split("data-seat-form")[0].split('name="judge_model"')[1]
    assert "Stance refused." in second and "Stance refused." not in first
    assert "Tokens refused." in first


# ---- the list and a debate -----------------------------------------------------------------------
def make_debate(model=None, **fields) -> Debate:
    """A debate of two seats; with `model`, one that can answer seats them and judges (pre-flight asks it)."""
    if model is not None:
        fields["judge_model"] = model
    debate = DebateFactory(**fields)
    seat_model = {"model": model} if model is not None else {}
    SeatFactory(debate=debate, position=1, display_name="Ada", stance="for", **seat_model)
    SeatFactory(debate=debate, position=2, display_name="Grace", stance="against", **seat_model)
    return debate


def test_the_list_shows_each_debate_with_its_status_seats_and_winner(admin_client):
    won = make_debate(topic="Tea beats coffee", status=DebateStatus.COMPLETED)
    Verdict.objects.create(debate=won, parsed=True, summary="Close.", winner=won.seats.get(position=2))
    make_debate(topic="Stale motion", status=DebateStatus.RUNNING,
                heartbeat_at=timezone.now() - timedelta(minutes=5))

    response = admin_client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    rows = html.split('class="debate-row"')[1:]
    assert len(rows) == 2
    stale, tea = rows  # newest first
    assert "Stale motion" in stale and ">interrupted<" in stale
    assert "Tea beats coffee" in tea and ">completed<" in tea
    assert "Ada" in tea and "Grace" in tea
    assert '<td class="winner-cell">Grace</td>' in tea


def test_the_list_narrows_to_a_models_debates_or_a_tag(admin_client):
    from debates.models import Tag

    judge_only = LLMModelFactory()
    mine = make_debate(topic="Tea beats coffee")
    theirs = make_debate(topic="Trains beat planes", judge_model=judge_only)
    theirs.tags.add(Tag.objects.create(name="transport"))

    def topics(query: str) -> list[str]:
        html = admin_client.get("/" + query).content.decode()
        return re.findall(r'debate-row.*?<a href="[^"]+">([^<]+)</a>', html, re.DOTALL)

    assert topics(f"?model={mine.seats.first().model_id}") == ["Tea beats coffee"]
    assert topics(f"?model={judge_only.pk}") == ["Trains beat planes"]  # judging counts
    assert topics("?tag=transport") == ["Trains beat planes"]
    assert sorted(topics("")) == ["Tea beats coffee", "Trains beat planes"]


def test_a_debate_shows_its_transcript_by_round(admin_client):
    debate = make_debate(status=DebateStatus.RUNNING, current_round=2, heartbeat_at=timezone.now())
    ada, grace = debate.seats.all()
    Turn.objects.create(debate=debate, seat=ada, round=1, status=TurnStatus.COMPLETED, text="Cars choke cities.",
                        completion_tokens=4, latency_ms=1200)
    Turn.objects.create(debate=debate, seat=grace, round=1, status=TurnStatus.COMPLETED, text="Shops need cars.")
    Turn.objects.create(debate=debate, seat=ada, round=2, status=TurnStatus.STREAMING, text="And furthermore")

    response = admin_client.get(f"/debates/{debate.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Round 2 of 2 · Ada speaking" in html
    assert html.index('data-round="1"') < html.index("Cars choke cities.") < html.index("Shops need cars.") \
        < html.index('data-round="2"') < html.index("And furthermore")
    assert "4 tokens · 1.2 s" in html
    assert 'data-action="cancel">' in html  # shown; start and resume are hidden
    assert 'data-action="start" hidden' in html and 'data-action="resume" hidden' in html


def test_a_parsed_verdict_shows_scores_and_the_winner(admin_client):
    debate = make_debate(status=DebateStatus.COMPLETED)
    ada, grace = debate.seats.all()
    verdict = Verdict.objects.create(debate=debate, parsed=True, summary="Ada argued better.", winner=ada,
                                     key_arguments=["congestion costs"], raw_text="{}")
    SeatScore.objects.create(verdict=verdict, seat=ada, score=7.5, reasoning="clear")
    SeatScore.objects.create(verdict=verdict, seat=grace, score=6, reasoning="less evidence")

    html = admin_client.get(f"/debates/{debate.pk}/").content.decode()

    assert "Winner: <strong>Ada</strong>" in html
    assert "Ada argued better." in html and "congestion costs" in html
    assert "7.5<small>/10</small>" in html and "6<small>/10</small>" in html
    assert "could not be parsed" not in html


def test_an_unparsed_verdict_shows_the_raw_answer_and_no_score(admin_client):
    debate = make_debate(status=DebateStatus.COMPLETED)
    Verdict.objects.create(debate=debate, parsed=False, raw_text="Seat 1 wins, obviously <b>8/10</b>",
                           parse_error="the reply holds no JSON object")

    html = admin_client.get(f"/debates/{debate.pk}/").content.decode()

    assert "The judge's answer could not be parsed." in html
    assert "the reply holds no JSON object" in html
    assert "Seat 1 wins, obviously &lt;b&gt;8/10&lt;/b&gt;" in html
    assert "/10</small>" not in html and "Winner:" not in html


def test_a_failed_debate_says_why(admin_client):
    debate = make_debate(status=DebateStatus.FAILED, current_round=1,
                         failure_reason="Ada's turn in round 1 failed (timeout): no answer in 30 s")

    html = admin_client.get(f"/debates/{debate.pk}/").content.decode()

    assert '<section id="failure" class="failure" role="alert">' in html
    assert "Ada&#x27;s turn in round 1 failed (timeout): no answer in 30 s" in html
    assert 'data-action="resume">' in html


def test_model_text_is_escaped(admin_client):
    debate = make_debate(topic="<i>Motion</i>", status=DebateStatus.COMPLETED)
    ada, _ = debate.seats.all()
    attack = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
    Turn.objects.create(debate=debate, seat=ada, round=1, status=TurnStatus.COMPLETED, text=attack)
    verdict = Verdict.objects.create(debate=debate, parsed=True, summary=attack, winner=ada, key_arguments=[attack])
    SeatScore.objects.create(verdict=verdict, seat=ada, score=5, reasoning=attack)

    html = admin_client.get(f"/debates/{debate.pk}/").content.decode()

    assert "<script>window.__xss" not in html and "<img src=x" not in html and "<i>Motion" not in html
    assert html.count("&lt;script&gt;window.__xss=1&lt;/script&gt;") == 4


def test_completed_model_text_shows_its_markdown_as_sanitised_html_and_text_in_progress_as_text(admin_client):
    debate = make_debate(status=DebateStatus.RUNNING, current_round=1, heartbeat_at=timezone.now())
    ada, grace = debate.seats.all()
    Turn.objects.create(debate=debate, seat=ada, round=1, status=TurnStatus.COMPLETED,
                        text="Cars **choke** cities:\n\n- noise\n- `CO2`\n\n[x](javascript:alert(1))")
    Turn.objects.create(debate=debate, seat=grace, round=1, status=TurnStatus.STREAMING, text="Shops **need")
    verdict = Verdict.objects.create(debate=debate, parsed=True, summary="Ada was *clearer*.", winner=ada,
                                     key_arguments=["**congestion** costs"], raw_text="{}")
    SeatScore.objects.create(verdict=verdict, seat=ada, score=7.5, reasoning="",
                             criteria=[{"key": "evidence", "score": 7.5, "reasoning": "Cited `two` studies."}])

    html = admin_client.get(f"/debates/{debate.pk}/").content.decode()

    assert ('<div class="turn-text markdown"><p>Cars <strong>choke</strong> cities:</p>\n<ul>\n<li>noise</li>\n'
            "<li><code>CO2</code></li>\n</ul>\n<p>x</p></div>") in html
    assert '<div class="turn-text">Shops **need</div>' in html
    assert '<div class="summary markdown"><p>Ada was <em>clearer</em>.</p></div>' in html
    assert '<li class="markdown"><p><strong>congestion</strong> costs</p></li>' in html
    assert '<dd class="reasoning markdown"><p>Cited <code>two</code> studies.</p></dd>' in html
    assert "javascript:" not in html


def test_a_missing_debate_is_404(admin_client):
    assert admin_client.get("/debates/999/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_button_for_a_missing_debate_is_404(admin_client):
    assert admin_client.post("/debates/999/start/").status_code == 404


# ---- the buttons ---------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_start_runs_a_draft(admin_client, launched, models):
    debate = make_debate(models[0])

    response = admin_client.post(f"/debates/{debate.pk}/start/")

    assert response.status_code == 302 and response.url == f"/debates/{debate.pk}/"
    debate.refresh_from_db()
    assert debate.status == DebateStatus.RUNNING
    assert launched == [debate.pk]


@pytest.mark.django_db(transaction=True)
def test_cancel_ends_a_draft(admin_client):
    debate = make_debate()

    response = admin_client.post(f"/debates/{debate.pk}/cancel/")

    assert response.status_code == 302
    debate.refresh_from_db()
    assert debate.status == DebateStatus.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_resume_carries_on_a_failed_debate(admin_client, launched, models):
    debate = make_debate(models[0], status=DebateStatus.FAILED, failure_reason="boom")

    admin_client.post(f"/debates/{debate.pk}/resume/")

    debate.refresh_from_db()
    assert debate.status == DebateStatus.RUNNING and debate.failure_reason == ""
    assert launched == [debate.pk]


@pytest.mark.django_db(transaction=True)
def test_a_button_that_does_not_apply_says_why(admin_client, launched):
    debate = make_debate(status=DebateStatus.COMPLETED)

    response = admin_client.post(f"/debates/{debate.pk}/start/", follow=True)

    assert "This debate is completed; only a draft can be started." in response.content.decode()
    debate.refresh_from_db()
    assert debate.status == DebateStatus.COMPLETED
    assert launched == []


def test_the_buttons_take_only_post(admin_client):
    debate = make_debate()

    assert admin_client.get(f"/debates/{debate.pk}/start/").status_code == 405


@pytest.mark.django_db(transaction=True)  # the page's view is async
def test_the_form_says_which_models_lack_their_key_and_preselects_one_that_can_answer(admin_client,
                                                                                     monkeypatch):
    from providers.tests.factories import LLMModelFactory

    monkeypatch.delenv("NO_SUCH_KEY_FOR_TESTS", raising=False)
    LLMModelFactory(display_name="Cloud", recommended=True, provider__api_key_env_var="NO_SUCH_KEY_FOR_TESTS")
    local = LLMModelFactory(display_name="Local", provider__display_name="Zz local")

    page = admin_client.get("/debates/new/").content.decode()

    assert "Cloud · " in page and "(needs NO_SUCH_KEY_FOR_TESTS)" in page
    assert f'<option value="{local.pk}" selected>' in page


@pytest.mark.parametrize("model", ["%C2%B2", "99999999999999999999", "0", "-3", "abc"])
def test_a_model_filter_that_names_no_model_shows_every_debate_not_an_error(admin_client, model):
    make_debate(topic="Tea beats coffee")

    response = admin_client.get(f"/?model={model}")  # "²" is a digit to str.isdigit, not to int

    assert response.status_code == 200 and "Tea beats coffee" in response.content.decode()
