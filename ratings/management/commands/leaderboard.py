"""Print the leaderboard in the terminal, fitted now from the outcomes as they stand."""
from django.core.management.base import BaseCommand, CommandError

from ratings.board import build
from ratings.forms import FilterForm


class Command(BaseCommand):
    help = "Print the model leaderboard (Bradley-Terry ratings with 95% intervals), e.g. leaderboard --source judges"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--source", choices=["both", "judges", "humans"], default="both")
        parser.add_argument("--judge", metavar="MODEL_ID", help="count only this judge model's verdicts")
        parser.add_argument("--tag", default="")
        parser.add_argument("--since", metavar="YYYY-MM-DD")
        parser.add_argument("--until", metavar="YYYY-MM-DD")

    def handle(self, *args, **options) -> None:
        form = FilterForm({key: options[key] for key in ("source", "judge", "tag", "since", "until")
                           if options[key]})
        if not form.is_valid():
            raise CommandError("; ".join(f"--{field}: {' '.join(errors)}" for field, errors in form.errors.items()))
        board = build(form.filters())
        if not board["models"]:
            self.stdout.write("No outcomes match: finished debates with a parsed verdict or a vote count.")
            return
        self.stdout.write(f"{'#':>3}  {'Model':<32} {'Rating':>7}  {'95% interval':<13} {'W':>4} {'L':>4} {'T':>4} "
                          f"{'Debates':>7}")
        for row in board["models"]:
            interval = f"{row['lower']:.0f}-{row['upper']:.0f}"
            rank = row["rank"] if row.get("rank") is not None else "-"
            self.stdout.write(f"{rank:>3}  {row['display_name'][:32]:<32} {row['rating']:>7.0f}  "
                              f"{interval:<13} {row['wins']:>4} {row['losses']:>4} {row['ties']:>4} "
                              f"{row['debates']:>7}")
        self.stdout.write(f"{board['outcomes']} outcomes from {board['debates']} debates; "
                          f"{board['bootstrap_rounds']} bootstrap rounds.")
        if any(row.get("provisional") for row in board["models"]):
            self.stdout.write(f"Models marked - have fewer than {board['min_debates']} debates: listed, not ranked.")
