"""The example project's logging (issue 15, item 5): a server error is logged with its
traceback, and so are the package's audit events; Django's loggers are not disabled."""

from __future__ import annotations

import subprocess
import sys

from tests.live_server import ROOT, server_env

SCRIPT = """
import logging
import django
django.setup()
try:
    raise RuntimeError("boom")
except RuntimeError as error:
    # What Django's request handler logs for an unhandled exception (django.utils.log.log_response).
    logging.getLogger("django.request").error("Internal Server Error: %s", "/api/hello", exc_info=error)
logging.getLogger("django.request").warning("Unauthorized: %s", "/auth/me")  # a 4xx: not logged
from django_dualauth import audit
audit.record_outage("psycopg.OperationalError", "/auth/refresh")
"""


def test_server_errors_and_audit_events_are_logged(tmp_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=server_env(tmp_path), cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=True)
    assert "ERROR django.request Internal Server Error: /api/hello" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr and "RuntimeError: boom" in result.stderr
    assert "Unauthorized" not in result.stderr
    assert "WARNING django_dualauth.audit auth.database.unavailable error=psycopg.OperationalError" in result.stderr
