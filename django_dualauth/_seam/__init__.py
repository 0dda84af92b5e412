"""The private seam: every use of another library's private internals, and nothing else.

Each module here gives the package one narrow interface over one private API, and each has a
plain reference path that uses public APIs only and behaves the same (the test suite runs
against both: ``DUALAUTH_PRIVATE_SPEEDUPS = False`` selects the reference):

* :mod:`.compiled`: ORM statements compiled once and re-run (Django's compiler internals);
  the reference is the queryset itself.
* :mod:`.rotation_statement`: the successful refresh as one PostgreSQL statement, built around
  the compiled locked look-up, with the rotation rules it is given (``services.rotation_rules``);
  the reference is the transaction of ``services.sessions``.
* :mod:`.jwt_decoder`: PyJWT with its per-segment base64url check done by C string methods
  (PyJWT's private ``_decode_base64url_segment`` and ``_jws``); the reference is ``jwt.PyJWT``.
* :mod:`.redis_connection`: the redis-py client behind Django's ``RedisCache`` (private
  ``_cache``; django-redis has a public way) and the socket of a connection, to poll it (private
  ``_sock``); the socket's reference is redis-py's ``can_read()``.
* :mod:`.settings_holder`: the object that holds Django's settings now (``settings._wrapped``),
  which tells ``conf.snapshot()`` that ``override_settings`` replaced them. No reference path:
  without it a removed setting (which sends no ``setting_changed``) would go unseen.
* :mod:`.csrf_check`: Django's CSRF check answering with its reason (``_reject`` overridden).
  No reference path: the public way renders ``CSRF_FAILURE_VIEW`` and logs once more.

Nothing outside this package may touch a private attribute of Django, PyJWT or redis-py
(``tests/test_architecture.py``). This ``__init__`` imports nothing, so ``conf`` can use
:mod:`.settings_holder` and :mod:`.csrf_check` without loading the ORM.
"""
