"""What a seat sees: the motion, its stance, the transcript, and never more than its model can take."""
from debates.prompts import SeatView, SpokenTurn, estimate_tokens, seat_messages, seat_system_prompt

SEAT = SeatView(position=2, display_name="Bea", stance="against",
                system_prompt=seat_system_prompt(display_name="Bea", stance="against"))


def transcript(turns: int, words: int = 50) -> list[SpokenTurn]:
    return [SpokenTurn(round=i // 2 + 1, position=i % 2 + 1, speaker="Ada" if i % 2 == 0 else "Bea",
                       stance="for" if i % 2 == 0 else "against", text=f"turn{i} " + "word " * words)
            for i in range(turns)]


def prompt_text(messages) -> str:
    return "\n".join(m["content"] for m in messages)


def test_it_ends_where_the_seat_begins_to_speak():
    messages = seat_messages(topic="Ban cars", seat=SEAT, round_number=2, rounds=3, transcript=transcript(3),
                             context_window=8192, max_tokens=300)

    assert messages[-1]["content"].endswith("\n\nBea (against), round 2:")
    assert "Motion: Ban cars" in messages[-1]["content"]
    assert "Ada (for), round 1: turn0" in messages[-1]["content"]
    assert "arguing against the motion" in messages[0]["content"]


def test_the_first_speaker_is_told_it_opens():
    messages = seat_messages(topic="Ban cars", seat=SEAT, round_number=1, rounds=1, transcript=[],
                             context_window=8192, max_tokens=300)

    assert "you open the debate" in messages[-1]["content"]


def test_a_long_transcript_drops_the_oldest_turns_but_never_the_motion_or_stance():
    long = transcript(40, words=100)

    messages = seat_messages(topic="Ban cars", seat=SEAT, round_number=21, rounds=21, transcript=long,
                             context_window=2048, max_tokens=300)

    text = prompt_text(messages)
    assert estimate_tokens(text) + 300 <= 2048
    assert "Motion: Ban cars" in text and "arguing against the motion" in text
    assert "turn39" in text and "turn0 " not in text
    assert "earlier turn(s) omitted to fit the model's context window" in text


def test_a_short_transcript_is_kept_whole():
    messages = seat_messages(topic="Ban cars", seat=SEAT, round_number=2, rounds=2, transcript=transcript(3),
                             context_window=8192, max_tokens=300)

    assert "omitted" not in prompt_text(messages)
    assert all(f"turn{i} " in prompt_text(messages) for i in range(3))
