"""Early stopping on dev (``FinetuneSettings.patience``), used by the full-budget benchmark."""

from monoglot.tasks import FinetuneSettings, evaluate_task
from monoglot.tasks.readers import TaskData


def _task():
    words = ["habari", "rafiki", "mpira", "shule"]
    train = [(f"{w} {words[(i + 1) % 4]}", "ab"[i % 2]) for i, w in enumerate(words * 4)]
    return TaskData(name="toy", kind="sequence", labels=["a", "b"], splits={"train": train, "dev": train, "test": train})


def test_patience_stops_when_dev_stops_improving_tiny_random_bert(tiny_bert):
    # a learning rate of 1e-12 leaves the dev score unchanged: no epoch after the first is better
    s = FinetuneSettings(epochs=6, lr=1e-12, batch_size=8, max_length=16, patience=2)
    res = evaluate_task(tiny_bert, _task(), s, progress=False)
    assert res["best_epoch"] == 1 and res["epochs_run"] == 3
    res = evaluate_task(tiny_bert, _task(), s.model_copy(update={"patience": None}), progress=False)
    assert res["epochs_run"] == 6
