"""A person in Chromium against a live daphne: votes on a finished debate, blind or not, and reads the leaderboard."""
import pytest

from debates.tests.live_server import browser, daphne_server, page, sign_in  # noqa: F401 (fixtures)
from providers.tests.factories import LLMModelFactory
from ratings.models import Vote
from ratings.tests.test_outcomes import finished_debate

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"
WAIT_MS = 30_000


@pytest.fixture
def person(django_user_model):
    return django_user_model.objects.create_user("ada", password=PASSWORD)


@pytest.fixture
def models():
    return [LLMModelFactory(display_name=name) for name in ("Alpha", "Beta", "Gamma")]


def named_debate(models, **fields):
    debate, seats, verdict = finished_debate(models, **fields)
    for seat, (name, stance) in zip(seats, [("Ada Lovelace", "for"), ("Grace Hopper", "against")]):
        seat.display_name, seat.stance = name, stance
        seat.save()
    return debate, seats


def test_a_vote_on_a_finished_debate_is_recorded_and_can_be_changed(page, person, models):
    debate, seats = named_debate(models[:2], winner=0)
    sign_in(page, "ada", PASSWORD)

    page.goto(f"/debates/{debate.pk}/")
    page.locator("#vote .vote-buttons button", has_text="Grace Hopper").click()
    page.locator("#vote-status", has_text="Your vote: Grace Hopper.").wait_for(timeout=WAIT_MS)
    page.reload()
    page.locator("#vote-status", has_text="Your vote: Grace Hopper.").wait_for(timeout=WAIT_MS)
    page.locator("#vote .vote-buttons button", has_text="A tie").click()
    page.locator("#vote-status", has_text="Your vote: a tie.").wait_for(timeout=WAIT_MS)

    vote = Vote.objects.get(user=person)
    assert vote.choice == "tie" and not vote.blind


def test_a_blind_vote_hides_the_seats_until_it_is_cast(page, person, models):
    debate, seats = named_debate(models[:2], winner=0)
    sign_in(page, "ada", PASSWORD)

    page.goto(f"/debates/{debate.pk}/vote/")
    text = page.locator("main").inner_text()
    for secret in ("Ada Lovelace", "Grace Hopper", "Alpha", "Beta"):
        assert secret not in text
    page.click("button:text('Speaker B (against)')")

    page.wait_for_url(f"**/debates/{debate.pk}/#vote")
    page.locator("#vote-status", has_text="Your vote: Grace Hopper (cast blind).").wait_for(timeout=WAIT_MS)
    assert "Grace Hopper" in page.locator("#seats").inner_text()  # revealed
    assert Vote.objects.get(user=person).blind


def test_the_leaderboard_is_computed_in_the_background_and_filtered_by_source(page, person, models):
    alpha, beta, gamma = models
    for winner in (0, 0, 0, 1):
        named_debate([alpha, beta], winner=winner)
    debate, _ = named_debate([beta, gamma], winner=0)
    sign_in(page, "ada", PASSWORD)

    page.goto("/leaderboard/")
    page.locator("#leaderboard-table").wait_for(timeout=WAIT_MS)  # the page refreshed itself once it was built

    names = page.locator("#leaderboard-table tbody tr td:nth-child(2) a").all_text_contents()
    assert names == ["Alpha", "Beta", "Gamma"]
    assert page.locator("#ratings-chart circle").count() == 3
    assert page.locator("#ratings-chart .chart-row title").first.text_content().startswith("Alpha: ")
    page.locator("#leaderboard-table a", has_text="Gamma").click()
    page.wait_for_url(f"**/?model={gamma.pk}")
    assert page.locator(".debate-row").count() == 1

    page.goto("/leaderboard/")
    page.select_option("select[name=source]", "humans")
    page.click("button:text('Apply')")
    page.wait_for_url("**/leaderboard/?source=humans*")
    page.locator("#no-outcomes").wait_for(timeout=WAIT_MS)  # nobody has voted
