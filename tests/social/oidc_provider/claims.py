"""The claims the provider asserts: e-mail (verified or not) and name, as Google and most
providers do. ``email_verified`` is membership of the group ``EMAIL_VERIFIED`` (the provider
project has no model of its own, hence no migration)."""

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator

EMAIL_VERIFIED = "email-verified"


class Validator(OAuth2Validator):
    # The request-free form (callables of the request): discovery then lists these claims in
    # ``claims_supported``, as real providers do.
    def get_additional_claims(self) -> dict[str, Any]:
        return {
            "email": lambda request: request.user.email,
            "email_verified": lambda request: request.user.groups.filter(name=EMAIL_VERIFIED).exists(),
            "name": lambda request: request.user.get_full_name(),
            "given_name": lambda request: request.user.first_name,
            "family_name": lambda request: request.user.last_name,
            "preferred_username": lambda request: request.user.username,
        }
