"""`descent`: one chain of candidates from the trained base model down to the narrowest design, each step a
trial fine-tuned from the weights of the step before.

At each step every knob (a layer's weight or activation bits, its sparsity) is lowered by one notch in
turn, with the current fine-tuned weights and no training (validation loss, inference only), and costed by
the model that prices the built design; the step taken is the one with the least loss increase per
LUT-equivalent saved (the greedy rule of HAWQ-v3 / iterative pruning, Han et al. 2015, re-measured at every
step instead of once on the base model; among steps that cost no loss, the one that saves most). Its weights
carry all earlier fine-tuning forward, so the chain spends every epoch on one front, as HGQ's beta ramp does
in one training. A step that raises the validation loss by at most FREE_LOSS of the current loss is taken
without fine-tuning (a candidate scored as it is, no epochs spent), so the epochs go where accuracy is lost.
Without a floor each fine-tuned step gets the epochs left (trials x finetune_epochs, less those spent) shared
over the notches left to the narrowest design, at least one, so that the chain reaches it.

With a floor (`search.floor`: the validation accuracy, or for regression the MSE, the user needs) the chain
does not walk on below it: a step that falls below the floor is a finished candidate, and the next step
starts again from the newest step that keeps the floor, lowering a knob not yet tried from there (then the
one before it, and so on). So the epochs the narrow end would have taken go to other candidates near the
floor, where the user's designs are; and as the chain need not reach the narrowest design, each fine-tuned
step gets finetune_epochs (the design's own setting) instead of a share sized to reach it (one epoch where
the space is deep: too few for a step that loses accuracy to win it back). A floor also frees lossy steps
while the chain is far above it, in proportion to the epochs it has left: with n fine-tuned steps left in
the budget (trials x finetune_epochs, less those spent, over finetune_epochs), a step that keeps at least
1 - 1/n of the margin between the floor and the score of the last fine-tuned step before it is taken
without fine-tuning too. So the chain walks down in runs of free steps, each run ended by one fine-tuned
step, and reaches the floor within its epochs (with every lossy step trained, a deep space ran out of
epochs 4% above its floor); while many steps are left, a step that loses much is trained as before (a fixed
band of 3/4 of the margin let a chain 5 points above its floor walk past the designs near its top untrained).
Targets above the floor (`search.targets`: other accuracies the user wants designs at) split the margin: a
free step keeps its share of the margin above the highest target below the last trained score, so it never
crosses a target; the step that does is fine-tuned and may stay above it.
Where the space cuts integer bits (`search.space.integer_cuts`), a width is lowered in two ways, each probed:
by its least significant bit (the range kept) or by its most significant one (the range halved, values
beyond it saturating; the same cost): ranges chosen once from the data at the base model's width (the 99.99th
percentile of the activations) are too wide for the narrow widths the chain reaches.
"""

from __future__ import annotations

import json

from .candidate import base_params, candidate_cost
from .context import Context
from .evaluate import candidate_metrics, pruned_model
from .results import spent_epochs, used
from .space import CUT_OF, CUTS, split_param
from .strategies import lut_equivalent

FREE_LOSS = 0.02  # a step raising the validation loss by at most this fraction of it is not fine-tuned


def _steps(study) -> list:
    """The chain's finished steps (COMPLETE trials), oldest first."""
    from optuna.trial import TrialState

    return sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number)


def floor_score(ctx: Context) -> float | None:
    """The design's floor as a search score (higher is better: minus the MSE for regression); None without one."""
    task, floor = ctx.design.task, ctx.settings.floor
    return None if floor is None else task.score({task.metric: floor})


def band_floor(ctx: Context, trained: float) -> float | None:
    """The score whose margin a free step keeps its share of: the highest of the floor and the targets
    (`search.targets`) at or below `trained`, so that no step crosses a target untrained; None without a floor."""
    floor = floor_score(ctx)
    if floor is None:
        return None
    task = ctx.design.task
    marks = [task.score({task.metric: t}) for t in ctx.settings.targets or ()]
    return max([floor] + [m for m in marks if m <= trained])


def keeps_floor(ctx: Context, trial) -> bool:
    """Whether a finished step keeps the design's floor (always, without one)."""
    floor = floor_score(ctx)
    return floor is None or trial.values[0] >= floor


def _starts(ctx: Context, done: list) -> list[tuple]:
    """Where the next step may start, in order: (trial, knobs already tried from it), given the finished steps
    `done` (oldest first). Without a floor the newest step; with one, the steps that keep the floor, newest first
    (an older one once the newer have no knob left)."""
    if ctx.settings.floor is None:
        return [(done[-1], set())]
    tried = {}
    for t in done:
        if "parent" in t.user_attrs and "knob" in t.user_attrs:
            tried.setdefault(t.user_attrs["parent"], set()).add(t.user_attrs["knob"])
    return [(t, tried.get(t.number, set())) for t in reversed(done) if keeps_floor(ctx, t)]


def _probe(ctx: Context, params: dict, weights) -> tuple[float, float, float]:
    """(validation score and loss on the given weights, pruned at once, no training; LUT-equivalent). The cost
    is that of the base model's weights at `params`: each (layer, bits, sparsity) is solved once per search
    (the cost model's cache), not once per step, and a step's saving is what the knob saves, not training
    noise."""
    import tensorflow as tf

    tf.keras.backend.clear_session()
    score, loss = candidate_metrics(ctx, params, pruned_model(ctx, params, weights))
    return score, loss, lut_equivalent(candidate_cost(ctx, params))


def free(ctx: Context, here: tuple[float, float], step: tuple[float, float], trained: float,
         left: float) -> bool:
    """Whether a step from (score, loss) `here` to `step` (probed, untrained) is taken without fine-tuning: it
    crosses no target (`search.targets`) that `trained`, the score of the last fine-tuned step on the way to
    `here`, keeps, and it raises the loss by at most FREE_LOSS of it, or, with a floor, keeps 1 - 1/`left` of
    the margin between the floor (or the highest target below `trained`: `band_floor`) and `trained`. `left`:
    the fine-tuned steps left (`steps_left`); n steps left may each lose 1/n of the margin; with one or none
    left, any step keeping the floor is free."""
    floor = band_floor(ctx, trained)
    if floor is not None and floor > floor_score(ctx) and step[0] < floor:
        return False  # it would cross a target untrained
    if step[1] - here[1] <= FREE_LOSS * here[1]:
        return True
    keep = 1 - 1 / max(1.0, left)
    return floor is not None and trained > floor and step[0] - floor >= keep * (trained - floor)


def steps_left(ctx: Context, study) -> float:
    """Fine-tuned steps of finetune_epochs the epoch budget (trials x finetune_epochs) still pays for."""
    return ctx.settings.trials - used(ctx, study)


def _trained_score(study, trial) -> float:
    """The validation score of the newest step on the chain to `trial` (itself included) that was trained: the
    base model or a fine-tuned step, not a free one."""
    steps = {t.number: t for t in study.get_trials(deepcopy=False)}
    while trial.user_attrs.get("free") and "parent" in trial.user_attrs:
        trial = steps[trial.user_attrs["parent"]]
    return trial.values[0]


def step_epochs(ctx: Context, study, state: dict) -> int:
    """A fine-tuned step's epochs: finetune_epochs with a floor (the chain stops near it), else the epochs left
    shared over this step (to `state`) and the notches left below it (at least 1)."""
    if ctx.settings.floor is not None:
        return ctx.settings.finetune_epochs
    left = ctx.settings.trials * ctx.settings.finetune_epochs - spent_epochs(study)
    notches = sum(len(ctx.space.ordered(k)) - 1 - ctx.space.ordered(k).index(state[k])
                  for k in ctx.space.widths())
    return max(1, round(left / (notches + 1)))  # this step and every one after it


def next_step(ctx: Context, study, log=print) -> dict | None:
    """Enqueue the chain's next candidate (params, and the trial whose weights it starts from); None at the
    bottom of the space. Steps the budget rejects are walked through without training (their weights stay
    the last trained ones) until one fits."""
    done = _steps(study)
    if not done:  # the chain starts from the base model (run.add_base), else the space's top
        state = base_params(ctx) or ctx.space.top()
        if not ctx.budget.violations(candidate_cost(ctx, state)):
            study.enqueue_trial(state)
            return state
        return _lower(ctx, study, state, None, None, set(), log)
    starts = _starts(ctx, done)
    if not starts:
        log(f"- descent: no step keeps the floor (validation {ctx.design.task.metric} "
            f"{'>=' if ctx.design.task.higher_is_better else '<='} {ctx.settings.floor:g}); the chain stops")
        return None
    seen = {t.user_attrs.get("params_json") for t in study.get_trials(deepcopy=False)}
    for start, tried in starts:
        state = json.loads(start.user_attrs.get("params_json", json.dumps(start.params)))
        weights = ctx.folder / "trials" / f"trial_{start.number}.weights.h5"
        step = _lower(ctx, study, state, weights, start.number, tried, log, seen, _trained_score(study, start))
        if step is not None:
            if start.number != done[-1].number:
                log(f"- descent: on from trial {start.number}, the newest step that keeps the floor with a knob "
                    "left to lower")
            return step
    return None


def _options(ctx: Context, state: dict, tried: set) -> list[tuple[str, dict]]:
    """(knob, candidate) one notch below `state` for each knob not in `tried`: a width one notch narrower with
    the integer bits kept (an LSB dropped), and, where the space cuts integer bits (`integer_cuts`), the same
    width with one more integer bit cut (an MSB dropped: the range halves, values beyond it saturate), while
    the layer keeps an integer bit to cut; that option's knob is the cut's."""
    out = []
    for key in (k for k in ctx.space.widths() if k not in tried):
        order = ctx.space.ordered(key)
        i = order.index(state[key])
        if i + 1 == len(order):
            continue
        option = dict(state, **{key: order[i + 1]})
        out.append((key, option))
        layer, knob = split_param(key) or (None, None)  # input_bits: no cut rides with it
        cut = f"{layer}.{CUT_OF[knob]}" if knob in CUT_OF else None
        if cut in state and cut not in tried:
            cuts = ctx.space.ordered(cut)
            j = cuts.index(state[cut])
            if j + 1 < len(cuts) and getattr(ctx.design.quant_for(layer), CUTS[CUT_OF[knob]]) >= cuts[j + 1]:
                out.append((cut, dict(option, **{cut: cuts[j + 1]})))
    return out


def _lower(ctx: Context, study, state: dict, weights, parent: int | None, tried: set, log,
           seen: frozenset = frozenset(), trained: float | None = None) -> dict | None:
    """Enqueue the best one-notch step from `state` (knobs in `tried` left out, and steps to a candidate already
    in the study: `seen`, params as JSON), walking on through steps the budget rejects; None when no knob can be
    lowered. `trained`: the score of the last fine-tuned step on the way to `state` (`free`); None: the score
    of `state` itself."""
    while True:
        here_score, here_loss, here_cost = _probe(ctx, state, weights)
        trained = here_score if trained is None else trained
        best = None
        for key, option in _options(ctx, state, tried):
            if json.dumps(option, sort_keys=True) in seen:
                continue
            score, loss, cost = _probe(ctx, option, weights)
            saved = max(here_cost - cost, 1e-6)
            rank = (max(loss - here_loss, 0.0) / saved, -saved)  # no loss lost: the largest saving first
            if best is None or rank < best[0]:
                best = (rank, option, key, (score, loss))
        if best is None:
            return None
        _, state, key, probed = best
        tried = set()  # a walk through over-budget steps: every knob again from the next state
        if not ctx.budget.violations(candidate_cost(ctx, state)):
            untrained = free(ctx, (here_score, here_loss), probed, trained, steps_left(ctx, study))
            study.enqueue_trial(state, user_attrs=({} if parent is None else {"parent": parent, "knob": key})
                                | ({"free": True} if untrained else {"step_epochs": step_epochs(ctx, study, state)}))
            return state
        log(f"- descent: {key} -> {state[key]} still over the budget; lowering on")
