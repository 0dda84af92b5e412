"""Migration 0006 on the real PostgreSQL server: the tables every refresh writes carry only the
indexes a look-up needs, and the rotation's look-up probes the digest's index."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from django_dualauth.crypto import digest
from django_dualauth.models import AuthSession, RotatedRefreshToken
from django_dualauth.services import sessions as sessions_service

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _indexes(model: Any) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [model._meta.db_table])
        return {row[0] for row in cursor.fetchall()}


def test_each_refresh_table_has_three_indexes() -> None:
    # A rotation is never a HOT update (the digest changes): each index costs an entry per refresh.
    assert _indexes(AuthSession) == {"dualauth_authsession_pkey", "dualauth_session_digest_uniq",
                                     "dualauth_session_user_idx"}
    spent = _indexes(RotatedRefreshToken)
    assert len(spent) == 3 and "dualauth_rotated_digest_uniq" in spent, spent
    assert not any(name.endswith("_like") for name in spent)


def test_the_rotation_lookup_probes_the_digest_index(user: Any) -> None:
    now = timezone.now()
    AuthSession.objects.bulk_create([
        AuthSession(user=user, delivery="bearer", refresh_digest=digest(f"t{i}", "refresh_token"),
                    expires_at=now + timedelta(days=1), absolute_expires_at=now + timedelta(days=30))
        for i in range(2000)])
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{AuthSession._meta.db_table}"')
    queryset = sessions_service._locked_by_digest(digest("t1", "refresh_token"))
    with transaction.atomic():
        plan = queryset.explain()
    assert "dualauth_session_digest_uniq" in plan, plan
