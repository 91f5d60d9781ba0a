"""The workflows every entry point shares: validation on create, and what each state allows."""
import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.utils import timezone

from debates import services
from debates.models import Debate, Persona
from debates.services import DebateStateError, DebateValidationError, SeatSpec, debate_create
from debates.tests.factories import DebateFactory, PersonaFactory
from providers.tests.factories import LLMModelFactory

pytestmark = pytest.mark.django_db


def test_it_creates_a_draft_with_seats_named_and_prompted_from_their_persona():
    model = LLMModelFactory(display_name="GPT")
    persona = PersonaFactory(slug="lawyer", name="Lawyer", prompt_template="Argue {stance} like a lawyer.")

    debate = debate_create(topic="  Ban cars  ", rounds=2, judge_model_id=model.pk, seats=[
        SeatSpec(model_id=model.pk, stance="for", persona="lawyer"), SeatSpec(model_id=model.pk, stance="against")])

    seats = list(debate.seats.all())
    assert (debate.topic, debate.status) == ("Ban cars", "draft")
    assert [s.display_name for s in seats] == ["Lawyer", "GPT"]
    assert "Argue for like a lawyer." in seats[0].system_prompt
    assert seats[0].persona == persona


def test_two_seats_with_one_name_are_told_apart():
    model = LLMModelFactory(display_name="GPT")

    debate = debate_create(topic="t", rounds=1, judge_model_id=model.pk, seats=[
        SeatSpec(model_id=model.pk, stance="for"), SeatSpec(model_id=model.pk, stance="against")])

    assert [s.display_name for s in debate.seats.all()] == ["GPT #1", "GPT #2"]


@pytest.mark.parametrize(("asked", "model_name"), [
    (["Ada", "Ada", "Ada #2"], "GPT"),  # numbering the first two must not make a third seat's name twice
    (["A" * 100, "A" * 100], "GPT"),  # the number must not take a name past its column
    (["", ""], "M" * 150),  # a model's display name may be longer than a seat's
])
def test_seat_names_come_out_different_and_fit_whatever_was_asked(asked, model_name):
    model = LLMModelFactory(display_name=model_name)

    debate = debate_create(topic="t", rounds=1, judge_model_id=model.pk, seats=[
        SeatSpec(model_id=model.pk, stance=stance, display_name=name)
        for name, stance in zip(asked, ["for", "against", "for"])])

    names = [s.display_name for s in debate.seats.order_by("position")]
    assert len(set(names)) == len(names) and all(len(name) <= 100 for name in names)
    assert services.stored_shape_problems(debate.pk) == {}  # so it can start
    for seat in debate.seats.all():
        seat.full_clean()  # and admin can save each seat as it is


def test_invalid_input_names_every_offending_field_and_saves_nothing():
    disabled = LLMModelFactory(enabled=False)

    with pytest.raises(DebateValidationError) as error:
        debate_create(topic="", rounds=11, judge_model_id=disabled.pk, seats=[
            SeatSpec(model_id=disabled.pk, stance="", persona="nobody", temperature=3, max_tokens=5)])

    assert set(error.value.errors) == {"topic", "rounds", "seats", "judge_model_id", "seats.0.model_id",
                                       "seats.0.stance", "seats.0.persona", "seats.0.temperature",
                                       "seats.0.max_tokens"}
    assert not Debate.objects.exists()


def test_a_disabled_provider_disables_its_models():
    model = LLMModelFactory(provider__enabled=False)

    with pytest.raises(DebateValidationError) as error:
        debate_create(topic="t", rounds=1, judge_model_id=model.pk,
                      seats=[SeatSpec(model_id=model.pk, stance="for")] * 2)
    assert "seats.0.model_id" in error.value.errors


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_draft_ends_it_and_tells_watchers():
    debate = DebateFactory()

    async_to_sync(services.debate_cancel)(debate_id=debate.pk)

    debate.refresh_from_db()
    assert debate.status == "cancelled" and debate.last_seq == 1


@pytest.mark.django_db(transaction=True)  # the async service closes stale connections, as in production
def test_a_completed_debate_can_be_neither_started_nor_cancelled():
    debate = DebateFactory(status="completed")

    with pytest.raises(DebateStateError):
        services.debate_mark_started(debate_id=debate.pk)
    with pytest.raises(DebateStateError):
        async_to_sync(services.debate_cancel)(debate_id=debate.pk)


def test_a_running_debate_cannot_be_deleted_but_an_interrupted_one_can():
    running = DebateFactory(status="running", heartbeat_at=timezone.now())
    interrupted = DebateFactory(status="running", heartbeat_at=timezone.now() - timedelta(minutes=2))

    with pytest.raises(DebateStateError):
        services.debate_delete(debate_id=running.pk)
    services.debate_delete(debate_id=interrupted.pk)

    assert list(Debate.objects.all()) == [running]


def test_personas_are_seeded_once_and_admin_edits_survive():
    call_command("seed_personas")
    lawyer = Persona.objects.get(slug="trial-lawyer")
    lawyer.prompt_template = "Our own {stance} template."
    lawyer.save()

    call_command("seed_personas")

    lawyer.refresh_from_db()
    assert Persona.objects.count() == 8
    assert lawyer.prompt_template == "Our own {stance} template."
    assert all("{stance}" in p.prompt_template for p in Persona.objects.exclude(pk=lawyer.pk))


def test_an_unreachable_redis_is_reported_at_start_up(settings):
    from debates.checks import check_redis_reachable

    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there
    errors = check_redis_reachable(None)

    assert [e.id for e in errors] == ["debates.E001"]
    assert "127.0.0.1:9" in errors[0].msg


def test_a_redis_on_a_unix_socket_is_checked_on_its_socket(settings, tmp_path):
    import shutil
    import subprocess

    from debates.checks import check_redis_reachable

    path = tmp_path / "redis.sock"
    settings.REDIS_URL = f"unix://{path}"
    assert [e.id for e in check_redis_reachable(None)] == ["debates.E001"]  # not whatever answers on 6379

    server = subprocess.Popen([shutil.which("redis-server"), "--port", "0", "--unixsocket", str(path),
                               "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if path.exists():
                break
            time.sleep(0.05)
        assert check_redis_reachable(None) == []
    finally:
        server.terminate()
        server.wait(10)


def test_the_redis_check_never_shows_the_password(settings):
    from debates.checks import check_redis_reachable

    settings.REDIS_URL = "redis://:s3cret-pw@127.0.0.1:9/0"
    [error] = check_redis_reachable(None)

    assert "s3cret-pw" not in error.msg + (error.hint or "")
