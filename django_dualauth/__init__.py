"""django-dualauth: one DRF auth backend for browsers (HttpOnly cookies) and native apps (bearer)."""

__version__ = "0.1.0"
