"""The process of a local Prefect server: `prefect server start`, the garbage collector paused
(collector.py) until the server answers, which saves a tenth of its start.

    python -m mage_prefect.server_process --host HOST --port PORT
"""

from __future__ import annotations

import sys
import threading
import time

from . import collector
from .local_server import answers

RESUME_AFTER = 600.0  # seconds: the collector resumes by then even if the server never answers


def main(argv: list[str]) -> int:
    collector.pause()
    host, port = argv[argv.index("--host") + 1], argv[argv.index("--port") + 1]
    threading.Thread(target=_resume_collector, args=(f"http://{host}:{port}/api/health",), daemon=True).start()
    from prefect.cli import app

    sys.argv = ["prefect", "server", "start", *argv]
    return app()


def _resume_collector(health: str) -> None:
    deadline = time.monotonic() + RESUME_AFTER
    while time.monotonic() < deadline and not answers(health):
        time.sleep(0.05)
    collector.resume()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
