"""Background work started from the admin (a campaign send, an import): each runs in a
thread of the serving process and reports its progress, which the pages poll. One job per
key at a time (a second start while one runs is refused). Jobs are only a view: what they
do is recorded by the services they call (sends in `sends`, the ledger), so a restart loses
no work, only the live bar (`campaign send` resumes a send)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from clearpixel.domain.errors import ClearpixelError

log = logging.getLogger("clearpixel.web")


@dataclass
class Job:
    """One background run: `done` of `total` steps, then `result` or `error`."""

    key: str
    done: int = 0
    total: int | None = None
    finished: bool = False
    error: str | None = None
    refusal: ClearpixelError | None = None  # the service's refusal behind `error`
    result: Any = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    def step(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def as_dict(self, said: Callable[[ClearpixelError], str] | None = None) -> dict[str, Any]:
        """The job's state for a page; `said` puts a service's refusal in the reader's
        language (web/admin_base.said)."""
        error = said(self.refusal) if said and self.refusal else self.error
        return {
            "done": self.done,
            "total": self.total,
            "finished": self.finished,
            "error": error,
        }


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, key: str, work: Callable[[Job], Any]) -> Job:
        """Run `work(job)` in a thread; raises ClearpixelError when `key` is running."""
        with self._lock:
            running = self._jobs.get(key)
            if running is not None and not running.finished:
                raise ClearpixelError("this is already running; wait for it to finish")
            job = Job(key)
            self._jobs[key] = job

        def run() -> None:
            try:
                job.result = work(job)
            except ClearpixelError as exc:
                job.error, job.refusal = str(exc), exc
            except Exception as exc:  # the page shows it; the log keeps the trace
                log.exception("background job %s failed", key)
                job.error = f"{type(exc).__name__}: {exc}"
            finally:
                job.finished = True

        job._thread = threading.Thread(target=run, name=f"admin-job-{key}", daemon=True)
        job._thread.start()
        return job

    def get(self, key: str) -> Job | None:
        return self._jobs.get(key)


_create_lock = threading.Lock()


def jobs_of(request: Request) -> Jobs:
    """The app's job registry (one per served app)."""
    state = request.app.state
    with _create_lock:
        if not hasattr(state, "admin_jobs"):
            state.admin_jobs = Jobs()
    jobs: Jobs = state.admin_jobs
    return jobs
