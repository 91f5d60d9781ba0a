"""A new verdict or vote changes the outcomes: the default board starts rebuilding at once, in the background, so
the next visitor finds it ready (other filters are rebuilt when first asked for)."""
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from debates.models import Verdict
from ratings.models import Vote


@receiver(post_save, sender=Verdict)
@receiver(post_save, sender=Vote)
def outcomes_changed(sender, **kwargs) -> None:
    if not settings.LEADERBOARD_REBUILD_ON_CHANGE:
        return
    from ratings.board import rebuild_soon
    from ratings.outcomes import Filters

    transaction.on_commit(lambda: rebuild_soon(Filters()))
