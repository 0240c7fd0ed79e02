"""Turns of the chat UI run in the background, one after another per session, so a page reload never loses one.

A handler submits a turn and returns at once (the shopper's message is on screen); the turn runs in its own
thread after every earlier turn of the same session, so clicks and messages are answered in the order they
were made. A reloaded page asks `pending(session_id)` and shows those messages until `wait` says they are done.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Job:
    """One submitted turn: the text shown while it runs, and how it ended."""

    text: str
    key: str = ""  # what the turn does ("like:<item id>"), so a double click is not run twice
    done: threading.Event = field(default_factory=threading.Event)
    error: str = ""


class TurnQueue:
    """Per-session FIFO of turns, each run in a thread of its own after the session's earlier ones."""

    def __init__(self, expected: tuple[type[BaseException], ...] = ()):
        self.expected = expected  # errors that are the shopper's to see (the service's typed errors), not bugs
        self._lock = threading.Lock()
        self._jobs: dict[str, list[Job]] = {}

    def submit(self, session_id: str, text: str, work: Callable[[], None], key: str = "") -> Job | None:
        """Queue `work` for the session; None (nothing queued) when a job with the same key is still pending."""
        with self._lock:
            queued = self._jobs.setdefault(session_id, [])
            if key and any(j.key == key for j in queued):
                return None
            earlier = list(queued)
            job = Job(text, key)
            queued.append(job)
        threading.Thread(target=self._run, args=(session_id, job, earlier, work), daemon=True,
                         name=f"turn-{session_id[:8]}").start()
        return job

    def _run(self, session_id: str, job: Job, earlier: list[Job], work: Callable[[], None]) -> None:
        for prior in earlier:
            prior.done.wait()
        try:
            work()
        except Exception as e:  # shown to the shopper as a warning; the traceback goes to the log too
            job.error = str(e) or type(e).__name__
            if not isinstance(e, self.expected):
                raise
        finally:
            with self._lock:
                queued = self._jobs.get(session_id, [])
                if job in queued:
                    queued.remove(job)
                if not queued:
                    self._jobs.pop(session_id, None)
            job.done.set()

    def pending(self, session_id: str) -> list[Job]:
        """The session's turns not yet answered, oldest first."""
        with self._lock:
            return list(self._jobs.get(session_id, []))

    def wait(self, session_id: str, timeout: float) -> list[str]:
        """Wait until the session has no pending turn, those queued meanwhile included (or timeout); returns
        the errors of the turns waited for."""
        deadline = time.monotonic() + timeout
        errors = []
        while (jobs := self.pending(session_id)) and time.monotonic() < deadline:
            if jobs[0].done.wait(max(0.0, deadline - time.monotonic())) and jobs[0].error:
                errors.append(jobs[0].error)
        return errors

