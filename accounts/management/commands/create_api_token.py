from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (only its hash is stored)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the token is for, e.g. 'CI'.")

    def handle(self, *args, username: str, name: str, **options) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"There is no user '{username}'.") from None
        if not user.is_active:
            raise CommandError(f"User '{username}' is inactive; an inactive user's tokens are refused.")
        limit = ApiToken._meta.get_field("name").max_length
        if len(name) > limit:
            raise CommandError(f"--name is {len(name)} characters long; keep it to {limit}.")
        token, raw = ApiToken.objects.issue(user=user, name=name)
        # The token alone on stdout, so that `TOKEN=$(manage.py create_api_token me)` works; the rest on stderr.
        self.stdout.write(raw)
        self.stderr.write(f"Created token {token.prefix}… for {username}. It is shown only this once; "
                          f"revoke it with: manage.py revoke_api_token {token.prefix}", style_func=str)
