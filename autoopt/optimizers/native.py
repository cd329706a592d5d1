"""Single-pass CPU kernels for Lion's step and Lookahead's sync, built once on first use.

An eager step runs one op per line of the rule, and each op reads and writes whole tensors
(Lion: four passes over memory, against torch's fused Adam's one). These kernels do the
whole rule per element in one pass over a list of tensors, the way ``torch._fused_adam_``
does: Lion moves its 20 bytes per parameter once, and 400 small tensors cost one call,
not 2,000 (benchmarks/optimizers.py).

The C++ source below is compiled with the machine's C++ compiler through
``torch.utils.cpp_extension`` into a cache folder named for the source's hash and torch's
version (``$AUTOOPT_KERNEL_DIR``, else ``~/.cache/autoopt/kernels``), and later processes
load the built library without compiling (7-10 s of CPU to build; milliseconds to load).
The first process to want it builds it in the background and steps without it (``load``). It includes only ATen's core headers, not ``torch/extension.h``, which took ten
times as long to compile. Where it cannot be built (no compiler, no ninja) or loaded,
``load()`` gives None, once per process, and the callers step as they did before; a
failed build leaves a ``FAILED`` file beside it, so that every later process does not
pay for the failure again (delete it to retry); a build killed midway is redone by the next
process (``_build``).

Each op checks every tensor (CPU, float32, dense, contiguous, matching sizes) before it
writes anything, and returns False, having done nothing, when one does not qualify: the
caller then takes its eager path. The arithmetic is the eager rule's, op by op and in its
order (``torch.lerp``'s two formulas included), so the results equal the eager path's
within rounding; on x86 the loop is compiled for AVX-512, AVX2 and plain x86-64, and
picked at load by the CPU (``target_clones``). There is no CUDA kernel: on a GPU the
callers take their foreach paths.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

try:
    import fcntl
except ImportError:  # Windows: builds are not serialized there
    fcntl = None  # type: ignore[assignment]

SOURCE = r"""
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <typeinfo>

namespace {

constexpr int64_t GRAIN = 1 << 16;  // elements per thread's task: large tensors split, small ones do not

#if defined(__x86_64__) && defined(__GNUC__)
#define AUTOOPT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AUTOOPT_CLONES
#endif

// torch.lerp's formula: the one from the nearer end, so that weights near 1 stay exact.
inline float lerp(float self, float end, float weight) {
  return std::abs(weight) < 0.5f ? self + weight * (end - self) : end - (end - self) * (1.0f - weight);
}

AUTOOPT_CLONES void lion_kernel(float* __restrict p, const float* __restrict g, float* __restrict m, int64_t n,
                                float decay, float step, float w1, float w2, float grad_sign) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = grad_sign * g[i], mi = m[i];
    float pi = p[i];
    pi = pi + decay * pi;  // p.add_(p, alpha=-lr * wd)
    const float u = lerp(mi, gi, w1);
    float s = static_cast<float>(u > 0.0f) - static_cast<float>(u < 0.0f);  // branch-free, so it vectorizes
    s = u != u ? u : s;  // torch.sign keeps NaN
    p[i] = pi + step * s;  // p.add_(sign, alpha=-lr)
    m[i] = lerp(mi, gi, w2);
  }
}

AUTOOPT_CLONES void sync_kernel(float* __restrict fast, float* __restrict slow, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; ++i) {
    const float s = lerp(slow[i], fast[i], alpha);
    slow[i] = s;
    fast[i] = s;
  }
}

bool qualifies(const at::Tensor& t, int64_t numel) {
  // A plain tensor only: subclasses, functorch wrappers and the like hold their data elsewhere.
  return t.defined() && typeid(*t.unsafeGetTensorImpl()) == typeid(c10::TensorImpl) &&
         !t.key_set().has(c10::DispatchKey::Python) && t.device().is_cpu() && t.layout() == at::kStrided && t.scalar_type() == at::kFloat &&
         t.is_contiguous() && t.numel() == numel && !t.is_conj() && !t.is_neg();
}

bool all_qualify(std::initializer_list<at::TensorList> lists) {
  const at::TensorList first = *lists.begin();
  for (const at::TensorList list : lists) {
    if (list.size() != first.size()) return false;
    for (size_t i = 0; i < list.size(); ++i) {
      if (!qualifies(list[i], first[i].numel())) return false;
    }
  }
  return true;
}

bool lion_(at::TensorList params, at::TensorList grads, at::TensorList exp_avgs, double lr, double beta1,
           double beta2, double weight_decay, bool maximize) {
  if (!all_qualify({params, grads, exp_avgs})) return false;
  const float decay = static_cast<float>(-lr * weight_decay), step = static_cast<float>(-lr);
  const float w1 = static_cast<float>(1.0 - beta1), w2 = static_cast<float>(1.0 - beta2);
  const float grad_sign = maximize ? -1.0f : 1.0f;
  for (size_t t = 0; t < params.size(); ++t) {
    float* p = params[t].data_ptr<float>();
    const float* g = grads[t].const_data_ptr<float>();
    float* m = exp_avgs[t].data_ptr<float>();
    at::parallel_for(0, params[t].numel(), GRAIN, [&](int64_t begin, int64_t end) {
      lion_kernel(p + begin, g + begin, m + begin, end - begin, decay, step, w1, w2, grad_sign);
    });
    params[t].unsafeGetTensorImpl()->bump_version();  // as an in-place op would, for autograd's checks
    exp_avgs[t].unsafeGetTensorImpl()->bump_version();
  }
  return true;
}

bool lookahead_sync_(at::TensorList fast, at::TensorList slow, double alpha) {
  if (!all_qualify({fast, slow})) return false;
  for (size_t t = 0; t < fast.size(); ++t) {
    float* f = fast[t].data_ptr<float>();
    float* s = slow[t].data_ptr<float>();
    at::parallel_for(0, fast[t].numel(), GRAIN, [&](int64_t begin, int64_t end) {
      sync_kernel(f + begin, s + begin, end - begin, static_cast<float>(alpha));
    });
    fast[t].unsafeGetTensorImpl()->bump_version();
    slow[t].unsafeGetTensorImpl()->bump_version();
  }
  return true;
}

}  // namespace

// Catch-all kernels (no dispatch key): they check the device themselves and decline what is not CPU.
TORCH_LIBRARY(autoopt, m) {
  m.def("lion_(Tensor[] params, Tensor[] grads, Tensor[] exp_avgs, float lr, float beta1, float beta2, "
        "float weight_decay, bool maximize) -> bool", &lion_);
  m.def("lookahead_sync_(Tensor[] fast, Tensor[] slow, float alpha) -> bool", &lookahead_sync_);
}
"""

_NAME = "autoopt_native_" + hashlib.sha256(SOURCE.encode()).hexdigest()[:12]
_UNLOADED, _BUILDING = object(), object()
_ops: Any = _UNLOADED


def build_directory() -> Path:
    """Where the library is built: per source, torch version and Python, since it links against both."""
    root = Path(os.environ.get("AUTOOPT_KERNEL_DIR") or Path.home() / ".cache" / "autoopt" / "kernels")
    tag = f"torch{torch.__version__}-py{platform.python_version()}-{platform.machine()}"
    return root / tag / _NAME


def load(*, wait: bool = False) -> Any:
    """The ops (``torch.ops.autoopt``), or None where they cannot be had.

    Where the library is not built yet, ``wait=False`` (as Lion and Lookahead call it) starts
    the build in a detached process and gives None for the rest of this process, which steps
    on its eager paths; processes started after the build load it. So the first trial on a
    machine neither stalls for the build (which would count against ``--trial-timeout``) nor
    switches paths midway. ``wait=True`` builds here and now (``Lion(fused=True)``, tests,
    benchmarks).
    """
    global _ops
    if _ops is _UNLOADED or (wait and _ops is _BUILDING):
        _ops = _load(wait=wait) if os.environ.get("AUTOOPT_NATIVE", "1") != "0" else None
    return None if _ops is _BUILDING else _ops


def _load(*, wait: bool) -> Any:
    folder = build_directory()
    try:
        if not (folder / "BUILT").exists() and not (folder / "FAILED").exists():
            if not wait:
                _build_in_background(folder)
                return _BUILDING
            _build(folder)
        if (folder / "BUILT").exists():
            torch.ops.load_library(str(folder / f"{_NAME}.so"))
            return torch.ops.autoopt
    except Exception:  # noqa: BLE001 - a library that does not load is a library we step without
        pass
    return None


def _build_in_background(folder: Path) -> None:
    """Start ``_build`` in a process of its own, which outlives this one, unless a build is running."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "build.lock", "a") as lock:
        if fcntl is not None:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # another process is building it
    code = "from autoopt.optimizers import native; native._build(native.build_directory())"
    devnull = subprocess.DEVNULL
    subprocess.Popen(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code], stdin=devnull, stdout=devnull, stderr=devnull, start_new_session=True
    )


def _build(folder: Path) -> None:
    """Build the library in ``folder``, one process at a time; ``BUILT`` marks a finished build.

    Trial processes get killed (timeouts, pruning, Ctrl-C), maybe mid-build. torch's own lock
    is a file that a killed build leaves behind, and every later build would wait on it
    forever; so processes take turns on an OS lock, which dies with its holder, and the one
    holding it clears what a killed build may have left (torch's lock, a half-linked library).
    """
    from torch.utils import cpp_extension  # imports setuptools: only when there is something to build

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "build.lock", "a") as lock:
        if fcntl is not None:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # waits while another process builds
        if (folder / "BUILT").exists() or (folder / "FAILED").exists():
            return  # built (or failed) while this process waited
        for leftover in ("lock", f"{_NAME}.so", f"{_NAME}.o"):
            (folder / leftover).unlink(missing_ok=True)
        source = folder / f"{_NAME}.cpp"
        source.write_text(SOURCE)
        try:
            cpp_extension.load(
                _NAME, [str(source)], extra_cflags=["-O3"], build_directory=str(folder), is_python_module=False
            )
        except Exception as error:
            (folder / "FAILED").write_text(f"{type(error).__name__}: {error}\n")
            raise
        (folder / "BUILT").touch()


def lion_(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    weight_decay: float,
    maximize: bool,
) -> bool:
    """Lion's step over aligned tensor lists in one pass; False (nothing done) where the kernel cannot take them."""
    ops = load()
    return ops is not None and ops.lion_(params, grads, exp_avgs, lr, beta1, beta2, weight_decay, maximize)


def lookahead_sync_(fast: list[torch.Tensor], slow: list[torch.Tensor], alpha: float) -> bool:
    """``slow.lerp_(fast, alpha); fast.copy_(slow)`` in one pass; False (nothing done) where it cannot."""
    ops = load()
    return ops is not None and ops.lookahead_sync_(fast, slow, alpha)
