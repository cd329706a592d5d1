"""Per-trial overhead of autoopt's Ray backend against plain Ray Tune + OptunaSearch, and its scaling.

One local two-node Ray cluster (two processes, two logical CPUs each) serves every run.

1. Overhead: trivial trials (``trivial_model.py``: one report, no training), two at a
   time, autoopt's own search space on both sides (OptunaSearch gets it as a
   define-by-run function) and the random sampler on both, so that what differs is the
   orchestration, not the sampler. autoopt also writes every trial to SQLite; Tune keeps
   its Optuna study in memory. Tune runs as configured by default (a new actor per
   trial) and with ``reuse_actors=True``. ms/trial = wall time of the whole search
   (start-up included) / trials.
2. Scaling: trials that wait 2 x 0.5 s (reporting after each half, as a GPU-bound trial
   leaves the CPU idle) on 1, 2 and 4 actors: trials/s of the whole search (actor start-up,
   sampler and SQLite included) and of RayExecutor alone with warm actors. This machine
   has 2 cores, so CPU-bound trials could not scale past 2.

Run: python benchmarks/ray_overhead.py [--trials 100] [--tune-default-trials 15]
[--scaling-trials 24]  (about 5 minutes)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep every node on 127.0.0.1
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

import optuna  # noqa: E402
import ray  # noqa: E402
from ray import tune  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402
from ray.tune.search.optuna import OptunaSearch  # noqa: E402

from autoopt.engine import run as engine  # noqa: E402
from autoopt.executors.ray import RayExecutor, runtime_env_for  # noqa: E402
from autoopt.executors.base import Report  # noqa: E402
from autoopt.training.runner import TrialJob  # noqa: E402
from autoopt.engine.space import SearchSpace, suggest_config  # noqa: E402
from autoopt.trial_config import TrialConfig  # noqa: E402
from autoopt.engine.spec import StudySpec  # noqa: E402

HERE = Path(__file__).parent
NODE = {"num_cpus": 2, "object_store_memory": 100 * 2**20, "node_ip_address": "127.0.0.1"}
WAITING_MODEL = textwrap.dedent(
    """
    import time
    epochs = 2

    def train(trial):
        for epoch in (1, 2):
            time.sleep(0.5)
            trial.report(0.5, epoch)
        return 0.5
    """
)


def autoopt_search(model: Path, trials: int, workers: int, folder: Path, *, sampler: str = "random") -> float:
    """Seconds for a whole autoopt search of ``trials`` on ``workers`` actors."""
    spec = StudySpec(model_file=model, study_name=f"bench-{uuid.uuid4().hex[:8]}", storage=f"sqlite:///{folder}/bench.db",
                     trials=trials, seed=0, jobs=workers, backend="ray", confirm_top=0, warm_start=False,
                     pruner="none", sampler=sampler)  # fmt: skip
    make_executor = engine.make_executor
    engine.make_executor = lambda spec, *_, **__: RayExecutor(spec, slots=workers)  # one worker, too
    try:
        start = time.perf_counter()
        result = engine.search(spec)
        seconds = time.perf_counter() - start
    finally:
        engine.make_executor = make_executor
    assert result.complete == trials, result
    return seconds


def executor_alone(model: Path, trials: int, workers: int) -> float:
    """Seconds for RayExecutor alone (no sampler, no storage) to run ``trials`` jobs, actors warm."""
    spec = StudySpec(model_file=model, study_name="bench", storage="sqlite://", backend="ray", jobs=workers)
    config = TrialConfig("adam", {"lr": 1e-3}, None, 32)
    with RayExecutor(spec, slots=workers) as executor:
        while any(slot.node is None for slot in executor._slots):  # wait for the actors to load the model
            executor.poll(0.1)
        start, done = time.perf_counter(), 0
        for number in range(min(workers, trials)):
            executor.submit(TrialJob(number, config, 0, 2))
        while done < trials:
            for event in executor.poll(1.0):
                if isinstance(event, Report):
                    executor.answer(event.number, False)
                else:
                    done += 1
                    if event.number + workers < trials:
                        executor.submit(TrialJob(event.number + workers, config, 0, 2))
        return time.perf_counter() - start


def autoopt_space(trial: object) -> None:
    """autoopt's default search space, define-by-run, for OptunaSearch (module level: Tune pickles it)."""
    suggest_config(trial, SearchSpace())


def trivial_trainable(config: dict) -> None:
    tune.report({"value": 0.5})


def tune_search(trials: int, *, reuse_actors: bool, folder: Path) -> float:
    """Seconds for Ray Tune + OptunaSearch to run the same trivial trials, two at a time."""
    searcher = OptunaSearch(space=autoopt_space, metric="value", mode="min", sampler=optuna.samplers.RandomSampler(seed=0))
    tuner = tune.Tuner(
        trivial_trainable,
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=trials, max_concurrent_trials=2,
                                    reuse_actors=reuse_actors),  # fmt: skip
        run_config=tune.RunConfig(storage_path=str(folder / "tune"), name=f"bench-{uuid.uuid4().hex[:8]}", verbose=0),
    )
    start = time.perf_counter()
    results = tuner.fit()
    seconds = time.perf_counter() - start
    assert len(results) == trials and not results.errors, results.errors
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--tune-default-trials", type=int, default=15, help="a new actor per trial: about 1-3 s each")
    parser.add_argument("--scaling-trials", type=int, default=24)
    args = parser.parse_args()
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    cluster = Cluster(initialize_head=True, head_node_args=NODE | {"include_dashboard": False})
    cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "waiting.py").write_text(WAITING_MODEL)
        ray.init(address=cluster.address, runtime_env=runtime_env_for(folder), logging_level="ERROR")
        (folder / "trivial_model.py").write_text((HERE / "trivial_model.py").read_text())
        n, n_default = args.trials, args.tune_default_trials
        rows = [("autoopt --backend ray (+ SQLite record)", n, autoopt_search(folder / "trivial_model.py", n, 2, folder)),
                ("  of which RayExecutor alone (actors warm)", n, executor_alone(folder / "trivial_model.py", n, 2)),
                ("Ray Tune + OptunaSearch (default)", n_default, tune_search(n_default, reuse_actors=False, folder=folder)),
                ("Ray Tune + OptunaSearch, reuse_actors", n, tune_search(n, reuse_actors=True, folder=folder))]  # fmt: skip
        ours = rows[0][2] / n
        print("\nPer-trial overhead, trivial trials, 2 at a time, random sampler, 2-node local cluster:")
        for label, trials, seconds in rows:
            print(f"  {label:<42} {trials:4d} trials {1000 * seconds / trials:8.1f} ms/trial"
                  f"   {seconds / trials / ours:5.1f}x autoopt's")  # fmt: skip

        m = args.scaling_trials
        print(f"\nThroughput, {m} trials of 2 x 0.5 s waits (ideal: workers x 1 trial/s):")
        for workers in (1, 2, 4):
            whole = m / autoopt_search(folder / "waiting.py", m, workers, folder)
            alone = m / executor_alone(folder / "waiting.py", m, workers)
            print(f"  {workers} worker(s): whole search {whole:5.2f} trials/s   RayExecutor alone {alone:5.2f} trials/s")

    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main()
