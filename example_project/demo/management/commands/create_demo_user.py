from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from django_dualauth.services.claims import update_account_state

EMAIL = "demo@example.com"
PASSWORD = "demo-password-123"


class Command(BaseCommand):
    help = "Create (or reset) the demo user and a superuser for the admin."

    def handle(self, *args, **options):
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=EMAIL, defaults={"email": EMAIL})
        user.email = EMAIL
        user.is_active = True
        user.set_password(PASSWORD)
        user.save()
        # Verified, as a real user who signed up and confirmed would be: otherwise the first magic
        # link or social sign-in to the address would take it as the first proof of the mailbox and
        # drop the password (the pre-account-hijacking defence), and the demo would lock itself out.
        update_account_state(user, email_verified=True)
        admin, _ = User.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
        admin.is_staff = admin.is_superuser = True
        admin.set_password(PASSWORD)
        admin.save()
        self.stdout.write(f"demo user: {EMAIL} / {PASSWORD}   admin: admin / {PASSWORD}")
