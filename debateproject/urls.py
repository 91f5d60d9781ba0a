from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from debateproject.api import api, unknown_endpoint

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("api/<path:rest>", unknown_endpoint),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path("", include("debates.urls")),
    path("", include("ratings.urls")),
]
