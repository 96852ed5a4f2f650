"""A run's steps written to its folder by a writer thread, while the model computes the next step.

Writing a step (JSON encoding, the append, two fsyncs: runner/results.py) takes a few milliseconds, a few
percent of a fast GPU step, and the main thread would otherwise spend them with the GPU idle. Here the main
thread hands the step's records over and goes on; the writer thread commits them exactly as
`RunFolder.append` always does.

What a crash can lose is unchanged in kind: only a step that is not yet committed, and a resumed run computes
it again with the same neighbours. At most one step is ever in the writer's hands: `append` first waits for
the previous step to be committed, which by then it long is (a step's write takes milliseconds, computing the
next step far longer). On any exit from the `with` block, an exception included (Ctrl-C), the step in hand is
committed before the block is left, so every finished step is on disk. A write that fails (a full disk) raises
its error in the main thread at the next `append` or at the end of the block, with its own message.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

from kosmos_eval.runner.results import RunFolder

log = logging.getLogger(__name__)


class BackgroundAppender:
    """`append(records)` commits a step to `folder` from a writer thread; use as a context manager."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kosmos-eval-writer")
        self._in_hand: Future[None] | None = None

    def append(self, records: list[dict[str, Any]]) -> None:
        """Wait until the previous step is committed (raising its error, if it failed), then hand this one over.
        The records must not change afterwards (the runner only reads them)."""
        self.wait()
        self._in_hand = self._executor.submit(self.folder.append, records)

    def wait(self) -> None:
        """Return once every step handed over is committed; raise the error of a write that failed."""
        in_hand, self._in_hand = self._in_hand, None
        if in_hand is not None:
            in_hand.result()

    def __enter__(self) -> BackgroundAppender:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self.wait()
            else:
                try:
                    self.wait()  # the finished step is saved even though the run stops
                except Exception:
                    log.exception("could not save the last finished step while stopping")  # the first error wins
        finally:
            self._executor.shutdown(wait=True)
