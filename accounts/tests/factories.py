import factory
from django.contrib.auth import get_user_model

from accounts.models import ApiToken


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")


def issue_token(user=None, **fields) -> tuple[ApiToken, str]:
    """A token row and its secret, for `Authorization: Bearer <secret>`."""
    return ApiToken.objects.issue(user=user or UserFactory(), **fields)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
