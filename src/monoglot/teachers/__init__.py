"""Teachers: resolve a model spec (directory, hub id, or the embedded ``e5-small``) and load it."""

from .loader import EMBEDDED, load_encoder, load_tokenizer, resolve_model

__all__ = ["EMBEDDED", "load_encoder", "load_tokenizer", "resolve_model"]
