"""Early stopping on dev (``FinetuneSettings.patience``), used by the full-budget benchmark."""

from monoglot.tasks import FinetuneSettings, evaluate_task
from monoglot.tasks.readers import TaskData


def _task():
    words = ["habari", "rafiki", "mpira", "shule"]
    train = [(f"{w} {words[(i + 1) % 4]}", "ab"[i % 2]) for i, w in enumerate(words * 4)]
    return TaskData(name="toy", kind="sequence", labels=["a", "b"], splits={"train": train, "dev": train, "test": train})


def test_patience_waits_while_dev_is_at_the_majority_class_tiny_random_bert(tiny_bert):
    """A learning rate of 1e-12 leaves the model as it is: it predicts one class, so its dev macro-F1
    stays at the majority class's (F1 2/3 for "a", 0 for "b": 1/3). Such a model has not started to
    learn, so patience does not count those epochs and every epoch runs (on AfriSenti a real
    student predicts the majority class for 4 epochs before it learns)."""
    from monoglot.tasks.finetune import majority_score

    assert majority_score(_task(), "dev") == 1 / 3
    s = FinetuneSettings(epochs=6, lr=1e-12, batch_size=8, max_length=16, patience=2)
    res = evaluate_task(tiny_bert, _task(), s, progress=False)
    assert res["dev_curve"] == [1 / 3] * 6 and res["epochs_run"] == 6 and res["best_epoch"] == 1
    assert res["threads"] == __import__("torch").get_num_threads()  # recorded: CPU scores depend on it
