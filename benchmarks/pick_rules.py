"""Two recommendation rules on the same searches: autoopt's, and the one before 2632036.

For every task with a grid and search seeds 0..S-1: run autoopt's default search once, take
the recommendation under autoopt's rule (``autoopt.engine.evidence.best_mean``: the best guarded
mean of the re-runs among the configurations on the most seeds, one on fewer seeds only when it
beats them beyond a tie) and under the previous rule (the best guarded mean among every
configuration re-trained at least once), re-train both picks with the reference trainer on the
grid's 10 seeds (``benchmarks/reference.py``, cached per configuration) and print both regrets
side by side, paired: the searches are the same, only the ranking differs.

Run: python benchmarks/pick_rules.py [--tasks a,b] [--seeds 12] [--threads 1] [--out /tmp/pick_rules.json]
(``regret.py`` trains single-threaded; the README's figures for 2632036 were taken with --threads 2.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import optuna
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grid  # noqa: E402
import regret  # noqa: E402

import autoopt  # noqa: E402
from autoopt.engine import evidence, recommend  # noqa: E402


def previous_rule(configs: Any, maximize: bool, noise: float | None = None) -> evidence.Evidence:
    """The rule before 2632036: the best guarded mean among every configuration re-trained at least once."""
    repeated = [e for e in configs if e.n_seeds > 1]
    if noise is None and repeated:
        noise = evidence.pooled_std(configs, maximize)
    return min(repeated or configs, key=lambda e: evidence._guarded_mean(e, maximize, noise))


def _config(rec: Any) -> dict[str, Any]:
    return {"optimizer": rec.optimizer, "kwargs": dict(rec.optimizer_kwargs), "batch_size": rec.batch_size,
            "lookahead": dict(rec.lookahead) if rec.lookahead else False}  # fmt: skip


def picks(task: regret.Task, seed: int) -> dict[str, dict[str, Any]]:
    """One default search; its pick under each rule."""
    current = recommend.best_mean
    with tempfile.TemporaryDirectory() as folder:
        storage = f"sqlite:///{folder}/s.db"
        spec = autoopt.build_spec(task.path, overrides={"storage": storage, "seed": seed},
                                  space_table={"batch_size": list(task.batch_sizes)})  # fmt: skip
        autoopt.search(spec)
        out = {"autoopt": _config(autoopt.recommend(spec.study_name, storage))}
        try:
            recommend.best_mean = previous_rule
            out["previous"] = _config(autoopt.recommend(spec.study_name, storage))
        finally:
            recommend.best_mean = current
    return out


def main(argv: list[str] | None = None) -> None:
    available = sorted(p.stem for p in grid.OUT.glob("*.json"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(available))
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (regret.py uses 1)")
    parser.add_argument("--out", default="/tmp/pick_rules.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows: dict[str, list[dict[str, float]]] = {}
    for name in args.tasks.split(","):
        task = regret.Task(name)
        rows[name] = []
        for seed in range(args.seeds):
            regrets = {rule: task.regret(grid.score(task.values(pick), task.maximize)) for rule, pick in picks(task, seed).items()}
            rows[name].append(regrets)
            print(f"  {name} seed {seed}: autoopt {regrets['autoopt']:.2f}%, previous rule {regrets['previous']:.2f}%", flush=True)
    for rule in ("autoopt", "previous"):
        values = [r[rule] for task_rows in rows.values() for r in task_rows]
        print(f"{rule:10s} {len(values)} searches: median {statistics.median(values):.2f}%, mean {statistics.fmean(values):.2f}%, "
              f"worst {max(values):.2f}%, {sum(v > 10 for v in values)} > 10%")  # fmt: skip
    Path(args.out).write_text(json.dumps(rows, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
