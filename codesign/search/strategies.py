"""Search strategies behind one interface: each yields candidate params for an optuna ask/tell loop.

greedy and ilp plan their candidates up front (they are enqueued in the study, so any worker can
evaluate them); random and nsga2 sample through optuna's samplers at ask time.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Callable

import numpy as np

from .space import Budget, SearchSpace, split_param, totals

if TYPE_CHECKING:
    from hw_models.cost import Estimate

CostFn = Callable[[dict], "Estimate"]  # params -> the candidate's hw_models Estimate


def lut_equivalent(cost) -> float:
    """LUT + 55 x DSP of an Estimate or of its totals (hw_models.cost.lut_equivalent)."""
    from hw_models.cost import lut_equivalent as of_totals

    return of_totals(totals(cost))


def _sens(params: dict, table: dict) -> float:
    return sum(table.get((k, v), 0.0) for k, v in params.items())


def greedy_path(space: SearchSpace, table: dict, cost: CostFn) -> list[dict]:
    """From the widest candidate, repeatedly lower the one width knob (SearchSpace.widths) with the smallest
    sensitivity increase per LUT-equivalent saved, down to the narrowest: the path traces an accuracy/cost
    front."""
    choices = {k: space.ordered(k) for k in space.widths()}  # integer cuts stay at 0: they save nothing alone
    state = space.top()
    path = [dict(state)]
    while True:
        here_cost, here_sens = lut_equivalent(cost(state)), _sens(state, table)
        best = None
        for key, opts in choices.items():
            i = opts.index(state[key])
            if i == len(opts) - 1:
                continue
            new = dict(state, **{key: opts[i + 1]})
            saved = here_cost - lut_equivalent(cost(new))
            score = (_sens(new, table) - here_sens) / max(saved, 1e-6)
            if best is None or score < best[0]:
                best = (score, new)
        if best is None:
            return path
        state = best[1]
        path.append(dict(state))


def uniform_corners(space: SearchSpace, least_bits: int = 3) -> list[dict]:
    """One candidate per weight width >= least_bits and sparsity with every layer at them (a uniform QKeras
    model, pruned uniformly as hls4ml's tutorial prunes; activations at the narrowest searched width >= the
    weights'), widest first."""
    corners = []
    acts = sorted(space.activation_bits)
    for bits in sorted((b for b in space.weight_bits if b >= least_bits), reverse=True):
        for sparsity in sorted(space.sparsity):
            act = next((a for a in acts if a >= bits), acts[-1])
            width = {"w": bits, "a": act, "s": sparsity}
            corner = dict(space.top(), **{k: width[split_param(k)[1]] for k in space.params()
                                          if split_param(k) and split_param(k)[1] in width})
            if corner not in corners:
                corners.append(corner)
    return corners


def spread(path: list[dict], n: int) -> list[dict]:
    """n candidates evenly spaced along a greedy path (its ends included when n >= 2)."""
    if n <= 0 or not path:
        return []
    idx = np.unique(np.round(np.linspace(0, len(path) - 1, min(n, len(path)))).astype(int))
    return [path[i] for i in idx]


def pick_feasible(path: list[dict], budget: Budget, cost: CostFn, n: int) -> list[dict]:
    """The first n candidates of the path that fit the budget (the least-lowered ones come first)."""
    return [p for p in path if not budget.violations(cost(p))][:n]


def ilp_plans(space: SearchSpace, table: dict, cost: CostFn, budget: Budget, n: int) -> list[dict]:
    """Minimise summed sensitivity s.t. linearised per-layer costs fit the budget (scipy milp / HiGHS),
    for a ladder of budget levels between the narrowest design and the budget: up to n distinct plans."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    layers = sorted({split_param(k)[0] for k in space.params() if split_param(k)})
    top = space.top()
    reference = cost(top)
    base = totals(reference)
    options, rows = [], []
    for name in layers:
        keys = [k for k in top if split_param(k) and split_param(k)[0] == name]
        for combo in itertools.product(*(space.ordered(k) for k in keys)):
            change = dict(zip(keys, combo))
            total = totals(cost(dict(top, **change)))
            options.append((name, change))
            rows.append((_sens(change, table), {r: total[r] - base[r] for r in budget_resources(budget)}))
    n_var = len(options)
    c = np.array([s for s, _ in rows]) + 1e-9 * np.arange(n_var)  # tiny tie-break keeps plans deterministic
    one_each = np.array([[1.0 if options[j][0] == name else 0.0 for j in range(n_var)] for name in layers])
    limits = budget.estimate_limits(reference) or {"lut": base["lut"]}
    bottom = totals(cost(space.bottom()))
    plans = []
    for level in np.linspace(1.0, 0.0, max(n, 2)):
        A, ub = [one_each], [np.ones(len(layers))]
        lb = [np.ones(len(layers))]
        for r, limit in limits.items():
            target = bottom[r] + level * (limit - bottom[r])
            A.append(np.array([[d.get(r, 0.0) for _, d in rows]]))
            ub.append(np.array([target - base[r]]))
            lb.append(np.array([-np.inf]))
        res = milp(c, constraints=LinearConstraint(np.vstack(A), np.concatenate(lb), np.concatenate(ub)),
                   integrality=np.ones(n_var), bounds=Bounds(0, 1))
        if res.x is None:
            continue
        plan = dict(top)
        for j in np.flatnonzero(res.x > 0.5):
            plan.update(options[j][1])
        if plan not in plans:
            plans.append(plan)
    return plans[:n]


def budget_resources(budget: Budget) -> list[str]:
    return list(budget.limits()) or ["lut"]


def population_for(trials: int) -> int:
    """NSGA-II population: a quarter of the trial budget, 4 to 8, so that at least 4 generations learn
    (population 8 with 6-15 trials left every candidate a random draw)."""
    return int(min(8, max(4, trials // 4)))


def sampler(strategy: str, seed: int, population: int = 8):
    import optuna

    if strategy == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)
