"""App: start the review app (Streamlit) on a project as a child process, localhost only unless
told otherwise, and stop it cleanly on Ctrl-C."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator
from .. import errors

log = logging.getLogger(__name__)

APP = Path(__file__).resolve().parents[2] / "app.py"


def app_command(project_root: str | Path, *, port: int = 8501, host: str | None = None
                ) -> list[str]:
    """The command line that runs the app on `project_root` (host: $NLP_APP_HOST, else
    127.0.0.1)."""
    host = host or os.environ.get("NLP_APP_HOST") or "127.0.0.1"
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.address", host, "--server.port", str(int(port)),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            # No source watching: this is not a development server, and watching the checkout
            # (a virtualenv included) overflows inotify and burns CPU.
            "--server.fileWatcherType", "none",
            # No "Deploy" button: it offers to publish the app (and its quotes) to a cloud.
            "--client.toolbarMode", "viewer",
            "--", "--project", str(Path(project_root).resolve())]


def serve(project_root: str | Path, *, port: int = 8501, host: str | None = None
          ) -> Iterator[str]:
    """Run the app until it exits or the user presses Ctrl-C. Yields the URL line once the
    server is started, then waits.

    Raises:
        NotReadyError: app.py is not beside the package (an install without the app).
    """
    if not APP.exists():
        raise errors.app_missing(APP)
    cmd = app_command(project_root, port=port, host=host)
    shown = cmd[cmd.index("--server.address") + 1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    log.info("starting %s", " ".join(cmd))
    child = subprocess.Popen(cmd, env=env)
    previous = None
    if threading.current_thread() is threading.main_thread():
        # `kill PID` or a service manager stopping us sends SIGTERM: stop the app too, rather
        # than leave it serving the project on its own.
        def _stop(signum, frame):
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, _stop)
    try:
        yield f"review app on http://{shown}:{port} (Ctrl-C to stop)"
        child.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        stop(child)


def stop(child: subprocess.Popen, timeout: float = 10) -> None:
    """End a server process: politely, then by force after `timeout` seconds."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
