from django.urls import path, re_path

from example_project.urls import urlpatterns as example

from . import views

urlpatterns = [
    path("harness/", views.harness),
    path("harness/log", views.log),
    path("harness/always-401", views.always_401),
    path("harness/redirect-307", views.redirect_307),
    # The app's static files as a deployment serves them (DEBUG is off, so staticfiles' own
    # view would refuse): the client is found where the wheel ships it.
    re_path(r"^static/(?P<path>.+)$", views.static),
    *example,
]
