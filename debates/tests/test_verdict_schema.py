"""The verdict's schema: any reply that matches it is a complete verdict, and a reply that does not is refused
with a message the repair request can use."""
import json

import pytest

from debates.verdict_schema import InvalidVerdict, parse, response_format, seat_label

LABELS = ["A", "B", "C"]
CRITERIA = ["logic", "evidence"]


def scored(score, criteria=CRITERIA) -> dict:
    return {key: {"reasoning": f"why {key}", "score": score} for key in criteria}


def reply(**changes) -> str:
    verdict = {"summary": "Close.", "winner": "B", "key_arguments": ["cost"],
               "scores": {label: scored(5 + i) for i, label in enumerate(LABELS)}}
    return json.dumps({**verdict, **changes})


def test_the_schema_has_one_required_score_per_seat_and_criterion_and_nothing_else():
    schema = response_format(LABELS, CRITERIA)["json_schema"]["schema"]
    scores, per_seat = schema["$defs"]["Scores"], schema["$defs"]["SeatScores"]

    assert set(scores["properties"]) == set(scores["required"]) == set(LABELS)
    assert set(per_seat["properties"]) == set(per_seat["required"]) == set(CRITERIA)
    assert scores["additionalProperties"] is False and schema["additionalProperties"] is False
    assert per_seat["additionalProperties"] is False
    assert schema["properties"]["winner"]["enum"] == LABELS
    assert set(schema["required"]) == {"summary", "scores", "winner", "key_arguments"}
    assert "minLength" not in json.dumps(schema)  # OpenAI's strict mode refuses keywords it does not support


def test_labels_follow_the_seat_order():
    assert [seat_label(position) for position in (1, 2, 6)] == ["A", "B", "F"]


def test_a_matching_reply_parses_even_inside_a_code_fence():
    verdict = parse(f"Here it is:\n```json\n{reply()}\n```", LABELS, CRITERIA)

    assert verdict.winner == "B" and verdict.scores.C.evidence.score == 7
    assert verdict.scores.A.logic.reasoning == "why logic"


@pytest.mark.parametrize(("changes", "problem"), [
    ({"scores": {"A": scored(5), "B": scored(5)}}, "scores.C: Field required"),
    ({"scores": {label: scored(5) for label in "ABCD"}}, "scores.D: Extra inputs are not permitted"),
    ({"scores": {label: scored(5, ["logic"]) for label in LABELS}}, "scores.A.evidence: Field required"),
    ({"scores": {label: scored(5, [*CRITERIA, "charm"]) for label in LABELS}},
     "scores.A.charm: Extra inputs are not permitted"),
    ({"winner": "Ada"}, "winner: Input should be 'A', 'B' or 'C'"),
    ({"summary": "  "}, "summary: Value error, must not be empty"),
    ({"scores": {label: scored(11) for label in LABELS}}, "scores.A.logic.score: Input should be less "
                                                          "than or equal to 10"),
    # Not a score the judge gave (pydantic alone would read them as 1 and 0).
    ({"scores": {label: scored(True) for label in LABELS}}, "scores.A.logic.score: Value error, must be a number"),
    ({"scores": {label: scored(False) for label in LABELS}}, "scores.A.logic.score: Value error, must be a number"),
])
def test_a_reply_that_does_not_match_says_where(changes, problem):
    with pytest.raises(InvalidVerdict) as refused:
        parse(reply(**changes), LABELS, CRITERIA)

    assert problem in str(refused.value)


@pytest.mark.parametrize(("text", "problem"), [("I think B won.", "holds no JSON object"),
                                               ('{"summary": "x", ', "holds no JSON object"),
                                               ('{"summary": x}', "does not parse")])
def test_a_reply_that_is_not_json_says_so(text, problem):
    with pytest.raises(InvalidVerdict, match=problem):
        parse(text, LABELS, CRITERIA)
