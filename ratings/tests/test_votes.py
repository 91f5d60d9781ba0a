"""Votes: any signed-in person votes once per finished debate and may change it; blind if they like."""
import pytest

from debates.models import DebateStatus
from debates.tests.factories import DebateFactory, SeatFactory
from ratings.models import Vote

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished():
    debate = DebateFactory(status=DebateStatus.COMPLETED, topic="Ban cars")
    SeatFactory(debate=debate, position=1, display_name="Ada Lovelace", stance="for")
    SeatFactory(debate=debate, position=2, display_name="Grace Hopper", stance="against")
    return debate


def vote(api, debate, **body):
    return api.post(f"/api/debates/{debate.pk}/vote", body, content_type="application/json")


def test_a_vote_is_one_per_person_and_debate_and_can_change(api, finished):
    ada, bo = finished.seats.order_by("position")

    first = vote(api, finished, choice="seat", seat_id=ada.pk)
    second = vote(api, finished, choice="tie")

    assert first.status_code == second.status_code == 200
    assert first.json()["seat_id"] == ada.pk and second.json() | {"choice": "tie", "seat_id": None} == second.json()
    assert Vote.objects.get().choice == "tie" and Vote.objects.count() == 1
    assert api.get(f"/api/debates/{finished.pk}/vote").json()["choice"] == "tie"


@pytest.mark.parametrize(("body", "field"), [
    ({"choice": "seat"}, "seat_id"), ({"choice": "seat", "seat_id": 99_999}, "seat_id"),
    ({"choice": "tie", "seat_id": 1}, "seat_id"), ({"choice": "maybe"}, "choice"),
])
def test_a_vote_that_names_no_seat_of_the_debate_is_refused_with_a_reason(api, finished, body, field):
    response = vote(api, finished, **body)

    assert response.status_code == 422 and field in str(response.json())
    assert not Vote.objects.exists()


def test_only_a_finished_debate_can_be_voted_on(api, finished):
    finished.status = DebateStatus.RUNNING
    finished.save()

    response = vote(api, finished, choice="tie")

    assert response.status_code == 409 and "only a finished debate" in response.json()["detail"]


def test_anyone_signed_out_is_refused(client, finished):
    response = client.post(f"/api/debates/{finished.pk}/vote", {"choice": "tie"}, content_type="application/json")

    assert response.status_code == 401 and not Vote.objects.exists()


def test_a_vote_on_a_missing_debate_is_404(api):
    assert vote(api, type("D", (), {"pk": 99_999})(), choice="tie").status_code == 404


def test_the_blind_page_hides_names_and_models_until_the_vote(client, finished, django_user_model):
    person = django_user_model.objects.create_user("cy", password="pw-pw-pw-pw")
    client.force_login(person)
    seat = finished.seats.get(position=2)

    page = client.get(f"/debates/{finished.pk}/vote/").content.decode()

    assert "Speaker A (for)" in page and "Speaker B (against)" in page
    for secret in ("Ada Lovelace", "Grace Hopper", seat.model.display_name, seat.model.model_name):
        assert secret not in page
    response = client.post(f"/debates/{finished.pk}/vote/", {"seat": str(seat.pk)})
    assert response.status_code == 302 and response["Location"].endswith(f"/debates/{finished.pk}/#vote")
    cast = Vote.objects.get(user=person)
    assert cast.blind and cast.seat == seat


@pytest.mark.parametrize("seat", ["\u00b2", "99999999999999999999", "-1"])
def test_a_blind_vote_for_a_seat_that_cannot_be_one_is_refused_on_the_page(client, finished, django_user_model,
                                                                         seat):
    client.force_login(django_user_model.objects.create_user("cy", password="pw-pw-pw-pw"))

    response = client.post(f"/debates/{finished.pk}/vote/", {"seat": seat})

    assert response.status_code == 200 and 'class="form-errors" role="alert"' in response.content.decode()
    assert not Vote.objects.exists()
