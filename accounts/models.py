"""API tokens: a user's bearer credential for the REST API, stored only as a hash."""
import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

PREFIX_LENGTH = 8
# Recording every use would write to the database on every API call; to the minute is enough to spot a stale token.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> "ApiTokenQuerySet":
        return self.filter(revoked_at__isnull=True, user__is_active=True)

    def issue(self, *, user, name: str = "") -> tuple["ApiToken", str]:
        """A new token for `user`: the row, and the token itself, which exists nowhere else from now on."""
        token = self.model(user=user, name=name)
        raw = token.assign_secret()
        token.save()
        return token, raw

    def user_for(self, raw: str):
        """The active user a presented token belongs to, or None; notes when the token was last used."""
        if not raw:
            return None
        token = self.active().select_related("user").filter(token_hash=hash_token(raw)).first()
        if token is None:
            return None
        token.touch()
        return token.user

    def revoke(self) -> int:
        return self.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for, e.g. 'CI' or 'laptop'.")
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True, editable=False,
                              help_text="The token's first characters, to recognise it; the rest is never stored.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def assign_secret(self) -> str:
        """Give this (unsaved) row a fresh secret; returns the token to hand to its owner, once."""
        raw = secrets.token_urlsafe(32)
        while raw.startswith("-"):  # `revoke_api_token PREFIX` would take such a prefix for an option
            raw = secrets.token_urlsafe(32)
        self.prefix, self.token_hash = raw[:PREFIX_LENGTH], hash_token(raw)
        return raw

    def touch(self) -> None:
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now
