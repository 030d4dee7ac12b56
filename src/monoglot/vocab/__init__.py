"""Vocabulary trimming: count pieces on target text, select, rewrite tokenizer and embeddings.

Trimming is exact (DESIGN.md invariant 2): on text whose original segmentation uses only kept
pieces, the trimmed tokenizer gives the same pieces and the model bit-identical hidden states.
"""

from .count import count_pieces
from .select import VocabPolicy, select_vocab
from .surgery import trim_tokenizer_json
from .trim import trim_model, trim_to_corpus

__all__ = ["count_pieces", "VocabPolicy", "select_vocab", "trim_tokenizer_json", "trim_model", "trim_to_corpus"]
