"""UI test setup.

pytest-qt's ``qapp`` is session-scoped, so it is created before the function-scoped autouse fixture
in tests/conftest.py sets QT_QPA_PLATFORM; without a display the default platform plugin aborts the
process. Set offscreen here, before any QApplication exists.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"
