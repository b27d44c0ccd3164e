"""Run a loopback test server in the foreground until SIGTERM/SIGINT (the CLIs of the harness and proxy)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any, Optional


def serve_until_signalled(server: Any, banner: str, port_file: Optional[Path] = None) -> int:
    """``server`` is already serving (``.port``, ``.stop()``); print ``banner``, write the port
    to ``port_file`` (atomically, removed on exit) and wait for a signal."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stop.set())
    if port_file:
        tmp = port_file.with_name(port_file.name + ".tmp")
        tmp.write_text(f"{server.port}\n")
        tmp.replace(port_file)
    print(banner, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        if port_file:
            port_file.unlink(missing_ok=True)
    return 0
