"""Labeled tasks: readers (``FAMILY:LANG``, ``hf:DATASET`` or a folder -> :class:`TaskData`), file
formats, metrics, fine-tune-and-test, probes."""

from .settings import FinetuneSettings

# Everything else loads on first use (PEP 562), so that settings (and `monoglot --help`) do not import torch.
_LAZY = {"evaluate": "verdict", "evaluate_task": "finetune", "majority_baseline": "finetune", "FORMATS": "formats",
         "read_file": "formats", **{n: "metrics" for n in ("accuracy", "entity_f1", "entity_scores", "macro_f1", "token_accuracy")},
         **{n: "readers" for n in ("FAMILIES", "Family", "TaskData", "load_task", "task_sentences", "zero_shot")}}

__all__ = ['FinetuneSettings', *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
