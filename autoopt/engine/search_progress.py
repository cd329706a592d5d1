"""What a search tells whoever watches it: the interface, and the library default that reports nothing.

The search calls these methods as it goes; the commands give it a terminal implementation
(``autoopt.cli.progress.RichProgress``), a library user may give it their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna

    from autoopt.engine.calibrate import RangeTest
    from autoopt.outcome import TrialOutcome
    from autoopt.engine.search_result import SearchResult
    from autoopt.trial_config import TrialConfig
    from autoopt.engine.spec import StudySpec


class SilentProgress:
    """The library default: report nothing. Subclass it and override what you want to see."""

    def begin(self, spec: StudySpec, epochs: int, done: int, reclaimed: int) -> None: ...
    def phase(self, name: str, total: int) -> None: ...
    def note(self, message: str) -> None: ...
    def calibrated(self, test: RangeTest) -> None: ...
    def trial_started(self, number: int, config: TrialConfig, role: str) -> None: ...
    def trial_epoch(self, number: int, epoch: int, epochs: int, value: float) -> None: ...
    def trial_finished(self, number: int, outcome: TrialOutcome, study: optuna.Study) -> None: ...
    def end(self, result: SearchResult) -> None: ...


Progress = SilentProgress
