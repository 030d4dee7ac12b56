"""The training engine (monoglot.training): keep-best, early stopping, ties, divergence, signals,
checkpoints, on a one-parameter model whose weight after each step is known exactly."""

import os
import signal

import pytest
import torch

from monoglot.errors import Interrupted
from monoglot.training import TrainState, Validation, in_memory, train


def setup(lr: float = 1.0):
    """w starts at 0; each step's loss is -w (gradient -1), so plain SGD at lr 1 adds 1 per step:
    after step k, w == k."""
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0)

    def step(i):
        loss = -model.weight.sum()
        loss.backward()
        return {"loss": loss.item()}

    return model, opt, sched, step


def scripted(model, scores: dict[int, float]):
    """A validation whose score depends on the current weight (== the step): scores[w]."""
    return lambda: (scores[int(model.weight.item())], {"dev": scores[int(model.weight.item())]})


def test_keep_best_restores_the_best_step_and_records_every_validation():
    model, opt, sched, step = setup()
    scores = {1: 0.5, 2: 0.9, 3: 0.7, 4: 0.6}
    st = train(step, opt, sched, 4, progress=False,
               validation=Validation(scripted(model, scores), every=1, higher_is_better=True, keep=in_memory(model)))
    assert st.step == 4 and [v["step"] for v in st.validations] == [1, 2, 3, 4]
    assert st.best["step"] == 2 and st.best["dev"] == 0.9
    assert model.weight.item() == 2.0  # restored: the model of step 2, not of step 4
    assert [h["step"] for h in st.history] == [1, 2, 3, 4] and st.history[0]["lr"] == 1.0


def test_early_stopping_after_patience_validations_without_improvement():
    model, opt, sched, step = setup()
    scores = {1: 1.0, 2: 0.5, 3: 0.6, 4: 0.7, 5: 0.1, 6: 0.0}  # lower is better: best at 2, then 2 worse
    st = train(step, opt, sched, 6, progress=False,
               validation=Validation(scripted(model, scores), every=1, patience=2, keep=in_memory(model)))
    assert st.stopped_early and st.step == 4  # steps 5 and 6 never ran
    assert st.best["step"] == 2 and model.weight.item() == 2.0


def test_ties_keep_the_earlier_model_unless_the_last_wins():
    for last_wins, expected in ((False, 1.0), (True, 3.0)):
        model, opt, sched, step = setup()
        scores = {1: 0.5, 2: 0.4, 3: 0.5}
        st = train(step, opt, sched, 3, progress=False,
                   validation=Validation(scripted(model, scores), every=1, higher_is_better=True,
                                         keep=in_memory(model), last_wins_ties=last_wins))
        assert model.weight.item() == expected and st.best["step"] == expected


def test_validation_before_training_makes_the_initial_model_a_candidate():
    model, opt, sched, step = setup()
    scores = {0: 0.1, 1: 0.3, 2: 0.2}  # lower is better: nothing beats the initial model
    st = train(step, opt, sched, 2, progress=False,
               validation=Validation(scripted(model, scores), every=1, before=True, keep=in_memory(model)))
    assert [v["step"] for v in st.validations] == [0, 1, 2] and st.best["step"] == 0
    assert model.weight.item() == 0.0


def test_a_resumed_state_continues_at_its_step():
    model, opt, sched, step = setup()
    st = TrainState.from_dict({**TrainState(step=3).as_dict(), "unknown_key": 1})
    st = train(step, opt, sched, 5, state=st, progress=False)
    assert st.step == 5 and [h["step"] for h in st.history] == [4, 5] and model.weight.item() == 2.0


def test_a_diverged_loss_stops_with_a_clear_error():
    model, opt, sched, _ = setup()
    with pytest.raises(RuntimeError, match="diverged at step 1 .*lower the learning rate"):
        train(lambda i: {"loss": float("nan")}, opt, sched, 3, progress=False)


def test_sigint_writes_a_checkpoint_after_the_step_and_raises_interrupted():
    model, opt, sched, step = setup()
    written = []
    before = signal.getsignal(signal.SIGTERM)

    def step_then_signal(i):
        out = step(i)
        if i == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives mid-step: the step still completes
        return out

    with pytest.raises(Interrupted) as e:
        train(step_then_signal, opt, sched, 10, progress=False, checkpoint=lambda s: written.append(s) or f"ck-{s}",
              checkpoint_every=100)
    assert written == [2] and e.value.signum == signal.SIGTERM and "checkpoint written to ck-2" in str(e.value)
    assert model.weight.item() == 2.0
    assert signal.getsignal(signal.SIGTERM) == before  # the engine's handler is gone again
    with pytest.raises(Interrupted, match="nothing was written"):
        model2, opt2, sched2, step2 = setup()
        train(lambda i: (os.kill(os.getpid(), signal.SIGINT), step2(i))[1], opt2, sched2, 5, progress=False)


def test_periodic_checkpoints_skip_the_last_step():
    model, opt, sched, step = setup()
    written = []
    train(step, opt, sched, 6, progress=False, checkpoint=written.append, checkpoint_every=2)
    assert written == [2, 4]


def test_patience_counts_only_validations_above_the_baseline():
    """A model at the majority-class score has not started to learn: early stopping waits for it."""
    model, opt, sched, step = setup()
    scores = {1: 0.25, 2: 0.25, 3: 0.25, 4: 0.25, 5: 0.40, 6: 0.30, 7: 0.30, 8: 0.9}
    st = train(step, opt, sched, 8, progress=False,
               validation=Validation(scripted(model, scores), every=1, higher_is_better=True, patience=2,
                                     keep=in_memory(model), learning_from=0.25))
    assert st.stopped_early and st.step == 7 and st.best["step"] == 5 and model.weight.item() == 5.0
    model, opt, sched, step = setup()  # without the baseline, the plateau stops the run at step 3
    st = train(step, opt, sched, 8, progress=False,
               validation=Validation(scripted(model, scores), every=1, higher_is_better=True, patience=2))
    assert st.stopped_early and st.step == 3
