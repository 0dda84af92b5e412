"""The example project's URLs and ``e2e/<page>``: the small page of the app that the redirect
flow returns the browser to (any query it carries, ``error=`` or ``linked=``, is shown)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.html import escape

from example_project.urls import urlpatterns as example_urlpatterns


def page(request: HttpRequest, name: str) -> HttpResponse:
    query = escape(request.META.get("QUERY_STRING", ""))
    return HttpResponse(f'<!doctype html><title>e2e {escape(name)}</title>'
                        f'<p id="page" data-page="{escape(name)}" data-query="{query}">{escape(name)}</p>')


urlpatterns = [*example_urlpatterns, path("e2e/<slug:name>", page)]
