from django.core.management.base import BaseCommand

from debates.personas import seed_personas


class Command(BaseCommand):
    help = "Add the persona presets that are missing. Never overwrites admin edits."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"personas: {seed_personas()} added")
