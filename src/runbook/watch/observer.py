"""Wake the watch loop when a watched directory changes: inotify (watchdog) or plain polling.

The loop never trusts an event on its own: an event only makes it re-read the files now instead
of at the next ``--interval``; what changed is decided by content digests. With inotify the
interval remains a safety net (a lost event, a directory replaced wholesale). Directories are
watched, not files: a Kubernetes secret volume swaps a ``..data`` symlink in the directory, and
a file renamed over keeps no inotify watch of the old inode. ``poll`` (forced with ``--poll``, or
when inotify cannot start, e.g. ``fs.inotify.max_user_watches`` reached) re-reads every interval.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

# events that can change a file's content; opening and reading (our own reads!) are left out
_CHANGE_EVENTS = ("created", "deleted", "modified", "moved", "closed", "attrib")


class Waker:
    """Watches directories and sets :attr:`event` on a change (inotify), or does nothing (poll)."""

    def __init__(self, poll: bool = False) -> None:
        self.event = threading.Event()
        self.backend = "poll"
        self.reason = "--poll given" if poll else ""
        self._observer: Any = None
        self._watches: dict[Path, Any] = {}
        if not poll:
            self._start_inotify()

    def _start_inotify(self) -> None:
        try:
            from watchdog.observers.inotify import InotifyObserver
        except Exception as exc:  # not Linux, or a libc without inotify
            self.reason = f"inotify unavailable ({type(exc).__name__})"
            return
        observer = InotifyObserver(timeout=0.2)
        try:
            observer.start()
        except OSError as exc:
            self.reason = f"inotify unavailable ({exc.strerror or exc})"
            return
        self._observer, self.backend = observer, "inotify"

    def dispatch(self, event: Any) -> None:
        """watchdog calls this for every event of a watched directory (on its thread)."""
        if getattr(event, "event_type", "") in _CHANGE_EVENTS:
            self.event.set()

    def watch(self, dirs: set[Path]) -> None:
        """Watch exactly ``dirs`` (added and removed as symlinks resolve elsewhere)."""
        if self._observer is None:
            return
        for gone in set(self._watches) - dirs:
            with contextlib.suppress(Exception):
                self._observer.unschedule(self._watches.pop(gone))
        for new in dirs - set(self._watches):
            try:
                self._watches[new] = self._observer.schedule(self, str(new), recursive=False)
            except OSError as exc:
                self.reason = f"cannot watch {new} ({exc.strerror or exc}): polling it"

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """Sleep up to ``timeout`` seconds; True when woken by a change. Returns early on ``stop``."""
        deadline = time.monotonic() + max(0.0, timeout)
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.event.wait(min(left, 0.2)):
                self.event.clear()
                return True
        return False

    def close(self) -> None:
        if self._observer is not None:
            with contextlib.suppress(Exception):
                self._observer.stop()
                self._observer.join(timeout=5)
            self._observer = None
