"""Labeled tasks: readers (``FAMILY:LANG`` -> :class:`TaskData`), metrics, fine-tune-and-test."""

from .finetune import FinetuneSettings, evaluate_task, majority_baseline
from .metrics import accuracy, macro_f1, token_accuracy
from .readers import FAMILIES, Family, TaskData, load_task, task_sentences

__all__ = [
    "FAMILIES", "Family", "FinetuneSettings", "TaskData", "accuracy", "evaluate_task", "load_task",
    "macro_f1", "majority_baseline", "task_sentences", "token_accuracy",
]
