"""The search inside one surviving family: a pattern search around its incumbent.

The learning rate half a decade down and up (up first when the incumbent was still
improving at its last epoch, or when a larger rate was tried and lost), or for an incumbent
that overfits a jump that moves its minimum to the last epoch; once bracketed, the vertex of a
parabola through the three; then the next batch size, Lookahead on or off, Nesterov on or off,
and last the rate a quarter decade either way. No step goes past a rate that already lost.
Once that neighbourhood is tried, the family goes to TPE. Like ``autoopt.engine.phases``, every
function reads finished runs and returns a decision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from autoopt.engine import phases  # phases.overfit_factor by attribute: benchmarks/regret.py ablates it
from autoopt.optimizers import Range
from autoopt.engine.param_names import LOOKAHEAD, VARIANT, param_name
from autoopt.engine.phases import Run, score
from autoopt.engine.space import SearchSpace
from autoopt.storage import record

LR_STEP = math.sqrt(10)  # half a decade
FINE_LR_STEP = 10**0.25  # a quarter decade: the step once the half-decade neighbourhood is tried
SAME_LR = 10**0.125  # learning rates closer than this factor count as the same point


def _lookahead_on(params: dict[str, Any]) -> bool:
    return bool(params.get("lookahead"))


def _same_point(a: dict[str, Any], b: dict[str, Any], family: str) -> bool:
    """Same batch size, Lookahead and SGD variant, and learning rates within ``SAME_LR``."""
    if any(a.get(k) != b.get(k) for k in ("batch_size", param_name(family, VARIANT))) or _lookahead_on(a) != _lookahead_on(b):
        return False
    lr_a, lr_b = a.get(param_name(family, "lr")), b.get(param_name(family, "lr"))
    return lr_a is None or lr_b is None or max(lr_a, lr_b) / min(lr_a, lr_b) < SAME_LR


def _clamped_lr(params: dict[str, Any], family: str, lr: float, bound: Range) -> dict[str, Any]:
    return {**params, param_name(family, "lr"): min(max(lr, bound.low), bound.high)}


def still_improving(curve: Sequence[float], maximize: bool) -> bool:
    """Whether a curve's last epoch is its best: the run wanted more steps, or larger ones."""
    return len(curve) >= 2 and min(range(len(curve)), key=lambda i: (score(curve[i], maximize), -i)) == len(curve) - 1


def neighbours(params: dict[str, Any], family: str, space: SearchSpace, *, lr_up_first: bool = False,
               lr_jump: float | None = None, fine_up_first: bool = False,
               at_edge: bool = False, vertex: float | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The points next to ``params`` in the order worth trying: the learning rate half a decade
    down and up (up first when ``lr_up_first``: the run was still improving at its last epoch;
    for a run that overfits, ``lr_jump`` times it and half a decade down, never up), the rate at
    ``vertex`` once those bracket it (``vertex_rate``), the next smaller and larger batch size
    (learning rate scaled with it, see ``batch_lr_factor``), Lookahead toggled (the rate divided
    or multiplied by its alpha), Nesterov toggled; last, the learning rate a quarter decade
    either way (``fine_up_first``: up first)."""
    out: list[dict[str, Any]] = []
    bound = space.bounds(family).get("lr")
    lr = params.get(param_name(family, "lr"))
    has_lr = isinstance(bound, Range) and lr is not None
    if has_lr and lr_jump is not None:
        out += [_clamped_lr(params, family, lr * lr_jump, bound), _clamped_lr(params, family, lr / LR_STEP, bound)]
    elif has_lr:
        steps = [_clamped_lr(params, family, lr / LR_STEP, bound), _clamped_lr(params, family, lr * LR_STEP, bound)]
        out += steps[::-1] if lr_up_first else steps
    if has_lr and vertex is not None:
        out.append(_clamped_lr(params, family, vertex, bound))
    sizes = sorted(space.batch_sizes)
    size = params.get("batch_size")
    if size in sizes:
        at = sizes.index(size)
        for other in [sizes[i] for i in (at - 1, at + 1) if 0 <= i < len(sizes)]:
            moved = {**params, "batch_size": other}
            if has_lr:
                ratio = other / size
                moved = _clamped_lr(moved, family, lr * batch_lr_factor(ratio, family, at_edge), bound)
            out.append(moved)
    if space.lookahead == "search" and "lookahead" in params:
        # Lookahead moves the slow weights alpha of the way each k steps: in the long run it
        # trains at about alpha times the rate, so the toggle carries the rate with it (on our
        # suite's grids the best Lookahead runs sit a half-decade above the best plain ones).
        if _lookahead_on(params):
            off = {k: v for k, v in params.items() if not k.startswith("lookahead")} | {"lookahead": False}
            alpha = float(params.get(param_name(LOOKAHEAD, "alpha"), 0.5))
            out.append(_clamped_lr(off, family, lr * alpha, bound) if has_lr else off)
        else:
            k = min(max(5, space.lookahead_k.low), space.lookahead_k.high)
            alpha = min(max(0.5, space.lookahead_alpha.low), space.lookahead_alpha.high)
            on = {**params, "lookahead": True, param_name(LOOKAHEAD, "k"): int(k), param_name(LOOKAHEAD, "alpha"): alpha}
            out.append(_clamped_lr(on, family, lr / alpha, bound) if has_lr else on)
    if params.get(param_name(family, VARIANT)) in ("momentum", "nesterov"):
        other = "nesterov" if params[param_name(family, VARIANT)] == "momentum" else "momentum"
        out.append({**params, param_name(family, VARIANT): other})
    if has_lr:
        fine = [_clamped_lr(params, family, lr / FINE_LR_STEP, bound), _clamped_lr(params, family, lr * FINE_LR_STEP, bound)]
        out += fine[::-1] if fine_up_first else fine
    return out


def vertex_rate(incumbent: Run, own: Sequence[Run], family: str, maximize: bool,
                blown_up: Sequence[dict[str, Any]] = ()) -> float | None:  # fmt: skip
    """Where a parabola through the incumbent and its two half-decade neighbours bottoms, in log
    learning rate, once both neighbours finished worse than it (and neither blew up, whose value
    says where the edge is, not the curve's shape): the rate is bracketed, and a knife-edge
    optimum (the best rate just under where training blows up) sits between the points, not a
    quarter decade from the incumbent. At most a quarter decade from it either way."""
    lr = incumbent.params.get(param_name(family, "lr"))
    if lr is None:
        return None
    points = []
    for factor in (1 / LR_STEP, LR_STEP):
        point = {**incumbent.params, param_name(family, "lr"): lr * factor}
        if any(_same_point(point, p, family) for p in blown_up):
            return None
        near = [r for r in own if _same_point(point, r.params, family) and math.isfinite(r.value)]
        if not near:
            return None
        best = min(near, key=lambda r: score(r.value, maximize))
        points.append((math.log10(best.params[param_name(family, "lr")]), score(best.value, maximize)))
    (x0, y0), (x2, y2) = points
    x1, y1 = math.log10(lr), score(incumbent.value, maximize)
    if not (y1 < y0 and y1 < y2):
        return None
    top = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
    bottom = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    reach = math.log10(FINE_LR_STEP)
    shift = min(max(-0.5 * top / bottom, -reach), reach)
    return 10 ** (x1 + shift)


def batch_lr_factor(ratio: float, family: str, at_edge: bool) -> float:
    """How the learning rate moves when the batch size is multiplied by ``ratio``: linearly for
    SGD, by the square root for adaptive methods (the rules on our suite's grids: the best rate
    at batch 16 is 0.53x the best at 32 for SGD, 0.73x for adaptive ones). For SGD whose rate is
    ``at_edge`` (half a decade more blew up) by the square root too: the best rate grows with the
    batch only while gradient noise limits it, not once the curvature does (McCandlish et al.
    2018, "An Empirical Model of Large-Batch Training": eps_opt(B) = eps_max / (1 + B_noise / B)).
    On the grids, SGD's best rates at that edge are 0.75x from batch 32 to 16 (geometric mean of
    13 families and Lookahead settings; 1.0x on sgd_wins), against 0.52x below it."""
    return ratio if family == "sgd" and not at_edge else math.sqrt(ratio)


def _larger_rate_tried(params: dict[str, Any], tried: Sequence[dict[str, Any]], family: str) -> bool:
    """Whether a rate at least half a decade above ``params``' is among ``tried`` at the same
    point. Given every tried point: one lost (a screen that overshot and was rerun lower), and
    the best rate often sits just below the largest stable one, so the gap between them is
    searched first. Given the points that blew up (``phases.blown_up``): ``params``' rate is at
    the edge of stability."""
    lr = params.get(param_name(family, "lr"))
    if lr is None:
        return False
    for other in tried:
        rate = other.get(param_name(family, "lr"))
        if rate is not None and rate >= lr * LR_STEP / SAME_LR and _same_point({**other, param_name(family, "lr"): lr}, params, family):
            return True
    return False


def _past_a_loser(candidate: dict[str, Any], incumbent: dict[str, Any], tried: Sequence[dict[str, Any]], family: str) -> bool:
    """Whether ``candidate`` moves only the incumbent's learning rate, past a rate tried at the
    same point that lost to the incumbent (every other tried rate did): the line search keeps
    to the bracket it has measured, as a unimodal rate would."""
    key = param_name(family, "lr")
    lr, moved = incumbent.get(key), candidate.get(key)
    if lr is None or moved is None or not _same_point({**candidate, key: lr}, incumbent, family):
        return False
    low, high = sorted((lr, moved))
    return any(low * SAME_LR <= other[key] <= high / SAME_LR and _same_point({**other, key: lr}, incumbent, family)
               for other in tried if other.get(key) is not None)  # fmt: skip


def _better_side_is_up(incumbent: Run, own: Sequence[Run], family: str, maximize: bool) -> bool:
    """Whether the incumbent's neighbour half a decade up did better than the one half a decade down."""
    lr = incumbent.params.get(param_name(family, "lr"))
    if lr is None:
        return False

    def value_at(factor: float) -> float:
        point = {**incumbent.params, param_name(family, "lr"): lr * factor}
        values = [score(r.value, maximize) for r in own if _same_point(point, r.params, family)]
        return min(values, default=math.inf)

    return value_at(LR_STEP) < value_at(1 / LR_STEP)


def next_family(survivors: Sequence[str], runs: Sequence[Run], searched: Sequence[str], maximize: bool) -> str:
    """The family to search next: the one whose last search trial just became its best (a line
    search that pays is followed); else round-robin, the family with the fewest search trials
    (``searched``: one family name per search trial so far, in order), the better one first."""
    if searched and searched[-1] in survivors:
        last = max((r for r in runs if r.phase == record.PHASE_SEARCH), key=lambda r: r.number, default=None)
        own = [r for r in runs if r.family == searched[-1]]
        if last is not None and last.family == searched[-1] and last == min(own, key=lambda r: score(r.value, maximize)):
            return last.family
    return min(survivors, key=lambda f: (searched.count(f), survivors.index(f)))


def next_in_family(family: str, runs: Sequence[Run], tried: Sequence[dict[str, Any]], space: SearchSpace,
                   maximize: bool, tolerance: float = 0.0,
                   blown_up: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:  # fmt: skip
    """The params of the family's next search trial: the first untried neighbour of its best run,
    or only the family (TPE samples the rest) once the neighbourhood is tried. ``tolerance``
    (the noise) decides whether the best run overfits; ``blown_up`` (``phases.blown_up``) whether
    its rate is at the edge of stability."""
    own = [r for r in runs if r.family == family]
    if own:
        incumbent = min(own, key=lambda r: score(r.value, maximize))
        up_first = still_improving(incumbent.curve, maximize) or _larger_rate_tried(incumbent.params, tried, family)
        jump = phases.overfit_factor(incumbent.curve, maximize, tolerance)
        fine_up = _better_side_is_up(incumbent, own, family, maximize)
        at_edge = _larger_rate_tried(incumbent.params, blown_up, family)
        vertex = vertex_rate(incumbent, own, family, maximize, blown_up)
        for candidate in neighbours(incumbent.params, family, space, lr_up_first=up_first, lr_jump=jump,
                                    fine_up_first=fine_up, at_edge=at_edge, vertex=vertex):  # fmt: skip
            if not any(_same_point(candidate, seen, family) for seen in tried) and not _past_a_loser(candidate, incumbent.params, tried, family):
                return candidate
    return {"optimizer": family}


__all__ = ["batch_lr_factor", "neighbours", "next_family", "next_in_family", "still_improving", "vertex_rate"]
