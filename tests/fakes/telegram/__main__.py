"""``python -m tests.fakes.telegram --port 0 --token T``: serve until SIGTERM/SIGINT."""

from __future__ import annotations

import sys

from tests.fakes.telegram.server import main

sys.exit(main())
