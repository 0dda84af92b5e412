from rest_framework.response import Response
from rest_framework.views import APIView


class HelloView(APIView):
    """A protected API view: DualAuthentication is the project's default authentication class."""

    def get(self, request):
        return Response({"hello": str(request.user), "sessionId": request.auth.sid})
