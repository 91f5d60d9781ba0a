"""A turn's rows are written by the statement that numbers its event: with the seq and the lease, or not at all, on
every backend; on PostgreSQL the event and its rows are one statement, one round trip."""
import psycopg
import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from debates.events import LeaseLost, _commit
from debates.models import Debate, Seat, Turn
from debates.row_writes import RowWrite, Writes
from debates.tests.factories import DebateFactory, SeatFactory

pytestmark = pytest.mark.django_db
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only (DATABASE_URL)")


@pytest.fixture
def seat() -> Seat:
    return SeatFactory(debate=DebateFactory(runner_token="ours", last_seq=4))


def started(seat: Seat, **fields) -> Turn:
    return Turn(seat=seat, debate_id=seat.debate_id, round=1, started_at=timezone.now(), **fields)


def test_a_new_turn_is_written_with_its_event_and_its_id_handed_on(seat):
    told = []
    turn = started(seat)

    added = _commit(seat.debate_id, 5, Writes([RowWrite.save(turn, insert=True)],
                                              then=lambda ids: told.extend(ids) or {"turn_id": ids[0]}), "ours")

    row = Turn.objects.get(debate_id=seat.debate_id)
    assert added == {"turn_id": row.pk} and told == [row.pk]
    assert (row.status, row.text, row.prompt_tokens, row.cost_usd, row.answered_by_model) == ("streaming", "", None,
                                                                                              None, None)
    assert Debate.objects.get(pk=seat.debate_id).last_seq == 5


def test_a_completed_turn_and_its_seat_are_written_with_the_seq_and_the_debates_spend(seat):
    turn = started(seat)
    _commit(seat.debate_id, 5, Writes([RowWrite.save(turn, insert=True)], then=lambda ids: setattr(turn, "pk", ids[0])),
            "ours")
    turn.status, turn.text, turn.cost_usd, turn.completion_tokens = "completed", "Fair point.", 0.125, 3

    _commit(seat.debate_id, 6, Writes([RowWrite.save(turn, insert=False),
                                       RowWrite.update(Seat, seat.pk, spent_usd=0.125, unpriced_calls=0)]),
            "ours", {"spent_usd": 0.125})

    row, seat_row, debate = (Turn.objects.get(pk=turn.pk), Seat.objects.get(pk=seat.pk),
                             Debate.objects.get(pk=seat.debate_id))
    assert (row.status, row.text, row.cost_usd, row.completion_tokens) == ("completed", "Fair point.", 0.125, 3)
    assert (seat_row.spent_usd, debate.spent_usd, debate.last_seq) == (0.125, 0.125, 6)


@pytest.mark.parametrize("token, seq", [("another-runner", 5), ("ours", 7)], ids=["lease taken", "seq moved on"])
def test_rows_whose_fence_fails_are_not_written(seat, token, seq):
    with pytest.raises(LeaseLost):
        _commit(seat.debate_id, seq, Writes([RowWrite.save(started(seat), insert=True),
                                             RowWrite.update(Seat, seat.pk, spent_usd=9.0, unpriced_calls=2)]),
                token, {"spent_usd": 9.0})

    debate = Debate.objects.get(pk=seat.debate_id)
    assert not Turn.objects.filter(debate_id=seat.debate_id).exists()
    assert (Seat.objects.get(pk=seat.pk).spent_usd, debate.spent_usd, debate.last_seq) == (0.0, 0.0, 4)


@on_postgresql
def test_on_postgresql_an_event_and_its_rows_are_one_statement(seat):
    with CaptureQueriesContext(connection) as queries:
        _commit(seat.debate_id, 5, Writes([RowWrite.save(started(seat), insert=True),
                                           RowWrite.update(Seat, seat.pk, spent_usd=0.5, unpriced_calls=0)]), "ours")

    assert len(queries) == 1 and Turn.objects.filter(debate_id=seat.debate_id).count() == 1


@on_postgresql
def test_on_postgresql_a_value_too_long_for_its_column_is_refused_not_cut(seat):
    with pytest.raises(DataError), transaction.atomic():  # a savepoint: the test's transaction goes on
        _commit(seat.debate_id, 5, Writes([RowWrite.save(started(seat, answered_by="m" * 201), insert=True)]), "ours")

    assert not Turn.objects.exists() and Debate.objects.get(pk=seat.debate_id).last_seq == 4


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_statement_holds_with_server_side_binding_too():
    """A deployment may turn it on (OPTIONS): each value is then a typed parameter, a NULL one included."""
    seat = SeatFactory(debate=DebateFactory(runner_token="ours", last_seq=4))
    options = connection.settings_dict["OPTIONS"]
    connection.close()
    options["server_side_binding"] = True
    try:
        _commit(seat.debate_id, 5, Writes([RowWrite.save(started(seat), insert=True),
                                           RowWrite.update(Seat, seat.pk, spent_usd=0.5, unpriced_calls=1)]), "ours")
        assert not isinstance(connection.cursor().cursor, psycopg.ClientCursor)  # the values went as parameters
    finally:
        connection.close()
        del options["server_side_binding"]

    turn = Turn.objects.get(debate_id=seat.debate_id)
    assert (turn.prompt_tokens, turn.status, Seat.objects.get(pk=seat.pk).unpriced_calls) == (None, "streaming", 1)
