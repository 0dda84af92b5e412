"""The staff API's URL module (``django_dualauth.staff.urls``); the views are in ``api/staff.py``."""
