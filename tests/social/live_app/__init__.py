"""The example project with social sign-in configured, served live (``tests/live_server.py``) for
the Chromium tests of the redirect flow: ``settings`` reads the providers and return URLs from
the JSON file named by ``E2E_SOCIAL_CONFIG``; ``urls`` adds the pages the flow returns to."""
