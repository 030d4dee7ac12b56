"""Labeled tasks: readers (``FAMILY:LANG``, ``hf:DATASET`` or a folder -> :class:`TaskData`), file
formats, metrics, fine-tune-and-test."""

from .evaluate import evaluate
from .finetune import FinetuneSettings, evaluate_task, majority_baseline
from .formats import FORMATS, read_file
from .metrics import accuracy, entity_f1, entity_scores, macro_f1, token_accuracy
from .readers import FAMILIES, Family, TaskData, load_task, task_sentences, zero_shot

__all__ = [
    "evaluate", "zero_shot",
    "FAMILIES", "FORMATS", "Family", "FinetuneSettings", "TaskData", "accuracy", "entity_f1", "entity_scores",
    "evaluate_task", "load_task", "macro_f1", "majority_baseline", "read_file", "task_sentences", "token_accuracy",
]
