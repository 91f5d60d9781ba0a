from django.apps import AppConfig


class RatingsConfig(AppConfig):
    name = "ratings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Outcomes change when a verdict is given or a vote cast: the leaderboard is rebuilt in the background.
        from ratings import signals  # noqa: F401
