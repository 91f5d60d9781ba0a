from django.urls import path

from ratings import views

app_name = "ratings"

urlpatterns = [
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("debates/<int:debate_id>/vote/", views.blind_vote, name="blind_vote"),
]
