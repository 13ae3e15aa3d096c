"""UI test setup.

The offscreen platform is chosen at import time in tests/conftest.py (pytest-qt's session-scoped
``qapp`` exists before any autouse fixture runs). UI tests use the session's one host pool from
tests/conftest.py; the ``hosts`` fixture resets the hosts before each test. A second run in the same
machine picks its own subnet with PATCHDESK_TEST_SUBNET.
"""
