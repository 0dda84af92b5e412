"""The demo's API view and its pages: the page at ``/`` (sign in, 2FA, sessions, password) and
the pages its mails link to, each a template with the same script (``demo/demo.js``) on top of
the shipped browser client (``dualauth/dualauth.js``)."""

from django.conf import settings
from django.views.generic import TemplateView
from rest_framework.response import Response
from rest_framework.views import APIView


class HelloView(APIView):
    """A protected API view: DualAuthentication is the project's default authentication class."""

    def get(self, request):
        return Response({"hello": str(request.user), "sessionId": request.auth.sid})


#: page name -> (title, whether its URL carries a mailed token)
PAGES = {
    "home": ("Sign in", False),
    "magic-link": ("Sign in with a link", True),
    "reset-password": ("Choose a new password", True),
    "verify-email": ("Verify your e-mail address", True),
    "confirm-email": ("Confirm your new e-mail address", True),
    "link-verify": ("Link a sign-in method", True),
}


class DemoPageView(TemplateView):
    """One of the demo's pages. ``DEMO_API_ORIGIN`` set: the page talks to the API there
    (cross-origin, docs/recipe-cross-origin.md); else to this server's ``/auth``."""

    template_name = "demo/page.html"
    page = "home"

    def get_context_data(self, **kwargs):
        title, has_token = PAGES[self.page]
        return {**super().get_context_data(**kwargs), "page": self.page, "title": title,
                "api_base": f"{settings.DEMO_API_ORIGIN}/auth", "has_token": has_token}

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        # No inline script or style anywhere: scripts, styles and fetches from the page's own
        # origin (and the API's), the QR code as a data: image.
        api = settings.DEMO_API_ORIGIN
        response["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'{' ' + api if api else ''}; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
        if context["has_token"]:
            response["Referrer-Policy"] = "no-referrer"  # the token is in this page's URL
        response["Cache-Control"] = "no-store"
        return response
