"""The leaderboard: built in the background from outcomes (never in a request), served from the board it keeps,
the same numbers on the page, in the API (with each filter) and in the terminal."""
import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from debates.models import DebateStatus, Tag
from providers.tests.factories import LLMModelFactory
from ratings import board
from ratings.models import Board, LeaderboardSetting, Vote
from ratings.tests.test_outcomes import finished_debate

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def results(django_user_model):
    """Alpha beats Beta in 6 of 8 judged debates; Gamma loses all 4 of its own to Alpha; one vote, and tags."""
    alpha, beta, gamma = (LLMModelFactory(display_name=name) for name in ("Alpha", "Beta", "Gamma"))
    for index in range(8):
        debate, _, _ = finished_debate([alpha, beta], winner=0 if index < 6 else 1)
        debate.tags.add(Tag.objects.get_or_create(name="transport" if index % 2 else "schools")[0])
    for _ in range(4):
        finished_debate([alpha, gamma], winner=0, judge_model=beta)
    debate, seats, _ = finished_debate([beta, gamma], winner=0, judge_model=alpha)
    Vote.objects.create(debate=debate, user=django_user_model.objects.create_user("voter"), choice="seat",
                        seat=seats[1])
    return alpha, beta, gamma


def ready(api, query: str = "") -> dict:
    """The board for this query, once the background build the first request asked for has finished."""
    first = api.get(f"/api/leaderboard{query}")
    if first.status_code == 202:
        assert first.json()["status"] == "building"
        board.wait_idle()
        first = api.get(f"/api/leaderboard{query}")
    assert first.status_code == 200, first.content
    return first.json()


def test_a_request_never_fits_it_asks_the_builder_and_gets_the_board_once_built(api, results):
    first = api.get("/api/leaderboard")
    assert first.status_code == 202 and not Board.objects.exists()  # nothing was computed in the request

    board.wait_idle()
    data = api.get("/api/leaderboard").json()

    assert data["status"] == "ready"
    assert [row["display_name"] for row in data["models"]] == ["Alpha", "Beta", "Gamma"]
    alpha = data["models"][0]
    assert (alpha["wins"], alpha["losses"], alpha["ties"], alpha["debates"]) == (10, 2, 0, 12)
    assert alpha["lower"] < alpha["rating"] < alpha["upper"]
    assert sum(row["rating"] for row in data["models"]) / 3 == pytest.approx(1000, abs=0.01)


def test_new_outcomes_make_the_board_stale_until_the_background_rebuild(api, results, django_user_model):
    before = ready(api)
    alpha, beta, _ = results
    for _ in range(6):
        finished_debate([alpha, beta], winner=1)

    stale = api.get("/api/leaderboard").json()
    assert stale["status"] == "stale" and stale["models"] == before["models"]  # served from the board, as built
    board.wait_idle()
    after = api.get("/api/leaderboard").json()
    assert after["status"] == "ready" and after["models"][0]["wins"] != before["models"][0]["wins"]


def test_a_rebuild_from_the_same_outcomes_gives_identical_numbers(results):
    from ratings.outcomes import Filters

    first, second = board.build(Filters()), board.build(Filters())

    assert first["models"] == second["models"]


def test_each_filter_changes_which_outcomes_count(api, results):
    alpha, beta, gamma = results

    assert ready(api, "?source=humans")["outcomes"] == 1
    assert {row["display_name"] for row in ready(api, "?source=judges")["models"]} == {"Alpha", "Beta", "Gamma"}
    by_beta = ready(api, f"?source=judges&judge_model_id={beta.pk}")
    assert by_beta["debates"] == 4 and {row["display_name"] for row in by_beta["models"]} == {"Alpha", "Gamma"}
    assert ready(api, "?tag=transport")["debates"] == 4
    assert ready(api, "?since=2000-01-01&until=2000-12-31")["models"] == []


def test_a_bad_filter_is_a_422(api, results):
    assert api.get("/api/leaderboard?source=everyone").status_code == 422
    assert api.get("/api/leaderboard?since=yesterday").status_code == 422
    nul = api.get("/api/leaderboard?tag=a%00b")  # PostgreSQL cannot even compare text holding NUL: a 500 before
    assert nul.status_code == 422 and "tag" in nul.content.decode()


def test_an_anchor_puts_the_chosen_model_at_1000(api, results):
    _, beta, _ = results
    LeaderboardSetting.objects.update_or_create(pk=1, defaults={"anchor_model": beta})

    data = ready(api)

    assert next(row for row in data["models"] if row["display_name"] == "Beta")["rating"] == pytest.approx(1000)
    assert data["anchor_model_id"] == beta.pk


def test_the_trust_figures(api, results):
    trust = ready(api)["trust"]

    assert trust["judge_human_agreement"] == {"agree": 0, "votes": 1, "share": 0.0}  # the vote named the loser
    assert trust["length_vs_score"]["n"] == 0  # no turns were spoken in these made-up debates
    assert trust["position_consistency"] == []  # and no seat-swap check made


def test_the_page_shows_the_table_the_chart_and_links_to_each_models_debates(client, results, django_user_model):
    client.force_login(django_user_model.objects.create_user("reader"))
    alpha = results[0]

    building = client.get("/leaderboard/").content.decode()
    assert "being computed" in building and 'http-equiv="refresh"' in building
    board.wait_idle()
    page = client.get("/leaderboard/").content.decode()

    assert 'id="leaderboard-table"' in page and 'id="ratings-chart"' in page and "<circle" in page
    assert f'href="/?model={alpha.pk}"' in page
    assert page.index(">Alpha<") < page.index(">Beta<") < page.index(">Gamma<")
    assert 'http-equiv="refresh"' not in page


def test_the_terminal_prints_the_table(results, capsys):
    call_command("leaderboard", "--source", "judges")

    out = capsys.readouterr().out
    assert out.index("Alpha") < out.index("Beta") < out.index("Gamma")
    assert "bootstrap rounds" in out


def test_only_finished_debates_count(api, results):
    alpha, beta, _ = results
    debate, _, _ = finished_debate([alpha, beta], winner=1)
    debate.status = DebateStatus.CANCELLED
    debate.save()

    assert ready(api)["debates"] == 13


def test_a_model_with_too_few_debates_is_listed_after_the_ranked_ones_without_a_rank(api, client, results,
                                                                                     django_user_model, capsys):
    alpha = results[0]
    newcomer = LLMModelFactory(display_name="Newcomer")
    finished_debate([newcomer, alpha], winner=0)  # one debate, one win over the best: luck as much as skill

    data = ready(api)
    client.force_login(django_user_model.objects.create_user("reader"))
    page = client.get("/leaderboard/").content.decode()
    call_command("leaderboard")
    out = capsys.readouterr().out

    assert [(row["display_name"], row["rank"], row["provisional"]) for row in data["models"]] == [
        ("Alpha", 1, False), ("Beta", 2, False), ("Gamma", 3, False), ("Newcomer", None, True)]
    assert data["min_debates"] == 3 and data["unranked"] == 1
    assert page.index(">Gamma<") < page.index(">Newcomer<") and 'class="provisional"' in page
    assert "fewer than 3 debates: their ratings rest on too little to rank them" in page
    assert "  -  Newcomer" in out and "fewer than 3 debates" in out

    setting = LeaderboardSetting.load()
    setting.min_debates = 1  # an admin who wants every model ranked
    setting.save()
    assert ready(api)["status"] == "stale"  # the setting is part of what the board was built from
    board.wait_idle()
    ranked = ready(api)
    assert all(row["rank"] is not None for row in ranked["models"]) and ranked["unranked"] == 0
    assert [row["rank"] for row in ranked["models"]] == [1, 2, 3, 4]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="on SQLite a writer gives up after the busy timeout")
def test_a_build_that_would_wait_on_another_sessions_lock_gives_up_and_a_later_request_builds(api, results,
                                                                                              monkeypatch, caplog):
    monkeypatch.setattr(board, "LOCK_TIMEOUT_SECONDS", 0.5)
    params = {key: connection.get_connection_params()[key] for key in ("dbname", "user", "host", "port")}
    with psycopg.connect(**params) as other:
        other.execute("LOCK TABLE ratings_board IN EXCLUSIVE MODE")  # readers pass, a writer waits: a long migration

        assert api.get("/api/leaderboard").status_code == 202
        board.wait_idle(timeout=10)  # the builder is free again while the lock is still held

        assert "lock timeout" in caplog.text and not Board.objects.exists()
    assert ready(api)["models"][0]["display_name"] == "Alpha"


def test_a_build_that_cannot_reach_the_database_leaves_the_board_free_to_be_asked_for_again(api, results,
                                                                                           django_db_blocker):
    ready(api)  # the builder holds a connection now
    from ratings.outcomes import Filters

    with django_db_blocker.block():  # any use of a connection raises, as with the database down
        board.rebuild_soon(Filters(source="humans"))
        board.wait_idle(timeout=10)

    assert ready(api, "?source=humans")["outcomes"] == 1
