from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

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
        admin, _ = User.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
        admin.is_staff = admin.is_superuser = True
        admin.set_password(PASSWORD)
        admin.save()
        self.stdout.write(f"demo user: {EMAIL} / {PASSWORD}   admin: admin / {PASSWORD}")
