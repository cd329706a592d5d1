"""Fused trials against one trial at a time: throughput, and the effect on a whole search.

1. Throughput (trials per hour at equal per-trial results). For each example in studies/,
   the same configurations (Adam, learning rates and betas drawn from the search's priors)
   are trained for the full epochs one at a time with ``runner.run_trial``, and in fused
   groups of K = 1, 4, 16, 64 with ``FusedGroup``. Reported:
   trials/hour of each and the ratio to one-at-a-time (median over repeats, measured side
   by side), and the largest difference between a member's final validation value and
   the same configuration's value alone (the "equal per-trial results" check: a member's
   weights and batch order come from its seed, as an unfused trial's do).
2. Search. ``autoopt.search`` on digits with --fuse 1 and --fuse K, same seed, trials and
   epochs; reported: wall time until the best finished trial comes within 2% of the best
   value either search found, and the best value of each.

Run: python benchmarks/fused.py [--tasks digits,diabetes] [--sizes 1,4,16,64] [--epochs 3]
     [--repeats 3] [--search-trials 48] [--search-fuse 16] [--no-search]
On a GPU it runs on cuda by itself (``runner.pick_device``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import optuna
import torch

import autoopt
from autoopt.training.data import load_data
from autoopt.training.fused import FusedGroup, GroupKey
from autoopt.training.runner import COMPLETE, TrialJob, pick_device, run_trial
from autoopt.trial_config import TrialConfig
from autoopt.training.task import load_task

STUDIES = Path(__file__).resolve().parent.parent / "studies"
BATCH_SIZE = {"digits": 64, "diabetes": 32}
BATCH_SEED = 12345
optuna.logging.set_verbosity(optuna.logging.WARNING)


def configs(count: int, batch_size: int) -> list[TrialConfig]:
    """Adam configurations spread over the search's priors (log lr in [1e-4, 1e-2], beta1, beta2)."""
    generator = torch.Generator().manual_seed(0)
    out = []
    for _ in range(count):
        u = torch.rand(3, generator=generator).tolist()
        kwargs = {"lr": 10 ** (-4 + 2 * u[0]), "betas": [0.8 + 0.19 * u[1], 0.9 + 0.0999 * u[2]], "eps": 1e-8, "weight_decay": 0.0}
        out.append(TrialConfig("adam", kwargs, None, batch_size))
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def alone(task, data, config: TrialConfig, seed: int, epochs: int, device: torch.device) -> tuple[float, float]:
    """Seconds and final value of one trial trained by itself."""
    job = TrialJob(0, config, seed, epochs)
    sync(device)
    start = time.perf_counter()
    out = run_trial(task, data, job, lambda *_: False, device=device)
    sync(device)
    assert out.state == COMPLETE, out.reason
    return time.perf_counter() - start, out.value


def fused(task, data, group_configs: list[TrialConfig], epochs: int, device: torch.device) -> tuple[float, list[float]]:
    """Seconds and final values of one group trained together, as the fused executor trains it."""
    config = group_configs[0]
    sync(device)
    start = time.perf_counter()
    group = FusedGroup(task, data, device, GroupKey(config.optimizer, config.batch_size, False))
    for index, member in enumerate(group_configs):
        group.add(TrialJob(index, member, BATCH_SEED if index == 0 else 1000 + index, epochs))
    values: list[float] = []
    for _ in range(epochs):
        group.train_epoch()
        values = group.evaluate()  # the executor evaluates every epoch to report it
    sync(device)
    return time.perf_counter() - start, values


def throughput(name: str, sizes: list[int], epochs: int, repeats: int, device: torch.device) -> None:
    task = load_task(STUDIES / f"{name}.py")
    data = load_data(task.datasets(), task.path).to(device)
    pool = configs(max(sizes), BATCH_SIZE[name])
    fused(task, data, pool[:2], 1, device)  # warm-up: first vmap and allocator costs
    # One at a time: the group's first member (seed BATCH_SEED).
    alone_s = statistics.median(alone(task, data, pool[0], BATCH_SEED, epochs, device)[0] for _ in range(repeats))
    alone_rate = 3600 / alone_s
    print(f"\n== {name} on {device.type} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}, "
          f"{torch.get_num_threads()} threads), {epochs} epochs, batch {BATCH_SIZE[name]} ==")  # fmt: skip
    print(f"one at a time: {alone_s:.3f} s/trial, {alone_rate:,.0f} trials/hour")
    print(f"{'K':>4} {'s/group':>9} {'trials/hour':>13} {'ratio':>7} {'max |fused - alone|':>21}")
    for size in sizes:
        times, values = [], []
        for _ in range(repeats):
            seconds, values = fused(task, data, pool[:size], epochs, device)
            times.append(seconds)
        # Equal results: the first member trained alone.
        difference = abs(values[0] - alone(task, data, pool[0], BATCH_SEED, epochs, device)[1])
        rate = size * 3600 / statistics.median(times)
        print(f"{size:>4} {statistics.median(times):>9.3f} {rate:>13,.0f} {rate / alone_rate:>6.2f}x {difference:>21.2e}")


def search_effect(trials: int, size: int, epochs: int) -> None:
    """Wall time of a whole digits search to within 2% of the best value found, fused against not."""
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        for fuse in (1, size):
            url = f"sqlite:///{folder}/search-{fuse}.db"
            spec = autoopt.build_spec(STUDIES / "digits.py", overrides={"storage": url, "trials": trials, "seed": 0,
                                      "epochs": epochs, "fuse": fuse, "confirm_top": 0})  # fmt: skip
            start = time.time()
            autoopt.search(spec)
            wall = time.time() - start
            study = optuna.load_study(study_name=spec.study_name, storage=url)
            done = sorted((t.datetime_complete.timestamp() - start, t.value) for t in study.trials if t.value is not None
                          and t.state == optuna.trial.TrialState.COMPLETE)  # fmt: skip
            runs[fuse] = (wall, done)
    best = max(value for _, done in runs.values() for _, value in done)
    print(f"\n== search: digits, {trials} trials x {epochs} epochs (ASHA, TPE), best value found {best:.4f} ==")
    for fuse, (wall, done) in runs.items():
        reach = next((at for at, value in _running_best(done) if value >= 0.98 * best), None)
        print(f"--fuse {fuse:<3} whole search {wall:6.1f} s; within 2% of the best after "
              f"{'never' if reach is None else f'{reach:.1f} s'}; its best {max(v for _, v in done):.4f}")  # fmt: skip


def _running_best(done: list[tuple[float, float]]) -> list[tuple[float, float]]:
    best, out = float("-inf"), []
    for at, value in done:
        best = max(best, value)
        out.append((at, best))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="digits,diabetes")
    parser.add_argument("--sizes", default="1,4,16,64")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--search-trials", type=int, default=48)
    parser.add_argument("--search-fuse", type=int, default=16)
    parser.add_argument("--no-search", action="store_true")
    args = parser.parse_args()
    device = pick_device()
    if device.type == "cpu":
        torch.set_num_threads(1)  # as one trial per core would run; fused and alone alike
    for name in args.tasks.split(","):
        throughput(name, [int(s) for s in args.sizes.split(",")], args.epochs, args.repeats, device)
    if not args.no_search:
        search_effect(args.search_trials, args.search_fuse, args.epochs)


if __name__ == "__main__":
    main()
