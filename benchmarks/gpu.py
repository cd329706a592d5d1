"""Issue #15's figures on a GPU, in one run of under 5 minutes: fused trials, Lion, fused Adam, Lookahead's sync.

1. Fused trials per hour at K = 1, 4, 16, 64 against one trial at a time (``fused.py``'s
   throughput: digits and diabetes, 3 epochs, 1 repeat).
2. On issue #15's three shapes (``optimizers.py``'s ``report_shape``): our default Lion,
   torch's fused Adam, lion-pytorch and our foreach Lion step times, and Lookahead's sync
   against its 16 B-a-parameter floor at the in-place add bandwidth measured in the same
   run, with PASS/FAIL for each goal. autoopt has no CUDA kernel for Lion or the sync: on a
   GPU both run their foreach paths, and these figures say what that costs.

Run: python benchmarks/gpu.py              (on CUDA; exits with a message where there is none)
     python benchmarks/gpu.py --cpu-smoke  (the same code on the CPU, cut small: a check that it runs)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from autoopt.optimizers import native

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmarks, run as scripts
import fused as fused_benchmark  # noqa: E402
import optimizers as optimizer_benchmark  # noqa: E402

BUDGET_S = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="run on the CPU with small sizes, to check the script")
    args = parser.parse_args()
    if args.cpu_smoke:
        device, tasks, sizes, epochs = torch.device("cpu"), ["digits"], [1, 4], 1
        torch.set_num_threads(1)  # as fused.py does on the CPU: one trial a core
        shapes, repeats = ["400 x 50x50"], 2
    elif torch.cuda.is_available():
        device, tasks, sizes, epochs = torch.device("cuda"), ["digits", "diabetes"], [1, 4, 16, 64], 3
        shapes, repeats = list(optimizer_benchmark.SHAPES), 7
    else:
        sys.exit("no CUDA device here; run with --cpu-smoke to check the script on the CPU")
    native.load(wait=True)  # the CPU kernel (a GPU's steps do not use it), built now if it is not yet
    start = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"torch {torch.__version__} on {device.type} ({name})")
    for task in tasks:
        fused_benchmark.throughput(task, sizes, epochs, 1, device)
    print(f"\n(fused trials: {time.perf_counter() - start:.0f} s)")
    verdicts = []
    for shape in shapes:
        verdicts += optimizer_benchmark.report_shape(shape, repeats, steps=4 * optimizer_benchmark.K, device=device)
    elapsed = time.perf_counter() - start
    print(f"\nissue #15 goals on {device.type}: {sum(verdicts)} of {len(verdicts)} PASS")
    print(f"whole run: {elapsed:.0f} s ({'within' if elapsed <= BUDGET_S else 'OVER'} the {BUDGET_S} s budget)")


if __name__ == "__main__":
    main()
