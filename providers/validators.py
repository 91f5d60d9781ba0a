import re

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from debateproject.env import is_app_env_var

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_http_url = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// URL.")


def validate_api_base(value: str) -> None:
    _http_url(value)


def validate_key_env_var(value: str) -> None:
    if not _ENV_NAME.match(value):
        raise ValidationError(
            "Enter the name of an environment variable (letters, digits and underscores, "
            "not starting with a digit), for example ANTHROPIC_API_KEY: never the key itself."
        )
    if is_app_env_var(value):
        raise ValidationError(
            f"{value} holds the application's own configuration and cannot be sent to a provider."
        )
