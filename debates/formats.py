"""Debate formats as data: each is a list of phases (what the seats are told, how long a turn may be, whether the
judge reads it), laid over a debate's rounds. A new format is a new entry in FORMATS, not a new code path.
"""
from dataclasses import dataclass

from debates.prompts import PhaseView


@dataclass(frozen=True)
class Phase:
    key: str
    name: str
    instructions: str = ""  # what the seats are told in this phase
    word_limit: int | None = None  # per turn, in the seats' prompt
    judged: bool = True  # whether the judge reads this phase's turns
    repeats: bool = False  # takes every round the phases around it leave free (at least one)


@dataclass(frozen=True)
class Format:
    key: str
    name: str
    description: str
    phases: tuple[Phase, ...]

    @property
    def min_rounds(self) -> int:
        return len(self.phases)

    def phase_of(self, round_number: int, rounds: int) -> Phase:
        """The phase round `round_number` (1-based) of a `rounds`-round debate belongs to."""
        before = next((i for i, phase in enumerate(self.phases) if phase.repeats), len(self.phases))
        after = len(self.phases) - before - 1
        if round_number <= before:
            return self.phases[round_number - 1]
        if round_number > rounds - after:
            return self.phases[len(self.phases) - (rounds - round_number) - 1]
        return self.phases[before]

    def plan(self, rounds: int) -> list[tuple[int, Phase]]:
        return [(number, self.phase_of(number, rounds)) for number in range(1, rounds + 1)]

    def label_of(self, round_number: int, rounds: int) -> str:
        """The phase's name where the format has phases to tell apart ("Rebuttal"); "" for free rounds."""
        return self.phase_of(round_number, rounds).name if len(self.phases) > 1 else ""

    def brief_of(self, round_number: int, rounds: int) -> PhaseView:
        """What a seat's prompt says of this round's phase."""
        phase = self.phase_of(round_number, rounds)
        return PhaseView(name=self.label_of(round_number, rounds), instructions=phase.instructions,
                         word_limit=phase.word_limit)

    def judged(self, round_number: int, rounds: int) -> bool:
        return self.phase_of(round_number, rounds).judged


FORMATS = {
    "rounds": Format(
        key="rounds", name="Free rounds", description="Every round alike: each seat answers the debate so far.",
        phases=(Phase(key="round", name="Round", repeats=True),)),
    "oxford": Format(
        key="oxford", name="Oxford", description="Opening statements, one or more rounds of rebuttal, closing "
        "statements.",
        phases=(
            Phase(key="opening", name="Opening statements", word_limit=150,
                  instructions="Open your case: state your position on the motion and your strongest arguments. "
                               "Do not rebut yet."),
            Phase(key="rebuttal", name="Rebuttal", word_limit=150, repeats=True,
                  instructions="Rebut: answer the other side's strongest points directly, and defend your own."),
            Phase(key="closing", name="Closing statements", word_limit=100,
                  instructions="Close: sum up why your side should win. Bring no new arguments."),
        )),
}
DEFAULT_FORMAT = "rounds"


def rounds_problem(format_key: str, rounds: int) -> str:
    """Why a debate of this format cannot have this many rounds, or ""."""
    chosen = FORMATS[format_key]
    if rounds < chosen.min_rounds:
        return (f"The {chosen.name} format needs at least {chosen.min_rounds} rounds "
                f"({', '.join(phase.name.lower() for phase in chosen.phases)}).")
    return ""
