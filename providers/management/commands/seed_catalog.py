from django.core.management.base import BaseCommand

from providers.catalog import seed_catalog


class Command(BaseCommand):
    help = "Add the default providers and models that are missing. Never overwrites admin edits."

    def handle(self, *args, **options) -> None:
        providers, models = seed_catalog()
        self.stdout.write(f"catalog: {providers} provider(s) and {models} model(s) added")
