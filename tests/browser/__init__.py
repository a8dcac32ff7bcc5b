"""Browser tests of /console, /chat and /console/admin (see conftest.py)."""
