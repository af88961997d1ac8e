"""The optuna study: storage, resume, the ask/evaluate/tell worker loop shared by `search` and `worker`."""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

from ..errors import CodesignError
from .candidate import candidate_cost
from .context import Context
from .space import describe
from .evaluate import evaluate
from .results import used
from .strategies import lut_equivalent, population_for, sampler

DIRECTIONS = ["maximize", "minimize", "minimize"]  # validation score (tasks.py), LUT + 55 DSP, latency cycles
MAX_REJECTS = 50  # consecutive budget rejections before a sampling worker gives up
# A running trial records a heartbeat every HEARTBEAT_S; one silent for GRACE_S belongs to a dead worker and
# is retried (optuna RDBStorage heartbeats). Live workers' trials on a shared database are left alone.
HEARTBEAT_S = int(os.environ.get("CODESIGN_HEARTBEAT_S", "10"))
GRACE_S = int(os.environ.get("CODESIGN_GRACE_S", "60"))


def retry_stale(study, trial) -> None:
    """Heartbeat-stale trial (its worker died): run its candidate again, marked as a retry."""
    kept = {k: trial.user_attrs[k] for k in ("base", "parent", "free", "step_epochs") if k in trial.user_attrs}
    study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number, **kept})


def storage_for(url: str | None, folder: Path):
    """Default: an SQLite file in the report folder. 'journal:PATH' uses optuna's journal file storage."""
    import optuna

    if url is None:
        url = f"sqlite:///{(folder / 'study.db').resolve()}"
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        path = Path(url[len("journal:"):])
        if not path.parent.is_dir():
            raise CodesignError(f"--storage {url}: folder {path.parent} does not exist")
        try:
            return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
        except OSError as exc:
            raise CodesignError(f"--storage {url}: cannot open the journal file ({exc.strerror})") from None
    heartbeat = {"heartbeat_interval": HEARTBEAT_S, "grace_period": GRACE_S,
                 "heartbeat_stale_trial_callback": retry_stale}
    if url.startswith("sqlite"):
        heartbeat["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    with warnings.catch_warnings():
        # heartbeat arguments are flagged "experimental" (since optuna 2.9)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return optuna.storages.RDBStorage(url, **heartbeat)
        except ImportError:
            raise CodesignError(f"--storage {url}: no database driver for it; for PostgreSQL: "
                                "pip install 'codesign[postgres]' (psycopg)") from None
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises many types for a bad URL or server
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CodesignError(f"--storage {url}: cannot open the study storage ({first})") from None


def study_name(ctx: Context) -> str:
    return f"{ctx.design.name}-{ctx.settings.algorithm}"


def open_study(ctx: Context, storage_url: str | None, create: bool):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = storage_for(storage_url, ctx.folder)
    name = study_name(ctx)
    if not create:
        try:
            return optuna.load_study(study_name=name, storage=storage,
                                     sampler=sampler(ctx.settings.algorithm, ctx.settings.seed + os.getpid(),
                                                     population_for(ctx.settings.trials)))
        except KeyError:
            raise CodesignError(f"no study {name!r} in the storage; start it with `codesign search`") from None
    return optuna.create_study(study_name=name, storage=storage, directions=DIRECTIONS, load_if_exists=True,
                               sampler=sampler(ctx.settings.algorithm, ctx.settings.seed,
                                               population_for(ctx.settings.trials)))


def recover_interrupted(study) -> int:
    """Trials of dead workers are failed and their candidates enqueued again (none lost); returns how many.
    Database storages: only trials whose heartbeat stopped (other machines' running trials stay). A journal
    file has no heartbeats: every RUNNING trial is taken as interrupted (one machine only)."""
    import optuna
    from optuna.storages._heartbeat import is_heartbeat_enabled
    from optuna.trial import TrialState

    before = waiting(study)
    if is_heartbeat_enabled(study._storage):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fail_stale_trials is marked experimental
            optuna.storages.fail_stale_trials(study)
        return waiting(study) - before
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in stale:
        study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        retry_stale(study, t)
    return len(stale)


def distributions(ctx: Context) -> dict:
    from optuna.distributions import CategoricalDistribution

    return {k: CategoricalDistribution(list(v)) for k, v in ctx.space.params().items()}


def waiting(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def rungs_of(trial) -> list[int] | None:
    """A trial's training: none for the base model and a descent's free step, a descent step's own epochs,
    else the search's rungs (None)."""
    if trial.user_attrs.get("base") or trial.user_attrs.get("free"):
        return [0]
    return [trial.user_attrs["step_epochs"]] if "step_epochs" in trial.user_attrs else None


def parent_weights(ctx: Context, trial):
    """The weights a trial starts from: its parent trial's (a descent step), else None (the base model's)."""
    parent = trial.user_attrs.get("parent")
    return None if parent is None else ctx.folder / "trials" / f"trial_{parent}.weights.h5"


def promote(ctx: Context, study, trial, rung: int, score: float) -> bool:
    """Successive halving across cost (asynchronous, as ASHA: Li et al. 2020): a trial scored at a rung trains
    on when it is among the best 1/eta of the trials scored at that rung that cost no more than it (by the
    cost model before training); the cheapest so far always does."""
    key = f"rung_{rung}"
    trial.set_user_attr(key, score)
    cost = trial.user_attrs["planned_lut_equivalent"]
    cheaper = [t.user_attrs[key] for t in study.get_trials(deepcopy=False)
               if t.number != trial.number and key in t.user_attrs and t.user_attrs["planned_lut_equivalent"] <= cost]
    better = sum(s > score for s in cheaper)
    return better < max(1.0, (len(cheaper) + 1) / ctx.settings.eta)


def work(ctx: Context, study, n_trials: int, progress=None, log=print) -> int:
    """Ask, reject by the cost model or fine-tune and score, tell; until the study holds n_trials
    completed trials (planned strategies: until their plan is used up). Returns trials evaluated here."""
    from optuna.storages._heartbeat import get_heartbeat_thread
    from optuna.trial import TrialState

    dists = distributions(ctx)
    planned = ctx.settings.algorithm in ("greedy", "ilp", "descent")
    weights_dir = ctx.folder / "trials"
    weights_dir.mkdir(exist_ok=True)
    task = progress.add_task(f"trials ({ctx.settings.algorithm})", total=n_trials,
                             completed=used(ctx, study)) if progress else None
    done_here, rejects = 0, 0
    if 0 < used(ctx, study) < n_trials:
        log(f"- resuming: {used(ctx, study):g} of {n_trials} trials done")
    while used(ctx, study) < n_trials and rejects < MAX_REJECTS:
        if ctx.settings.algorithm == "descent" and waiting(study) == 0:
            from .descent import next_step

            next_step(ctx, study, log)
        if planned and waiting(study) == 0:
            break
        recover_interrupted(study)  # a worker elsewhere may have died since
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optuna warns that heartbeats are meant for Study.optimize
            trial = study.ask(dists)
        params = trial.params
        est = candidate_cost(ctx, params)
        total = est.total
        trial.set_user_attr("params_json", json.dumps(params, sort_keys=True))
        trial.set_user_attr("estimate", {k: round(v, 1) for k, v in total.items()})
        trial.set_user_attr("lut_equivalent", round(lut_equivalent(total), 1))
        trial.set_user_attr("planned_lut_equivalent", round(lut_equivalent(total), 1))
        trial.set_user_attr("worker", os.getpid())
        over = ctx.budget.violations(est)
        if over:
            trial.set_user_attr("rejected", {k: [round(a, 1), round(b, 1)] for k, (a, b) in over.items()})
            study.tell(trial, state=TrialState.PRUNED)
            log(f"- trial {trial.number} {describe(params)}: rejected by the budget before training "
                f"({', '.join(f'{k} {a:,.0f} > {b:,.0f}' for k, (a, b) in over.items())})")
            rejects += 1
            continue
        rejects = 0
        start = time.perf_counter()
        try:
            with get_heartbeat_thread(trial._trial_id, study._storage):  # as Study.optimize does (_optimize.py)
                metrics = evaluate(ctx, params, seed=ctx.settings.seed + trial.number,
                                   weights_path=weights_dir / f"trial_{trial.number}.weights.h5",
                                   rungs=rungs_of(trial),
                                   promote=lambda i, score: promote(ctx, study, trial, i, score),
                                   start_from=parent_weights(ctx, trial))
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (cli.main): failed and enqueued again, so a resume runs it
            study.tell(trial, state=TrialState.FAIL)
            retry_stale(study, trial)
            raise
        # costed again with its fine-tuned weights (zero / power-of-two counts change in training)
        est = candidate_cost(ctx, params, metrics["kernels"])
        total = est.total
        trial.set_user_attr("estimate", {k: round(v, 1) for k, v in total.items()})
        trial.set_user_attr("lut_equivalent", round(lut_equivalent(total), 1))
        trial.set_user_attr("within_budget", not ctx.budget.violations(est))
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 2))
        trial.set_user_attr("val_loss", metrics["val_loss"])
        trial.set_user_attr("epochs", metrics["epochs"])
        study.tell(trial, [metrics["val_score"], lut_equivalent(total), total["latency_cycles"]])
        log(f"- trial {trial.number} {describe(params)}: validation {ctx.design.task.metric} "
            f"{ctx.design.task.shown(metrics['val_score']):.4g}, LUT + 55 DSP {lut_equivalent(total):,.0f}, "
            f"latency {total['latency_cycles']:.0f} cycles ({time.perf_counter() - start:.0f} s"
            + (f", {metrics['epochs']} of {ctx.settings.finetune_epochs} epochs" if ctx.settings.halving else
               f", {metrics['epochs']} epochs" if ctx.settings.algorithm == "descent" else "")
            + ")")
        done_here += 1
        if progress:
            progress.update(task, completed=used(ctx, study),
                            description=f"trials ({ctx.settings.algorithm}) {ctx.design.task.metric}="
                                        f"{ctx.design.task.shown(metrics['val_score']):.3g}")
    return done_here
