"""Vocabulary trimming: count pieces on target text, select, rewrite tokenizer and embeddings.

Trimming is exact (DESIGN.md invariant 2): on text whose original segmentation uses only kept
pieces, the trimmed tokenizer gives the same pieces and the model bit-identical hidden states.
"""

from .settings import VocabPolicy

# Everything else loads on first use (PEP 562), so that settings (and `monoglot --help`) do not import torch.
_LAZY = {"count_pieces": "count", "select_vocab": "select", "trim_tokenizer_json": "surgery", "trim_model": "trim",
         "trim_to_corpus": "trim"}

__all__ = ['VocabPolicy', *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
