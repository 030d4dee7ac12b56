"""The training engine: one optimisation loop for distillation, teacher adaptation and fine-tuning.

The caller supplies what differs between them: a ``step`` function (draw a batch, forward, loss,
backward) and a :class:`Validation` (score the model; which score is better). The engine owns what
is common and reads top to bottom in :func:`train`: gradient clipping, the optimizer and scheduler
steps, hooks after a step (LT-SFT's mask), validation at chosen steps with keep-best and early
stopping, SIGINT/SIGTERM (a checkpoint when the caller can write one, then
:class:`~monoglot.errors.Interrupted`), periodic checkpoints, logging, wall time per phase and the
progress bar. nanoGPT-style: settings are data, the loop is one screen.

Used by :func:`monoglot.distill.distill` (and through it the adapt stage) and
:func:`monoglot.tasks.finetune.fit`.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .errors import Interrupted
from .progress import bar


@dataclass
class Keeper:
    """Where the best model so far is kept: ``save()`` stores the current weights, ``restore()``
    loads the stored ones back (:func:`in_memory`, or files for a run that checkpoints)."""

    save: Callable[[], None]
    restore: Callable[[], None]


def in_memory(model: torch.nn.Module) -> Keeper:
    """Keep the best trainable weights of ``model`` as detached clones (fine-tuning: small models,
    no resume)."""
    stored: dict[str, torch.Tensor] = {}

    def save() -> None:
        stored.clear()
        stored.update({n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad})

    return Keeper(save, lambda: model.load_state_dict(stored, strict=False))


@dataclass
class Validation:
    """When and how :func:`train` validates.

    ``run() -> (score, details)`` scores the current model (a validation loss, a dev metric);
    ``details`` (a dict of floats) is recorded in :attr:`TrainState.validations`. Validation runs
    after every ``every`` steps (0: only after the last) and always after the last step;
    ``before`` also scores the initial model, which then is the first candidate for the best.
    ``patience``: stop after this many validations without a better score; with
    ``learning_from`` only validations whose score beats it count (a model still at a baseline
    such as the majority class has not started to learn yet). ``keep``: keep the
    best model and restore it at the end (None: the last model is the result); with
    ``last_wins_ties`` the last model stays when an earlier one is only as good.
    """

    run: Callable[[], tuple[float, dict[str, float]]]
    every: int = 0
    higher_is_better: bool = False
    patience: int | None = None
    before: bool = False
    keep: Keeper | None = None
    last_wins_ties: bool = False
    learning_from: float | None = None

    def better(self, score: float, best: float | None, strict: bool = True) -> bool:
        """Better than ``best`` (None: anything is); ``strict=False`` also accepts a tie."""
        if best is None or (score == best and not strict):
            return True
        return score > best if self.higher_is_better else score < best


@dataclass
class TrainState:
    """Everything a checkpoint must hold to continue a run exactly (JSON-able): the next step,
    per-step records, validations, the best validation, wall seconds per phase."""

    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    validations: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    bad_validations: int = 0
    tokens: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Every field as a plain dict (saved in checkpoints and reports)."""
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainState":
        """The state :meth:`as_dict` saved; unknown keys (older or newer files) are ignored."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class Phases:
    """Accumulates wall seconds per phase of a step into ``seconds`` (a dict); use as
    ``with phases("teacher forward"): ...``. On a GPU each phase synchronises before and after, so
    the split is true there too."""

    def __init__(self, seconds: dict[str, float], device: torch.device | None = None):
        self.seconds = seconds
        self.sync = torch.cuda.synchronize if device is not None and device.type == "cuda" else (lambda: None)

    @contextlib.contextmanager
    def __call__(self, name: str):
        self.sync()
        t = time.perf_counter()
        try:
            yield
        finally:
            self.sync()
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t


@contextlib.contextmanager
def stop_signals():
    """Turn SIGINT/SIGTERM into a flag (``{"stop": bool, "signum": int}``) read after each step."""
    flag = {"stop": False, "signum": signal.SIGINT}

    def handler(signum, frame):
        flag["stop"], flag["signum"] = True, signum

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def train(step: Callable[[int], dict[str, Any]], optimizer: torch.optim.Optimizer, scheduler, steps: int, *,
          validation: Validation | None = None, state: TrainState | None = None,
          clip: Callable[[], Any] | None = None, after_step: Callable[[], None] | None = None,
          checkpoint: Callable[[int], Any] | None = None, checkpoint_every: int = 0,
          log: Callable[[dict[str, Any], int], None] | None = None, show: Callable[[TrainState], dict] | None = None,
          any_process: Callable[[bool], bool] = bool, description: str = "train", progress: bool = True,
          transient: bool = False, device: torch.device | None = None) -> TrainState:
    """Run optimizer steps ``state.step + 1 .. steps`` and return the final :class:`TrainState`.

    Each step: ``step(i)`` (0-based) draws its batch, computes the loss and calls backward, and
    returns a record with at least ``"loss"`` (a float; the engine adds ``"step"`` and ``"lr"``);
    then ``clip()``, the optimizer and scheduler steps, ``zero_grad``, ``after_step()``. Then
    validation when due (keep-best, early stopping), the progress bar (``show(state)`` adds
    fields; ``transient`` erases the bar when done), the stop flag (``any_process(flag)``
    combines it over processes), and a checkpoint every ``checkpoint_every`` steps
    (``checkpoint(step) -> path``; not after the last step).

    Raises:
        RuntimeError: the loss is not finite (diverged; lower the learning rate).
        Interrupted: SIGINT/SIGTERM, after the step in progress (and a checkpoint if the caller
            writes them).
    """
    st = state or TrainState()
    v = validation
    timed = Phases(st.phases, device)

    def validate() -> None:
        with timed("validation"):
            score, details = v.run()
        st.validations.append({"step": st.step, **details})
        if log is not None:
            log({f"val/{k}": x for k, x in details.items()}, st.step)
        if v.better(score, st.best["score"] if st.best else None, strict=not (v.last_wins_ties and st.step == steps)):
            st.best, st.bad_validations = {"step": st.step, "score": score, **details}, 0
            if v.keep is not None and st.step < steps:  # after the last step the model itself is the result
                v.keep.save()
        else:
            if v.learning_from is None or v.better(score, v.learning_from):
                st.bad_validations += 1
            st.stopped_early = v.patience is not None and st.bad_validations >= v.patience and st.step < steps

    if v is not None and v.before and not st.validations:
        validate()
    t_start, seconds0 = time.perf_counter(), st.seconds
    with stop_signals() as flag, bar(description, steps, enabled=progress, transient=transient) as advance:
        advance(st.step)
        while st.step < steps and not st.stopped_early:
            rec = step(st.step)
            if not math.isfinite(rec["loss"]):
                raise RuntimeError(f"{description} diverged at step {st.step + 1} (loss {rec['loss']}); lower the learning rate")
            with timed("optimizer"):
                if clip is not None:
                    clip()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                if after_step is not None:
                    after_step()
            st.step += 1
            st.seconds = seconds0 + time.perf_counter() - t_start
            rec = {"step": st.step, **rec, "lr": scheduler.get_last_lr()[0]}
            st.history.append(rec)
            if log is not None:
                log({f"train/{k}": x for k, x in rec.items() if isinstance(x, (int, float)) and k != "step"}, st.step)
            if v is not None and ((v.every and st.step % v.every == 0) or st.step == steps):
                validate()
            advance(loss=f"{rec['loss']:.4f}", **(show(st) if show else {}))
            if any_process(flag["stop"]):
                path = checkpoint(st.step) if checkpoint is not None else None
                raise Interrupted(f"{description} interrupted at step {st.step} of {steps}; "
                                  + (f"checkpoint written to {path}; continue with --resume (monoglot run: run it again)" if path else "nothing was written"),
                                  signum=flag["signum"])
            if checkpoint is not None and checkpoint_every and st.step % checkpoint_every == 0 and st.step < steps:
                checkpoint(st.step)
    if v is not None and v.keep is not None and st.best is not None and st.best["step"] != st.step:
        v.keep.restore()
    return st
