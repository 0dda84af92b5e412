"""The OpenAPI 3 description of the endpoints, for drf-spectacular (an optional extra:
``pip install django-dualauth[openapi]``; docs/openapi.md).

Nothing outside this package imports it, so the package works without drf-spectacular. The
app config loads :mod:`.extensions` when ``drf_spectacular`` is installed: that registers the
extensions which describe the views and the two authentication classes, in the project's own
schema as in the one that :mod:`.urls` serves.
"""
