"""Search quality against the truth: each method's pick, re-trained, against the brute-force grid.

For every task with a grid (benchmarks/grid/<task>.json, made by benchmarks/grid.py), every
method and search seeds 0..S-1: run the method's search, take its pick, re-train the pick with
the reference trainer (benchmarks/reference.py) on the grid's 10 fresh seeds (1000..1009), and
report regret = (pick mean - target) / |target| in percent (sign flipped when maximizing),
where the target is the best 10-seed mean of the grid's finalists. Also reported: what the search
spent, in full trainings (epochs / E), and its wall time (the search only, not the re-training).

Methods:
  optuna-tpe          Optuna's default TPESampler(seed=s), 100 full trials, trial seed = trial number,
                      no pruner; space: family (the grid's 11) x log lr over the family's range x
                      the batch sizes (--sizes) x Lookahead; diverged trials told as FAIL; pick = best trial
  random              the same with RandomSampler(seed=s)
  autoopt             autoopt's defaults, through its Python API, in this process
  autoopt-no-prune    {"pruner": "none"}
  autoopt-asha        {"pruner": "asha"}
  autoopt-no-race     {"race": False}
  autoopt-no-confirm  {"confirm_top": 0}
  autoopt-no-calibrate {"calibrate": False}
  autoopt-no-overfit  the default with the overfitting rule switched off (a run whose curve bottoms
                      early is raced by its final value and searched in plain half-decade steps);
                      not a setting users have, so this method patches autoopt.engine.phases in-process
  autoopt-unfused     {"fuse": 1}: every trial alone (the default fuses where it measures that it pays)
A method whose settings autoopt's build_spec rejects is reported unavailable and skipped.

Every method searches the same batch sizes: autoopt's defaults, 16-256, as a user's search does
(--sizes default), or the grid's (--sizes grid).

Run: python benchmarks/regret.py [--tasks a,b] [--methods optuna-tpe,autoopt] [--seeds 12] [--first-seed 0] [--sizes default]
     [--out /tmp/regret.json]
Runs split over processes (by task) are printed as one table by
     python benchmarks/regret.py --merge /tmp/a.json,/tmp/b.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import optuna
import torch
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grid  # noqa: E402
import reference  # noqa: E402

TRIALS = 100
AUTOOPT_METHODS: dict[str, dict[str, Any]] = {
    "autoopt": {},
    "autoopt-no-prune": {"pruner": "none"},
    "autoopt-asha": {"pruner": "asha"},
    "autoopt-no-race": {"race": False},
    "autoopt-no-confirm": {"confirm_top": 0},
    "autoopt-no-calibrate": {"calibrate": False},
    "autoopt-no-overfit": {},
    "autoopt-unfused": {"fuse": 1},
}
# Batch sizes every method searches. "default": autoopt's defaults, as a user's search runs;
# a pick at 64 or 256 may use a size the grid lacks (it is re-trained all the same). "grid":
# the grid's three sizes, which favours every method (most targets sit at the smallest).
SIZES = ("default", "grid")
DEFAULT_BATCH_SIZES = [16, 32, 64, 128, 256]  # autoopt.engine.space.SearchSpace's default
# Ablations of rules that are not settings: method -> {attribute of autoopt.engine.phases: replacement}.
PATCHED_PHASES: dict[str, dict[str, Any]] = {
    "autoopt-no-overfit": {"overfit_factor": lambda curve, maximize, tolerance: None,
                           "prospect": lambda run, maximize, tolerance: run.value},
}
METHODS = ("optuna-tpe", "random", *AUTOOPT_METHODS)
BASELINE = "optuna-tpe"
# Goals for autoopt (with its defaults).
MAX_REGRET, MEDIAN_REGRET, MAX_TRAININGS = 3.0, 1.0, 33
UNFUSED, FUSION_SPEEDUP = "autoopt-unfused", 2.0  # issue 15: the default search with fusion against without

optuna.logging.set_verbosity(optuna.logging.WARNING)


class Unavailable(Exception):
    """The method cannot run with this version of autoopt."""


class Task:
    """A suite task, its grid and a cache of re-trained picks."""

    def __init__(self, name: str, sizes: str = "default") -> None:
        self.name = name
        self.grid = json.loads((grid.OUT / f"{name}.json").read_text())
        self.batch_sizes: list[int] = list(self.grid["batch_sizes"] if sizes == "grid" else DEFAULT_BATCH_SIZES)
        self.path = grid.SUITE / f"{name}.py"
        self.module = reference.load_task(self.path)
        self.epochs: int = self.grid["epochs"]
        self.maximize = self.grid["direction"] == "maximize"
        self.target: float = self.grid["target"]
        self.seeds: list[int] = self.grid["retrain_seeds"]
        # The grid's finalists were trained on these very seeds: the same numbers, for free.
        self.retrained: dict[str, list[float | None]] = {grid.config_key(f["config"]): f["values"] for f in self.grid["top"]}

    def train(self, config: dict[str, Any], seed: int) -> tuple[float, int]:
        """The value of one training, and the epochs it ran (the diverging one included)."""
        value, curve = reference.train(self.module, config, seed, self.epochs)
        return value, len(curve) + (not math.isfinite(value))

    def values(self, config: dict[str, Any]) -> list[float | None]:
        """``config`` re-trained on the target's 10 seeds (None: diverged)."""
        key = grid.config_key(config)
        if key not in self.retrained:
            self.retrained[key] = [grid.sig(self.train(config, seed)[0]) for seed in self.seeds]
        return self.retrained[key]

    def regret(self, mean: float) -> float:
        """In percent of |target|; positive when worse than the target."""
        gap = (self.target - mean) if self.maximize else (mean - self.target)
        return 100.0 * gap / abs(self.target)

    def resolution(self) -> dict[str, float]:
        """What this task's regret can resolve, from the grid file alone (no training):

        - ``target_se``: the standard error of the target's own 10-seed mean, in percent of it;
        - ``grid_pick``: the regret of the brute-force grid's own pick (the configuration with the
          best mean over the grid's seeds, re-trained on the same 10 seeds), spending
          ``grid_trainings``: where a search 25 times larger than ours lands. On tasks with large
          seed noise it is well above 0, so a search's regret there is bounded by noise, not method.
        """
        values = [v for v in next(f for f in self.grid["top"] if f["config"] == self.grid["target_config"])["values"]
                  if v is not None]  # fmt: skip
        target_se = 100.0 * statistics.stdev(values) / math.sqrt(len(values)) / abs(self.target)
        by_grid = min(self.grid["top"], key=lambda f: -f["grid_mean"] if self.maximize else f["grid_mean"])
        trainings = sum(len(p["values"]) for p in self.grid["points"])
        return {"target_se": target_se, "grid_pick": self.regret(by_grid["mean"]), "grid_trainings": float(trainings)}


# --- Optuna on the raw space ---------------------------------------------------------------


def optuna_search(task: Task, sampler: optuna.samplers.BaseSampler) -> tuple[dict[str, Any], float]:
    """TRIALS full trials on the raw space; the best trial's config and the epochs spent."""
    study = optuna.create_study(direction="maximize" if task.maximize else "minimize", sampler=sampler)
    epochs = 0
    for _ in range(TRIALS):
        trial = study.ask()
        family = trial.suggest_categorical("family", list(grid.FAMILIES))
        lrs = grid.FAMILIES[family][2]
        lr = trial.suggest_float(f"lr_{family}", lrs[0], lrs[-1], log=True)
        batch_size = trial.suggest_categorical("batch_size", task.batch_sizes)
        lookahead = trial.suggest_categorical("lookahead", [False, True])
        value, ran = task.train(grid.config(family, lr, batch_size, lookahead), seed=trial.number)
        epochs += ran
        if math.isfinite(value):
            study.tell(trial, value)
        else:
            study.tell(trial, state=TrialState.FAIL)  # what Optuna does with a NaN objective
    best = study.best_trial.params
    family = best["family"]
    return grid.config(family, best[f"lr_{family}"], best["batch_size"], best["lookahead"]), epochs


# --- autoopt ----------------------------------------------------------------------------------


def autoopt_search(task: Task, overrides: dict[str, Any], seed: int, folder: str) -> tuple[dict[str, Any], float, float]:
    """autoopt's search with ``overrides`` over the task's batch sizes: its pick as a reference
    config, the epochs spent, and the wall time."""
    import autoopt  # here, so the Optuna methods run without it

    storage = f"sqlite:///{folder}/s.db"
    space = {"batch_size": list(task.batch_sizes)}
    try:
        spec = autoopt.build_spec(task.path, overrides={"storage": storage, "seed": seed, **overrides},
                                  space_table=space)  # fmt: skip
    except autoopt.UserError as exc:  # a setting this version of autoopt does not have
        raise Unavailable(f"build_spec rejects {overrides}: {exc}") from None
    start = time.perf_counter()
    autoopt.search(spec)
    wall = time.perf_counter() - start
    rec = autoopt.recommend(spec.study_name, spec.storage)
    study = optuna.load_study(study_name=spec.study_name, storage=spec.storage)
    epochs = sum(t.user_attrs.get("epochs_run", 0) or 0 for t in study.trials)
    epochs += float((study.user_attrs.get("lr_range_test") or {}).get("epochs", 0.0))
    config = {"optimizer": rec.optimizer, "kwargs": dict(rec.optimizer_kwargs), "batch_size": rec.batch_size,
              "lookahead": dict(rec.lookahead) if rec.lookahead else False}  # fmt: skip
    return config, epochs, wall


# --- the harness ------------------------------------------------------------------------------


@contextlib.contextmanager
def _patched_phases(method: str) -> Iterator[None]:
    """The ablation's replacements in autoopt.engine.phases for the duration of one search."""
    from autoopt.engine import phases

    saved = {name: getattr(phases, name) for name in PATCHED_PHASES.get(method, {})}
    try:
        for name, replacement in PATCHED_PHASES.get(method, {}).items():
            setattr(phases, name, replacement)
        yield
    finally:
        for name, original in saved.items():
            setattr(phases, name, original)


def run_one(task: Task, method: str, seed: int) -> dict[str, Any]:
    if method in AUTOOPT_METHODS:
        with tempfile.TemporaryDirectory() as folder, _patched_phases(method):
            pick, epochs, wall = autoopt_search(task, AUTOOPT_METHODS[method], seed, folder)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed) if method == "optuna-tpe" else optuna.samplers.RandomSampler(seed=seed)
        start = time.perf_counter()
        pick, epochs = optuna_search(task, sampler)
        wall = time.perf_counter() - start
    values = task.values(pick)
    mean = grid.score(values, task.maximize)
    return {"seed": seed, "pick": pick, "values": values, "mean": grid.sig(mean), "regret": task.regret(mean),
            "epochs": epochs, "trainings": epochs / task.epochs, "wall_s": wall}  # fmt: skip


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    regrets = [r["regret"] for r in runs]
    return {"median_regret": statistics.median(regrets), "max_regret": max(regrets),
            "mean_trainings": statistics.fmean(r["trainings"] for r in runs),
            "max_trainings": max(r["trainings"] for r in runs),
            "mean_wall_s": statistics.fmean(r["wall_s"] for r in runs)}  # fmt: skip


def _pct(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.2f}%"


def table(task: Task, results: dict[str, dict[str, Any]]) -> str:
    cfg = task.grid["target_config"]
    res = task.resolution()
    lines = [f"\n{task.name}: target {task.target:.5g} ({task.grid['target_family']} lr={cfg['lr']:g} "
             f"bs={cfg['batch_size']} lookahead={cfg['lookahead']}), E={task.epochs}; its standard error "
             f"{res['target_se']:.1f}%; the brute-force grid's own pick ({res['grid_trainings']:.0f} trainings): "
             f"regret {_pct(res['grid_pick'])}",
             f"  {'method':20s} {'median':>9s} {'max':>9s} {'trainings':>9s} {'wall s':>8s} {'wall/tpe':>8s}"]  # fmt: skip
    base = results.get(BASELINE, {}).get("summary")
    for method, result in results.items():
        if "unavailable" in result:
            lines.append(f"  {method:20s} unavailable: {result['unavailable']}")
            continue
        s = result["summary"]
        ratio = f"{s['mean_wall_s'] / base['mean_wall_s']:.2f}" if base else "-"
        lines.append(f"  {method:20s} {_pct(s['median_regret']):>9s} {_pct(s['max_regret']):>9s} "
                     f"{s['mean_trainings']:9.1f} {s['mean_wall_s']:8.1f} {ratio:>8s}")  # fmt: skip
    return "\n".join(lines)


def goals(report: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """(goal, met or None when not measured, detail) for autoopt with its defaults."""
    tasks = report["tasks"]
    ours = {t: r["methods"]["autoopt"] for t, r in tasks.items() if "summary" in r["methods"].get("autoopt", {})}
    if not ours:
        return []
    all_regrets = [run["regret"] for r in ours.values() for run in r["runs"]]
    out = [
        (f"regret <= {MAX_REGRET:g}% on every task (every seed)", all(r["summary"]["max_regret"] <= MAX_REGRET for r in ours.values()),
         ", ".join(f"{t} {_pct(r['summary']['max_regret'])}" for t, r in ours.items())),
        (f"median regret <= {MEDIAN_REGRET:g}% (all tasks and seeds)", statistics.median(all_regrets) <= MEDIAN_REGRET,
         _pct(statistics.median(all_regrets))),
        (f"trainings <= {MAX_TRAININGS} x E (every seed)", all(r["summary"]["max_trainings"] <= MAX_TRAININGS for r in ours.values()),
         ", ".join(f"{t} {r['summary']['max_trainings']:.1f}" for t, r in ours.items())),
    ]  # fmt: skip
    base = {t: tasks[t]["methods"][BASELINE]["summary"] for t in ours if "summary" in tasks[t]["methods"].get(BASELINE, {})}
    if base:
        better = {t: ours[t]["summary"]["median_regret"] < base[t]["median_regret"]
                  or ours[t]["summary"]["median_regret"] <= 0 for t in base}  # fmt: skip
        out.append(("median regret below optuna-tpe's on every task (or at/below the target)", all(better.values()),
                    ", ".join(f"{t} {_pct(ours[t]['summary']['median_regret'])} vs {_pct(base[t]['median_regret'])}" for t in base)))  # fmt: skip
        faster = {t: ours[t]["summary"]["mean_wall_s"] <= base[t]["mean_wall_s"] for t in base}
        out.append(("wall time <= optuna-tpe's on every task", all(faster.values()),
                    ", ".join(f"{t} {ours[t]['summary']['mean_wall_s'] / base[t]['mean_wall_s']:.2f}x" for t in base)))  # fmt: skip
    fused = {t: (tasks[t]["methods"][UNFUSED]["summary"], ours[t]["summary"]) for t in ours
             if "summary" in tasks[t]["methods"].get(UNFUSED, {})}  # fmt: skip
    if fused:
        out.append((f"fused search >= {FUSION_SPEEDUP:g}x faster than {UNFUSED} on every task",
                    all(off["mean_wall_s"] >= FUSION_SPEEDUP * on["mean_wall_s"] for off, on in fused.values()),
                    ", ".join(f"{t} {off['mean_wall_s'] / on['mean_wall_s']:.2f}x (regret {_pct(on['median_regret'])} vs "
                              f"{_pct(off['median_regret'])})" for t, (off, on) in fused.items())))  # fmt: skip
    return out


def final_summary(report: dict[str, Any], methods: list[str]) -> str:
    tasks = report["tasks"]
    width = max(len(t) for t in tasks) if tasks else 10
    lines = ["\nmedian regret (max) per task; resolution: the target's standard error, and the regret of the "
             "brute-force grid's own pick:",
             f"  {'task':{width}s} " + " ".join(f"{m:>20s}" for m in methods) + f" {'target se':>10s} {'grid pick':>10s}"]
    for name, result in tasks.items():
        cells = []
        for m in methods:
            s = result["methods"].get(m, {}).get("summary")
            cells.append(f"{_pct(s['median_regret'])} ({_pct(s['max_regret'])})" if s else "unavailable")
        res = result.get("resolution") or Task(name).resolution()  # reports written before it was recorded
        lines.append(f"  {name:{width}s} " + " ".join(f"{c:>20s}" for c in cells)
                     + f" {_pct(res['target_se']):>10s} {_pct(res['grid_pick']):>10s}")
    lines.append("over every task and seed: median, mean and worst regret, and how many searches are more than 10% off:")
    for m in methods:
        regrets = [run["regret"] for result in tasks.values() for run in result["methods"].get(m, {}).get("runs", [])]
        if regrets:
            lines.append(f"  {m:20s} {len(regrets)} searches: median {_pct(statistics.median(regrets))}, mean "
                         f"{_pct(statistics.fmean(regrets))}, worst {_pct(max(regrets))}, {sum(r > 10 for r in regrets)} > 10%")  # fmt: skip
    checked = goals(report)
    if checked:
        lines.append("goals (autoopt, defaults):")
        for goal, met, detail in checked:
            lines.append(f"  [{'ok' if met else 'MISSED'}] {goal}: {detail}")
    report["goals"] = [{"goal": g, "met": m, "detail": d} for g, m, d in checked]
    return "\n".join(lines)


def merged(files: list[Path]) -> tuple[dict[str, Any], list[str]]:
    """Reports of runs split by task (each task's methods measured side by side in one run) as one report."""
    report: dict[str, Any] = {"tasks": {}}
    methods: list[str] = []
    for file in files:
        part = json.loads(file.read_text())
        for name, result in part["tasks"].items():
            into = report["tasks"].setdefault(name, {**result, "methods": {}})["methods"]
            for method, outcome in result["methods"].items():
                if "runs" in outcome and "runs" in into.get(method, {}):  # more seeds of the same method
                    runs = into[method]["runs"] + outcome["runs"]
                    into[method] = {"runs": runs, "summary": summarize(runs)}
                else:
                    into[method] = outcome
        methods += [m for m in part["methods"] if m not in methods]
    return report, methods


def main(argv: list[str] | None = None) -> None:
    available = sorted(p.stem for p in grid.OUT.glob("*.json"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(available), help="comma-separated; default: every task with a grid")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {', '.join(METHODS)}")
    parser.add_argument("--seeds", type=int, default=12,
                        help="search seeds 0..S-1 (default 12: on one commit seeds 0-5 gave a median regret of 0.5%%, 6-11 of 2.2%%)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="start the search seeds here (--merge adds the runs of several seed ranges up)")
    parser.add_argument("--sizes", choices=SIZES, default="default",
                        help="batch sizes searched: autoopt's defaults (16-256, as users search) or the grid's")
    parser.add_argument("--out", default="/tmp/regret.json", help="where to write the results as JSON")
    parser.add_argument("--merge", help="comma-separated result files of earlier runs: print them as one table and stop")
    args = parser.parse_args(argv)
    if args.merge:
        print(final_summary(*merged([Path(f) for f in args.merge.split(",") if f])))
        return
    torch.set_num_threads(1)
    methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in METHODS] + [t for t in args.tasks.split(",") if t and t not in available]
    if unknown:
        parser.error(f"unknown or grid-less: {', '.join(unknown)}; methods: {', '.join(METHODS)}; tasks: {', '.join(available)}")
    report: dict[str, Any] = {"seeds": args.seeds, "sizes": args.sizes, "methods": methods, "trials": TRIALS, "tasks": {}}
    unavailable: dict[str, str] = {}
    for name in [t for t in args.tasks.split(",") if t]:
        task = Task(name, args.sizes)
        results: dict[str, dict[str, Any]] = {}
        report["tasks"][name] = {"target": task.target, "epochs": task.epochs, "resolution": task.resolution(),
                                 "methods": results}
        for method in methods:
            if method in unavailable:
                results[method] = {"unavailable": unavailable[method]}
                continue
            runs = []
            try:
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    runs.append(run_one(task, method, seed))
                    print(f"  {name} {method} seed {seed}: regret {_pct(runs[-1]['regret'])}, "
                          f"{runs[-1]['trainings']:.1f} trainings, {runs[-1]['wall_s']:.1f} s", flush=True)  # fmt: skip
            except Unavailable as exc:
                unavailable[method] = str(exc)
                print(f"  {method}: unavailable ({exc})", flush=True)
                results[method] = {"unavailable": str(exc)}
                continue
            results[method] = {"runs": runs, "summary": summarize(runs)}
            Path(args.out).write_text(json.dumps(report, indent=1, default=str))
        print(table(task, results), flush=True)
    print(final_summary(report, methods))
    Path(args.out).write_text(json.dumps(report, indent=1, default=str))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
