"""sentence-transformers files for a model directory, so that ``SentenceTransformer(dir)`` loads it.

A directory that monoglot writes from an embedding teacher (one with prompts, see
:func:`monoglot.embeddings.model_prompts`) gets, beside its Hugging Face files:

- ``modules.json``: Transformer (this directory) -> Pooling (``1_Pooling``) -> Normalize (``2_Normalize``);
- ``sentence_bert_config.json``: ``max_seq_length`` (512, or fewer if the position table is smaller);
- ``1_Pooling/config.json``: mean pooling over all tokens, the prompt's included;
- ``config_sentence_transformers.json``: the teacher's prompts (e5: ``"query: "``, ``"passage: "``)
  and cosine similarity.

That is exactly monoglot's own embedding (:mod:`monoglot.embeddings`: prompt, mean pooling, L2
normalisation), so ``SentenceTransformer(dir).encode(texts, prompt_name="query")`` equals
``monoglot.embeddings.encode_dir(dir, texts)`` (tested). The files use the module names of
sentence-transformers 2.x (``sentence_transformers.models.*``), which every later version reads,
as the hub's multilingual-e5 repositories do. Source: sentence-transformers'
``SentenceTransformer.save`` and ``models/Pooling.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from .files import write_json_atomic
from .positions import max_sequence_length
from .prompts import model_prompts

EMBEDDING_STAGES = ("teacher", "trim", "shrink", "distill", "adapt")
"""Stages whose output is an encoder meant for sentence embeddings (not a task model or an export)."""

MAX_SEQ_LENGTH = 512

MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
]


def write_sentence_transformers(model_dir: str | Path, prompts: dict[str, str] | None = None) -> bool:
    """Write the sentence-transformers files into ``model_dir`` (idempotent; files replaced atomically).

    Args:
        model_dir: a model directory with ``config.json``.
        prompts: ``{"query": ..., "passage": ...}``; default: :func:`~monoglot.embeddings.model_prompts`.

    Returns:
        ``True`` if written; ``False`` (nothing written) when the model has no prompts, i.e. does not
        come from an embedding teacher, or the directory has no ``config.json``.
    """
    model_dir = Path(model_dir)
    prompts = model_prompts(model_dir) if prompts is None else prompts
    if not prompts or not (model_dir / "config.json").is_file():
        return False
    config = json.loads((model_dir / "config.json").read_text())
    write_json_atomic(model_dir / "modules.json", MODULES)
    write_json_atomic(model_dir / "sentence_bert_config.json", {"max_seq_length": min(MAX_SEQ_LENGTH, max_sequence_length(config)), "do_lower_case": False})
    write_json_atomic(model_dir / "1_Pooling" / "config.json", {
        "word_embedding_dimension": config["hidden_size"], "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False, "include_prompt": True})
    (model_dir / "2_Normalize").mkdir(exist_ok=True)
    write_json_atomic(model_dir / "config_sentence_transformers.json", {
        "prompts": dict(prompts), "default_prompt_name": None, "similarity_fn_name": "cosine"})
    return True


def has_sentence_transformers(model_dir: str | Path) -> bool:
    """Whether ``model_dir`` holds the sentence-transformers files."""
    return Path(model_dir, "modules.json").is_file() and Path(model_dir, "1_Pooling", "config.json").is_file()


USAGE = """```python
from sentence_transformers import SentenceTransformer
model = SentenceTransformer("{path}")
embeddings = model.encode(["{example}"], prompt_name="query")  # "passage" for documents
```"""
"""The three-line sentence-transformers usage shown in model cards (``str.format`` with ``path``, ``example``)."""
