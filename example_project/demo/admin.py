from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from django_dualauth.admin import RevokeSessionsUserAdminMixin

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class DemoUserAdmin(RevokeSessionsUserAdminMixin, UserAdmin):
    pass
