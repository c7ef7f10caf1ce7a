"""A searcher's asks and tells, run in order on a thread of their own.

A model searcher may take a second to fit and propose; the driver must go on harvesting finished
trials meanwhile, or workers idle while results wait. The driver therefore *requests* a config and
*takes* it when it is ready. Requests and tells are carried out strictly in the order the driver made
them, so a searcher's suggestions depend on that order only, never on the thread's timing. Searchers
that are not adaptive answer at once and run inline.

With ``searcher.batch`` = q, the order of tells no longer depends on the trials either: results are
held until every config of their batch (ids bq to bq + q - 1) has ended, then told in id order, and
a config of batch b is asked only once the batches before it are told. Each config then depends only
on the seed and on the results of earlier batches, whatever the number of workers and the order in
which trials end; the price is idle workers while a batch's last trials run.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Any

from .base import Searcher, Suggestion

CLOSE_SECONDS = 5.0


class Background:
    """Wraps a searcher; call ``start`` once the journal has been replayed into it."""

    def __init__(self, searcher: Searcher, threaded: bool = True):
        self.searcher = searcher
        #: adaptive searchers think in a thread of their own, unless ``threaded`` is False (a simulation,
        #: whose virtual time must not depend on how long the searcher thinks)
        self.threaded = searcher.adaptive and threaded
        self._events: queue.Queue = queue.Queue()
        self._answers: dict[int, Any] = {}
        self._requested: set[int] = set()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._failure: Exception | None = None
        self.batch = searcher.batch
        #: results held until their batch is complete, by config id (one per budget it reached)
        self._held: dict[int, list[tuple[Suggestion, float | None, float | None]]] = {}
        #: every config below this id has been told
        self._told = 0
        #: requests (config id, budget, sub-space) waiting for the batches before their own to be told
        self._deferred: list[tuple[int, float | None, str | None]] = []

    def start(self) -> None:
        if self.threaded and self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="hpo-compss-searcher", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread after the request it is working on (its answer is no longer wanted).

        A model that takes long to fit is not waited for beyond ``CLOSE_SECONDS``: the thread is a
        daemon, and nothing it does afterwards reaches the study.
        """
        if self._thread is not None:
            self._events.put(None)
            self._thread.join(CLOSE_SECONDS)
            self._thread = None

    def restore(self, config_id: int, suggestion: Suggestion) -> bool:
        return self.searcher.restore(config_id, suggestion)

    def tell(self, config_id: int, suggestion: Suggestion, value: float | None, budget: float | None = None) -> None:
        """Pass on a result; in batches, hold it until every config of its batch has one (a config's
        results at later budgets, once its batch is told, pass at once)."""
        if not self.batch or config_id < self._told:
            self._tell(config_id, suggestion, value, budget)
            return
        self._held.setdefault(config_id, []).append((suggestion, value, budget))
        batch = range(self._told, self._told + self.batch)
        while all(i in self._held for i in batch):
            for i in batch:
                for result in self._held.pop(i):
                    self._tell(i, *result)
            self._told = batch.stop
            batch = range(self._told, self._told + self.batch)
        ready = [request for request in self._deferred if self._may_ask(request[0])]
        self._deferred = [request for request in self._deferred if request not in ready]
        for request in ready:
            self._ask(*request)

    def _tell(self, config_id: int, suggestion: Suggestion, value: float | None, budget: float | None) -> None:
        if self._thread is None:
            self.searcher.tell(config_id, suggestion, value, budget)
        else:
            self._events.put(("tell", config_id, suggestion, value, budget))

    def _may_ask(self, config_id: int) -> bool:
        return not self.batch or config_id - config_id % self.batch <= self._told

    def request(self, config_id: int, budget: float | None = None, subspace: str | None = None) -> None:
        """Start working on ``config_id``, to run up to ``budget`` first, drawn from ``subspace`` when given
        (once); ``take`` collects it."""
        if config_id in self._requested:
            return
        self._requested.add(config_id)
        if self._may_ask(config_id):
            self._ask(config_id, budget, subspace)
        else:
            self._deferred.append((config_id, budget, subspace))

    def _ask(self, config_id: int, budget: float | None, subspace: str | None) -> None:
        if self._thread is None:
            self._answers[config_id] = self._answer(config_id, budget, subspace)
        else:
            self._events.put(("ask", config_id, budget, subspace))

    def take(self, config_id: int, wait: float = 0.0) -> Suggestion | None:
        """The suggestion for a requested id, or None when it is not ready within ``wait`` seconds.

        An error the searcher raised for this id (say, a dependent value that cannot be computed) is
        raised here, in the driver's thread.
        """
        deadline = time.monotonic() + wait
        with self._ready:
            while config_id not in self._answers:
                if self._failure is not None:
                    raise self._failure
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._ready.wait(left)
            answer = self._answers.pop(config_id)
        self._requested.discard(config_id)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _answer(self, config_id: int, budget: float | None, subspace: str | None) -> Suggestion | Exception:
        try:
            return self.searcher.ask(config_id, budget, subspace)
        except Exception as error:  # handed to the driver, which decides what it means
            return error

    def _serve(self) -> None:
        while (event := self._events.get()) is not None:
            if event[0] == "tell":
                try:
                    self.searcher.tell(*event[1:])
                except Exception as error:  # the searcher is broken: every later take raises it
                    with self._ready:
                        self._failure = error
                        self._ready.notify_all()
                    return
                continue
            answer = self._answer(*event[1:])
            with self._ready:
                self._answers[event[1]] = answer
                self._ready.notify_all()
