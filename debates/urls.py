from django.urls import path

from debates import views

app_name = "debates"

urlpatterns = [
    path("", views.debate_list, name="list"),
    path("debates/new/", views.debate_new, name="new"),
    path("debates/<int:debate_id>/", views.debate_detail, name="detail"),
    path("debates/<int:debate_id>/start/", views.debate_start, name="start"),
    path("debates/<int:debate_id>/cancel/", views.debate_cancel, name="cancel"),
    path("debates/<int:debate_id>/resume/", views.debate_resume, name="resume"),
    path("debates/<int:debate_id>/replay/", views.debate_replay, name="replay"),
    path("debates/<int:debate_id>/compare/<int:other_id>/", views.debate_compare, name="compare"),
]
