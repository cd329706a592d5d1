"""Where the regret is: finding good candidates, or ranking them. Run by hand.

For every task and search seed: run autoopt's default search, then re-train every configuration
it confirmed (trained on 2 seeds or more) with the reference trainer on the target's 10 seeds,
as regret.py re-trains a pick. Then pick among each search's candidates by several rules, from
the search's own values only, and report each rule's regret against the target:

  autoopt          what the search recommended (the rule in autoopt.engine.evidence)
  best candidate   the candidate whose re-trained mean is best: what a perfect ranking would give
  all seeds        the guarded mean over every seed, the search value included (autoopt before 904187d)
  plain mean       the mean over every seed, unguarded
  median           the median of its seeds
  paired           SMAC's comparison: the leader (most seeds, best guarded mean) gives way only to a
                   configuration better on the seeds both have, by more than one standard error

The gap between autoopt and the best candidate is what ranking loses; the best candidate's
own regret is what the search's candidates allow. Rules are judged on the same candidates, so
the comparison is paired (no rule changes which configurations were confirmed).

Run: python benchmarks/ranking.py [--tasks a,b] [--seeds 6] [--first-seed 0] --out /tmp/ranking.json
     python benchmarks/ranking.py --merge /tmp/a.json,/tmp/b.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grid  # noqa: E402
import regret  # noqa: E402

Candidate = dict[str, Any]  # values (lower is better), curves, regret, is_pick


def candidates(task: regret.Task, seed: int) -> list[Candidate]:
    """The configurations one default search confirmed, each with its re-trained regret."""
    from autoopt.engine.evidence import gather, trial_curve
    from autoopt.storage import record

    sign = -1 if task.maximize else 1
    with tempfile.TemporaryDirectory() as folder:
        pick, _, _ = regret.autoopt_search(task, {}, seed, folder)
        storage = f"sqlite:///{folder}/s.db"
        (summary,) = optuna.get_all_study_summaries(storage)
        trials = optuna.load_study(study_name=summary.study_name, storage=storage).get_trials(deepcopy=False)
    out = []
    for e in (e for e in gather(trials) if e.n_seeds > 1):
        attrs = e.trial.user_attrs
        config = {"optimizer": attrs[record.OPTIMIZER], "kwargs": dict(attrs[record.OPTIMIZER_KWARGS]),
                  "batch_size": attrs[record.BATCH_SIZE],
                  "lookahead": dict(attrs[record.LOOKAHEAD]) if attrs.get(record.LOOKAHEAD) else False}  # fmt: skip
        truth = task.values(config)
        out.append({"config": config, "values": [sign * v for v in e.values],
                    "curves": [[sign * v for v in trial_curve(run)] for run in e.runs],
                    "regret": task.regret(grid.score(truth, task.maximize)), "is_pick": config == pick})  # fmt: skip
    return out


def _guarded(c: Candidate, noise: float, values: list[float]) -> float:
    from autoopt.engine.phases import back_and_forth

    jitters = [j for j in (back_and_forth(curve) for curve in c["curves"] if curve) if j is not None]
    spread = max(noise, statistics.median(jitters) if jitters else 0.0)
    return statistics.fmean(values) + spread / math.sqrt(len(values))


def _paired(cands: list[Candidate], noise: float) -> Candidate:
    most = max(len(c["values"]) for c in cands)
    leader = min((c for c in cands if len(c["values"]) == most), key=lambda c: _guarded(c, noise, c["values"]))
    for c in sorted(cands, key=lambda c: _guarded(c, noise, c["values"])):
        n = min(len(c["values"]), len(leader["values"]))
        if c is not leader and statistics.fmean(c["values"][:n]) - statistics.fmean(leader["values"][:n]) < -noise / math.sqrt(n):
            leader = c
    return leader


RULES: dict[str, Callable[[list[Candidate], float], Candidate]] = {
    "autoopt": lambda cs, noise: next(c for c in cs if c["is_pick"]),
    "best candidate": lambda cs, noise: min(cs, key=lambda c: c["regret"]),
    "all seeds": lambda cs, noise: min(cs, key=lambda c: _guarded(c, noise, c["values"])),
    "plain mean": lambda cs, noise: min(cs, key=lambda c: statistics.fmean(c["values"])),
    "median": lambda cs, noise: min(cs, key=lambda c: statistics.median(c["values"])),
    "paired": _paired,
}


def table(results: dict[str, list[list[Candidate]]]) -> str:
    from autoopt.engine.phases import seed_noise

    lines = [f"  {'task':16s}" + "".join(f"{rule:>18s}" for rule in RULES)]
    every: dict[str, list[float]] = {rule: [] for rule in RULES}
    unconfirmed = 0
    for task, searches in results.items():
        regrets: dict[str, list[float]] = {rule: [] for rule in RULES}
        for cands in searches:
            if not any(c["is_pick"] for c in cands):  # a pick on one seed: no rule here would have chosen it
                unconfirmed += 1
                continue
            noise = seed_noise([c["values"] for c in cands], False) or 0.0
            for rule, choose in RULES.items():
                regrets[rule].append(choose(cands, noise)["regret"])
        if not regrets["autoopt"]:
            continue
        cells = "".join(f"{statistics.median(r):>8.2f}% ({max(r):5.1f})" for r in regrets.values())
        lines.append(f"  {task:16s}{cells}")
        for rule in RULES:
            every[rule] += regrets[rule]
    lines.append("over every search: median / mean / worst regret, and how many are more than 10% off"
                 + (f" ({unconfirmed} left out: their pick was not confirmed on fresh seeds):" if unconfirmed else ":"))
    for rule, r in every.items():
        lines.append(f"  {rule:16s} {len(r)} searches: {statistics.median(r):.2f}% / {statistics.fmean(r):.2f}% / "
                     f"{max(r):.1f}%, {sum(x > 10 for x in r)} > 10%")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(p.stem for p in sorted(grid.OUT.glob("*.json"))))
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--merge", help="comma-separated result files: print them as one table and stop")
    args = parser.parse_args(argv)
    if args.merge:
        results: dict[str, list[list[Candidate]]] = {}
        for f in args.merge.split(","):
            for task, searches in json.loads(Path(f).read_text()).items():
                results.setdefault(task, []).extend(searches)
        print(table(results))
        return
    results = {}
    for name in args.tasks.split(","):
        task = regret.Task(name)
        results[name] = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            results[name].append(candidates(task, seed))
            best = min((c["regret"] for c in results[name][-1]), default=math.nan)
            pick = next((c["regret"] for c in results[name][-1] if c["is_pick"]), math.nan)
            print(f"  {name} seed {seed}: pick {pick:.2f}%, best candidate {best:.2f}%", flush=True)
            if args.out:
                args.out.write_text(json.dumps(results))
    print(table(results))


if __name__ == "__main__":
    main()
