"""The e-mail address claims (``EmailClaim``): one account per address under concurrent
registration and e-mail change, for any user model.

No data migration: the user table stays the source of truth, so users created before this
migration need no claim (registration and e-mail change still look them up after claiming).
Existing duplicate addresses, if any, are left for you to resolve: they are not touched here.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("dualauth", "0006_lean_session_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="EmailClaim",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("key", models.CharField(editable=False, max_length=64)),
                ("created_at", models.DateTimeField()),
                ("user", models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE,
                                           related_name="dualauth_email_claims", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "verbose_name": "e-mail address claim",
                "constraints": [models.UniqueConstraint(fields=("key",), name="dualauth_email_claim_key")],
            },
        ),
    ]
