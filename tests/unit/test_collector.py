"""The garbage collector paused while a process builds what it keeps, and resumed."""

from __future__ import annotations

import gc
import http.server
import threading

import pytest

from mage_prefect import collector, server_process


@pytest.fixture(autouse=True)
def _collector_restored():
    yield
    collector.resume()
    gc.enable()
    gc.unfreeze()


def test_a_paused_collector_resumes_with_what_exists_frozen():
    collector.pause()
    assert not gc.isenabled()
    kept = [[] for _ in range(1000)]
    collector.resume()
    assert gc.isenabled() and gc.get_freeze_count() >= len(kept)


def test_resuming_does_not_turn_on_a_collector_that_someone_else_turned_off():
    gc.disable()
    collector.pause()
    collector.resume()
    assert not gc.isenabled()


def test_the_server_process_resumes_the_collector_once_its_server_answers():
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.server.up else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    server.up = False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    collector.pause()
    resuming = threading.Thread(
        target=server_process._resume_collector, args=(f"http://127.0.0.1:{server.server_port}/api/health",)
    )
    resuming.start()
    resuming.join(0.5)
    assert resuming.is_alive() and not gc.isenabled()  # not while the server does not answer
    server.up = True
    resuming.join(10)
    server.shutdown()
    server.server_close()
    assert not resuming.is_alive() and gc.isenabled()
