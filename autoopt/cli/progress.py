"""Live progress of a search on the terminal: trials done, best so far, the running trials' epochs.

On a terminal a rich live panel; elsewhere (CI logs, pipes) one line per finished trial. The
interface the search reports to is ``autoopt.engine.search_progress``; this is the commands' view of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import optuna
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from autoopt.outcome import Cause, TrialOutcome
from autoopt.engine.search_progress import SilentProgress
from autoopt.trial_config import TrialConfig

if TYPE_CHECKING:
    from autoopt.engine.calibrate import RangeTest
    from autoopt.engine.search_result import SearchResult
    from autoopt.engine.spec import StudySpec


def describe(config: TrialConfig) -> str:
    """A short label: ``adamw lr=3.1e-03 bs=64 +lookahead(k=5)``."""
    text = f"{config.optimizer} lr={config.optimizer_kwargs.get('lr', float('nan')):.2g} bs={config.batch_size}"
    if config.lookahead:
        text += f" +lookahead(k={config.lookahead['k']}, a={config.lookahead['alpha']:.2f})"
    return text


class RichProgress(SilentProgress):
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.live: Live | None = None
        self.running: dict[int, list[Any]] = {}
        self.total = self.finished = 0
        self.phase_name = "search"
        self.best = "no finished trial yet"

    def begin(self, spec: StudySpec, epochs: int, done: int, reclaimed: int) -> None:
        self.total, self.finished = spec.trials or 0, done
        where = f"ray {spec.address or 'local'}" if spec.backend == "ray" else f"jobs {spec.jobs}"
        cap = f" (at most {spec.trials} search trials)" if spec.trials else ""
        self.console.print(f"[bold]autoopt[/] study [cyan]{escape(spec.study_name)}[/] · budget {spec.budget} full "
                           f"trainings × {epochs} epochs{cap} · storage {escape(spec.storage)} · {where}",
                           highlight=False)  # fmt: skip
        if done:
            self.console.print(f"resuming: {done} trials already finished", highlight=False)
        if reclaimed:
            self.console.print(f"[yellow]{reclaimed} trial(s) left running by a killed search marked failed[/]")
        if self.console.is_terminal:
            self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=True)
            self.live.start()

    def phase(self, name: str, total: int) -> None:
        self.phase_name, self.total, self.finished = name, total, 0
        self.console.print(f"{name}" + (f": {total} trials" if total else ""), highlight=False)

    def note(self, message: str) -> None:
        self.console.print(message, highlight=False, markup=False)

    def calibrated(self, test: RangeTest) -> None:
        if test.suggested_lr is None:
            found = "no clear minimum, warm starts at the published defaults"
        else:
            found = (f"loss lowest near lr {test.suggested_lr * 10:.2g}, so warm starts at {test.factor:.3g}× "
                     "the published learning rates")  # fmt: skip
        self.console.print(f"learning-rate range test ({test.optimizer}, {len(test.lrs)} steps, "
                           f"{test.epochs:.2g} epoch{'' if test.epochs == 1 else 's'}): {found}", highlight=False)  # fmt: skip

    def _render(self) -> Group:
        table = Table(box=None, pad_edge=False, show_header=bool(self.running))
        for column in ("trial", "config", "epoch", "value"):
            table.add_column(column)
        for number, (label, epoch, value) in sorted(self.running.items()):
            table.add_row(str(number), label, str(epoch), "" if value is None else f"{value:.4g}")
        done = f"{self.finished}/{self.total}" if self.total else str(self.finished)
        head = Text(f"{self.phase_name}: {done} done · best {self.best}")
        return Group(head, table)

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render())

    def trial_started(self, number: int, config: TrialConfig, role: str) -> None:
        self.running[number] = [describe(config) + (" (confirm)" if role == "confirm" else ""), 0, None]
        self._refresh()

    def trial_epoch(self, number: int, epoch: int, epochs: int, value: float) -> None:
        if number in self.running:
            self.running[number][1:] = [f"{epoch}/{epochs}", value]
        self._refresh()

    def trial_finished(self, number: int, outcome: TrialOutcome, study: optuna.Study) -> None:
        state, value, reason = outcome.state, outcome.value, outcome.reason
        label = self.running.pop(number, ["?"])[0]
        self.finished += 1
        try:
            best = study.best_trial
        except ValueError:
            best = None  # nothing complete yet
        if best is not None and best.user_attrs.get("optimizer"):
            attrs = best.user_attrs
            config = TrialConfig(attrs["optimizer"], attrs["optimizer_kwargs"], attrs.get("lookahead"), attrs["batch_size"])
            self.best = f"{best.value:.4g} · trial {best.number} · {describe(config)}"
        shown = "" if value is None else f" {value:.4g}"
        line = f"trial {number} {state}{shown} · {label}"
        diverged = outcome.cause is Cause.DIVERGED
        if state == "fail" or diverged:
            line += f" · {reason}"
        if state != "pruned" or diverged or self.live is None:  # on a terminal, pruned trials only show in the panel
            style = "yellow" if diverged else {"complete": "green", "pruned": "dim", "fail": "red"}[state]
            self.console.print(Text(line, style=style))
        self._refresh()

    def end(self, result: SearchResult) -> None:
        if self.live is not None:
            self.live.stop()
        self.console.print(
            f"done: {result.complete} complete, {result.pruned} pruned"
            + (f" ({result.diverged} of them diverged)" if result.diverged else "")
            + f", {result.failed} failed, "
            f"{result.epochs_trained:.4g} epochs trained" + (" · stopped by --timeout" if result.timed_out else "")
        )
