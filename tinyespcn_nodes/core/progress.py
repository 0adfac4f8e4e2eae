"""Progress of one run: steps announced, re-planned and done, so `done <= total` holds through every re-plan.

The job announces its plan once (`expect`); whoever changes the plan says so (`replan(old, new)`: an
out-of-memory tile split in k parts is `replan(1, k)`, a smaller tile for what is left is the difference in
steps); every finished step is `advance`. Hosts draw `(done, total)` as given, so none needs to clamp.
`check()` raises `UpscaleCancelled` when the host's `stop()` says so (a host may also raise its own
exception from `stop`, as ComfyUI does).
"""

from __future__ import annotations

from collections.abc import Callable

ReportFn = Callable[[int, int], None]
StopFn = Callable[[], bool]


class UpscaleCancelled(Exception):
    """Raised when the host's stop function returns True; the output is incomplete and must be discarded."""


class Progress:
    def __init__(self, report: ReportFn | None = None, stop: StopFn | None = None) -> None:
        self.done = self.total = 0
        self.report, self.stop = report, stop

    def expect(self, n: int) -> None:
        """Announce `n` more steps (a job's plan, once)."""
        self.total += n

    def replan(self, old: int, new: int) -> None:
        """Steps planned as `old` are now `new` (a split tile, a smaller tile for the rest)."""
        self.total += new - old
        self._check_plan()

    def advance(self) -> None:
        """One step done; the host's report gets (done, total) after every step."""
        self.done += 1
        self._check_plan()
        if self.report is not None:
            self.report(self.done, self.total)

    def check(self) -> None:
        if self.stop is not None and self.stop():
            raise UpscaleCancelled("upscale cancelled")

    def _check_plan(self) -> None:
        if self.done > self.total:
            raise AssertionError(f"progress {self.done} of {self.total}: a plan change was not announced")
