from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiToken


class Command(BaseCommand):
    help = "Revoke the API token whose first characters are PREFIX (as create_api_token and admin show it)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("prefix")

    def handle(self, *args, prefix: str, **options) -> None:
        tokens = ApiToken.objects.filter(prefix=prefix.rstrip("…"), revoked_at__isnull=True)
        count = tokens.count()
        if count == 0:
            raise CommandError(f"No active token starts with '{prefix}'.")
        if count > 1:
            # Eight random characters rarely collide; when they do, revoking both would surprise someone.
            raise CommandError(f"{count} active tokens start with '{prefix}'; revoke the right one in admin.")
        tokens.revoke()
        self.stdout.write(f"Revoked token {prefix}.")
