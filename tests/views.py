from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dualauth.authentication import DualAuthentication


class WhoAmI(APIView):
    """A project view protected by DualAuthentication under DRF's own exception handler."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"id": str(request.user.pk), "sid": request.auth.sid})

    def post(self, request):
        return Response({"id": str(request.user.pk), "changed": True})
