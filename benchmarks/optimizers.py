"""Step time and peak memory of our Lion and Lookahead against their peers, on this CPU.

Two models: many small tensors (100 x [Linear(96, 96), LayerNorm(96)]: 400 tensors,
0.95M parameters) and few large ones (4 x Linear(2048, 2048): 4 tensors, 16.8M).
Every optimizer steps on the same fixed random gradients. Every repeat runs each
optimizer in turn; a ratio is the median over repeats of the ratio within a repeat, so
it compares runs made side by side on a noisy shared machine. The ratio of the fastest
repeats is shown too, since other work on the machine only ever adds time.

- Bandwidth bound: the bytes a Lion step must move (read p, g, m; write p, m: 20 B per
  float32 parameter) divided by the copy bandwidth measured in the same repeats, and
  by the in-place add bandwidth: a stricter bound, as a copy also reads its target
  (write-allocate) and so understates what in-place kernels reach.
- Peak memory: the most memory the optimizer holds at once, from its construction
  through its first K + 1 steps (state plus a step's temporaries), from
  torch.profiler's allocation records. Parameters and gradients are not counted, except
  for Lion's flat path, whose parameter buffer is allocated by the optimizer (it takes
  the place of the parameters' own storage, which is freed).

Run: python benchmarks/optimizers.py [--repeats 9] [--threads N] [--only shapes|models].
Prints tables and the goals of issue #3, for our Lion's default (the native kernel where it
is built), foreach and flat paths: Lion >= 1.5x faster than lion-pytorch, within 1.3x of
the bandwidth bound; Lookahead adding < 10% to the step it wraps: torch's Adam as built
with no flag (on the CPU its single-tensor loop; autoopt's from_recommendation builds it
so), foreach and fused.

Then (``shapes``) the goals of issue #15 on its three shapes of plain float32 tensors (400 x
50x50, 48 x 256x256, 4 x 2048x2048), steps of 20 (the largest: 5) as the issue measured
them, each with PASS/FAIL: our default Lion <= 0.8x torch's fused Adam and >= 1.5x faster
than lion-pytorch; Lookahead's slow-weight sync (timed by itself, beside the fused Adam step
it wraps) within 1.2x of its floor: 16 B a parameter (read and write fast and slow weights)
at the in-place add bandwidth measured in the same repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import lion_pytorch
import lion_pytorch.foreach
import pytorch_optimizer
import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from autoopt.optimizers import Lion, Lookahead, from_recommendation, native

CPU = torch.device("cpu")
K = 5  # Lookahead's k; every timing covers whole cycles
LION = {"lr": 1e-4, "weight_decay": 0.1}
MakeOptimizer = Callable[[list[torch.Tensor]], torch.optim.Optimizer]

# Listed so that each pair compared below runs back to back in every repeat.
CONTESTANTS: dict[str, MakeOptimizer] = {
    "Lion (ours, default)": lambda p: Lion(p, **LION),
    "lion-pytorch": lambda p: lion_pytorch.Lion(p, **LION),
    "Lion (ours, foreach)": lambda p: Lion(p, fused=False, **LION),
    # The flat ones get copies of the parameters: each lays out (re-points) the parameters it steps.
    "Lion (ours, flat)": lambda p: Lion(_copies(p, "flat"), flat=True, **LION),
    "Lookahead(Lion flat) (ours)": lambda p: Lookahead(Lion(_copies(p, "lookahead"), flat=True, **LION), k=K),
    "Lion (ours, single-tensor)": lambda p: Lion(p, foreach=False, **LION),
    "lion-pytorch foreach": lambda p: lion_pytorch.foreach.Lion(p, **LION),
    "pytorch-optimizer Lion": lambda p: pytorch_optimizer.Lion(p, **LION),
    # No foreach/fused flag: on the CPU torch then takes its single-tensor loop. autoopt's own
    # factory builds Adam so, as from a recommendation that names Adam with Lookahead.
    "Adam default (torch)": lambda p: torch.optim.Adam(p),
    "Lookahead(Adam default) (from_recommendation)": lambda p: from_recommendation(
        p, {"optimizer": "adam", "optimizer_kwargs": {}, "lookahead": {"k": K, "alpha": 0.5}}
    ),
    "Adam foreach (torch)": lambda p: torch.optim.Adam(p, foreach=True),
    "Lookahead(Adam foreach) (ours)": lambda p: Lookahead(torch.optim.Adam(p, foreach=True), k=K),
    "pytorch-optimizer Lookahead(Adam foreach)": lambda p: pytorch_optimizer.Lookahead(
        torch.optim.Adam(p, foreach=True), k=K
    ),
    "Adam fused (torch)": lambda p: torch.optim.Adam(p, fused=True),
    "Lookahead(Adam fused) (ours)": lambda p: Lookahead(torch.optim.Adam(p, fused=True), k=K),
}

LOOKAHEAD_PAIRS = [  # (wrapper, the step it wraps)
    ("Lookahead(Lion flat) (ours)", "Lion (ours, flat)"),
    ("Lookahead(Adam default) (from_recommendation)", "Adam default (torch)"),
    ("Lookahead(Adam foreach) (ours)", "Adam foreach (torch)"),
    ("Lookahead(Adam fused) (ours)", "Adam fused (torch)"),
    ("pytorch-optimizer Lookahead(Adam foreach)", "Adam foreach (torch)"),
]

_COPIES: dict[tuple[int, str], list[torch.Tensor]] = {}


def _copies(params: list[torch.Tensor], owner: str) -> list[torch.Tensor]:
    """``params`` copied once per owner (with their gradients), and the same copies on later calls."""
    key = (id(params), owner)
    if key not in _COPIES:
        _COPIES[key] = [p.detach().clone().requires_grad_() for p in params]
        for copy, p in zip(_COPIES[key], params):
            copy.grad = p.grad
    return _COPIES[key]


MODELS: dict[str, Callable[[], nn.Module]] = {
    "many small tensors": lambda: nn.Sequential(*(m for _ in range(100) for m in (nn.Linear(96, 96), nn.LayerNorm(96)))),
    "few large tensors": lambda: nn.Sequential(*(nn.Linear(2048, 2048, bias=False) for _ in range(4))),
}


def _seconds(fn: Callable[[], object], calls: int, device: torch.device = CPU) -> float:
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    _synchronize(device)  # a GPU's kernels run after their launch returns
    return (time.perf_counter() - start) / calls


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_times(
    timed: dict[str, Callable[[], object]], repeats: int, steps: int, device: torch.device = CPU
) -> tuple[dict, dict]:
    """Seconds per call of every timed function in each repeat, and the memory bandwidths (bytes/s) in each."""
    for fn in timed.values():  # create state, warm caches and allocators
        _seconds(fn, K, device)
    source = torch.randn(1 << 26, device=device)  # 256 MiB: far beyond the caches (a GPU's L2 too)
    target = torch.empty_like(source)
    samples: dict[str, list[float]] = {name: [] for name in timed}
    bandwidth: dict[str, list[float]] = {"copy": [], "in-place add": []}
    names = list(timed)
    for repeat in range(repeats):
        bandwidth["copy"].append(2 * source.nbytes / _seconds(lambda: target.copy_(source), 3, device))
        # Reads two and writes one in place, as an optimizer step does (a copy also reads its target first).
        add = 3 * source.nbytes / _seconds(lambda: target.add_(source, alpha=1e-9), 3, device)
        bandwidth["in-place add"].append(add)
        for name in names if repeat % 2 == 0 else names[::-1]:  # alternate, so no one always goes first
            samples[name].append(_seconds(timed[name], steps, device))
    return samples, bandwidth


def peak_memory(make: MakeOptimizer, params: list[torch.Tensor]) -> int:
    """Most bytes held at once by the optimizer from its construction through K + 1 steps."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        optimizer = make(params)
        for _ in range(K + 1):
            optimizer.step()
    # The raw allocation records: the parsed events net frees into the enclosing scope.
    records = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    live = peak = 0
    for record in sorted(records, key=lambda e: e.start_ns()):
        live += record.nbytes()
        peak = max(peak, live)
    del optimizer
    return peak


def _ratios(numerators: list[float], denominators: list[float]) -> tuple[float, float]:
    """Median of the per-repeat ratios, and the ratio of the fastest repeats."""
    return statistics.median(n / d for n, d in zip(numerators, denominators)), min(numerators) / min(denominators)


def _goal(label: str, ratios: tuple[float, float], *, target: str, met: bool) -> None:
    verdict = "met" if met else "MISSED"
    print(f"{label}: {ratios[0]:.2f} (fastest repeats: {ratios[1]:.2f}); goal {target}: {verdict}")


def report(model_name: str, repeats: int) -> None:
    torch.manual_seed(0)
    params = list(MODELS[model_name]().parameters())
    for p in params:
        p.grad = torch.randn_like(p)
    numel = sum(p.numel() for p in params)
    optimizers = {name: make(params) for name, make in CONTESTANTS.items()}
    timed = {name: optimizer.step for name, optimizer in optimizers.items()}
    samples, bandwidth = measure_times(timed, repeats, steps=K if numel > 5_000_000 else 4 * K)
    ours = samples["Lion (ours, default)"]
    print(f"\n## {model_name}: {len(params)} tensors, {numel / 1e6:.2f}M parameters")
    print(f"{'optimizer':46s} {'median ms':>10s} {'best ms':>9s} {'x ours Lion':>12s} {'peak MiB':>9s}")
    for name, make in CONTESTANTS.items():
        mib = peak_memory(make, params) / 2**20
        times = samples[name]
        print(f"{name:46s} {statistics.median(times) * 1e3:10.3f} {min(times) * 1e3:9.3f} "
              f"{_ratios(times, ours)[0]:12.2f} {mib:9.1f}")  # fmt: skip
    for path in ("default", "foreach", "flat"):
        name = f"Lion (ours, {path})"
        speedup = _ratios(samples["lion-pytorch"], samples[name])
        _goal(f"{name} speed-up over lion-pytorch", speedup, target=">= 1.5", met=speedup[0] >= 1.5)
        for kind, rates in bandwidth.items():  # Lion moves 20 B per parameter: reads p, g, m and writes p, m
            to_bound = _ratios(samples[name], [20 * numel / rate for rate in rates])
            label = f"{name} time / {kind} bandwidth bound ({statistics.median(rates) / 1e9:.1f} GB/s)"
            _goal(label, to_bound, target="<= 1.3", met=to_bound[0] <= 1.3)
    for wrapper, inner in LOOKAHEAD_PAIRS:
        ratio = _ratios(samples[wrapper], samples[inner])
        added = ratio[0] - 1, ratio[1] - 1
        _goal(f"{wrapper} over {inner}, added", added, target="< 0.10", met=added[0] < 0.10)
    # Lookahead must read fast and slow weights and write both every k steps: 16 B / k per
    # parameter, against Adam's 28 B: over a bandwidth-bound Adam that is 11.4% at k = 5.
    print(f"(bandwidth floor of Lookahead over a bandwidth-bound Adam at k={K}: {16 / K / 28:.3f})")


SHAPES = {"400 x 50x50": (400, 50), "48 x 256x256": (48, 256), "4 x 2048x2048": (4, 2048)}  # issue #15's


def lookahead_sync(params: list[torch.Tensor], *, eager: bool = False) -> Callable[[], None]:
    """Lookahead(fused Adam)'s slow-weight sync by itself; ``eager``: its foreach ops, the native kernel off."""
    lookahead = Lookahead(torch.optim.Adam(params, fused=True), k=K)
    lookahead.step()  # the slow weights join at the first step
    if not eager:
        return lookahead._update_slow_weights

    def sync() -> None:
        kernel = native.lookahead_sync_
        native.lookahead_sync_ = lambda *args: False
        try:
            lookahead._update_slow_weights()
        finally:
            native.lookahead_sync_ = kernel

    return sync


SHAPE_CONTESTANTS: dict[str, Callable[[list[torch.Tensor]], Callable[[], object]]] = {
    "Lion (ours, default)": lambda p: Lion(p, **LION).step,
    "Adam fused (torch)": lambda p: torch.optim.Adam(p, fused=True).step,
    "lion-pytorch": lambda p: lion_pytorch.Lion(p, **LION).step,
    "Lion (ours, foreach: the fallback)": lambda p: Lion(p, fused=False, **LION).step,
    "Lookahead sync (ours, default)": lookahead_sync,
    "Lookahead sync (foreach: the fallback)": lambda p: lookahead_sync(p, eager=True),
}


def _verdict(label: str, ratios: tuple[float, float], *, target: str, met: bool) -> bool:
    print(f"{'PASS' if met else 'FAIL'} {label}: {ratios[0]:.2f} (fastest repeats: {ratios[1]:.2f}); goal {target}")
    return met


def report_shape(shape_name: str, repeats: int, steps: int, device: torch.device = CPU) -> list[bool]:
    """Issue #15's goals on one shape: the verdicts, after printing the times and ratios."""
    count, side = SHAPES[shape_name]
    torch.manual_seed(0)
    params = [torch.randn(side, side, device=device, requires_grad=True) for _ in range(count)]
    for p in params:
        p.grad = torch.randn_like(p)
    numel = count * side * side
    timed = {name: make(params) for name, make in SHAPE_CONTESTANTS.items()}
    samples, bandwidth = measure_times(timed, repeats, steps, device)
    rates = {kind: statistics.median(r) / 1e9 for kind, r in bandwidth.items()}
    print(f"\n## {shape_name} on {device.type}: {numel / 1e6:.2f}M parameters, {steps} calls a repeat; bandwidth: "
          f"in-place add {rates['in-place add']:.1f} GB/s, copy {rates['copy']:.1f} GB/s")  # fmt: skip
    print(f"{'':40s} {'median ms':>10s} {'best ms':>9s}")
    for name, times in samples.items():
        print(f"{name:40s} {statistics.median(times) * 1e3:10.3f} {min(times) * 1e3:9.3f}")
    ours, adam = samples["Lion (ours, default)"], samples["Adam fused (torch)"]
    to_adam = _ratios(ours, adam)
    speedup = _ratios(samples["lion-pytorch"], ours)
    # The sync reads and writes the fast and the slow weights: 16 B a parameter, at the rate of in-place kernels.
    floor = [16 * numel / rate for rate in bandwidth["in-place add"]]
    sync = samples["Lookahead sync (ours, default)"]
    to_floor = _ratios(sync, floor)
    fallback = _ratios(samples["Lion (ours, foreach: the fallback)"], adam)
    sync_fallback = _ratios(samples["Lookahead sync (foreach: the fallback)"], floor)
    print(f"(the fallbacks: foreach Lion / fused Adam {fallback[0]:.2f}, foreach sync / floor {sync_fallback[0]:.2f})")
    added = _ratios([s / K for s in sync], adam)
    print(f"(the sync adds {added[0]:.1%} to fused Adam's step at k={K}; "
          f"the 16 B floor over a 28 B Adam is {16 / 28 / K:.1%})")  # fmt: skip
    return [
        _verdict("Lion default / fused Adam", to_adam, target="<= 0.8", met=to_adam[0] <= 0.8),
        _verdict("lion-pytorch / Lion default (speed-up)", speedup, target=">= 1.5", met=speedup[0] >= 1.5),
        _verdict("Lookahead sync / its 16 B floor", to_floor, target="<= 1.2", met=to_floor[0] <= 1.2),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--only", choices=["models", "shapes"], help="one part: issue #3's models or #15's shapes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]  # other work on the machine shows in every figure: say how much there was
    print(f"torch {torch.__version__}, {args.threads} threads, {args.repeats} repeats, {os.cpu_count()} CPUs, load {load:.1f}")
    built = native.load(wait=True) is not None  # built now if it is not yet, so that every step here can use it
    print(f"native kernel: {'built' if built else 'not available: Lion and the sync fall back'}")
    if args.only != "shapes":
        for model_name in MODELS:
            report(model_name, args.repeats)
    if args.only != "models":
        verdicts = [met for shape_name in SHAPES for met in report_shape(shape_name, args.repeats, steps=4 * K)]
        print(f"\nissue #15 goals: {sum(verdicts)} of {len(verdicts)} PASS")


if __name__ == "__main__":
    main()
