"""Measurements of a model directory: parameters, bytes on disk, CPU throughput."""

from __future__ import annotations

import time
from pathlib import Path

EMBEDDING_PREFIXES = ("embeddings.",)


def _safetensors_files(model_dir: Path) -> list[Path]:
    return sorted(model_dir.glob("model*.safetensors"))  # model.safetensors or model-0000k-of-0000n shards


def count_parameters(model_dir: str | Path) -> dict[str, int] | None:
    """Count the parameters stored in a model directory's safetensors files (headers only).

    Tied tensors are stored once, so they count once. The bare encoder's embedding block
    (word, position and token-type embeddings and their LayerNorm) counts as ``embedding``;
    everything else (transformer layers, any head) as ``encoder``.

    Returns:
        ``{"total", "embedding", "encoder"}`` in parameters, or ``None`` when ``model_dir`` is not
        a local directory (e.g. a hub id).
    """
    from safetensors import safe_open

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return None
    emb = other = 0
    for f in _safetensors_files(model_dir):
        with safe_open(str(f), framework="pt") as st:
            for k in st.keys():
                n = 1
                for d in st.get_slice(k).get_shape():
                    n *= d
                name = k.split(".", 1)[1] if k.startswith(("bert.", "roberta.", "model.")) else k
                if name.startswith(EMBEDDING_PREFIXES):
                    emb += n
                else:
                    other += n
    return {"total": emb + other, "embedding": emb, "encoder": other}


def dir_bytes(model_dir: str | Path) -> int:
    """Bytes on disk of every file in ``model_dir`` (recursively)."""
    return sum(p.stat().st_size for p in Path(model_dir).rglob("*") if p.is_file())


def weights_bytes(model_dir: str | Path) -> int:
    """Bytes of the weight files (``model*.safetensors``) of ``model_dir``."""
    return sum(p.stat().st_size for p in _safetensors_files(Path(model_dir)))


def cpu_throughput(model_dir: str | Path, batch_size: int = 32, seq_len: int = 128, batches: int = 3,
                   threads: int | None = None, seed: int = 0) -> dict[str, float]:
    """Inference throughput of the bare encoder of ``model_dir`` on the CPU; see :func:`model_throughput`."""
    from .teachers import load_encoder

    return model_throughput(load_encoder(model_dir), batch_size, seq_len, batches, threads, seed)


def model_throughput(model, batch_size: int = 32, seq_len: int = 128, batches: int = 3,
                     threads: int | None = None, seed: int = 0) -> dict[str, float]:
    """Inference throughput of an encoder (its base model) on the CPU, in sequences per second.

    Runs one warm-up batch, then ``batches`` timed batches of ``batch_size`` x ``seq_len`` random
    non-special token ids (full attention mask) under ``torch.inference_mode``.

    Returns:
        ``{"sequences_per_second", "seconds_per_batch", "batch_size", "seq_len", "threads"}``.
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    model = model.base_model.eval()
    vocab = model.get_input_embeddings().weight.shape[0]
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab - 1, (batch_size, seq_len), generator=g)
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        model(input_ids=ids, attention_mask=mask)
        t0 = time.perf_counter()
        for _ in range(batches):
            model(input_ids=ids, attention_mask=mask)
        dt = (time.perf_counter() - t0) / batches
    return {"sequences_per_second": batch_size / dt, "seconds_per_batch": dt, "batch_size": batch_size,
            "seq_len": seq_len, "threads": torch.get_num_threads()}


def model_parameters(model) -> int:
    """Parameters of an in-memory model, tied tensors counted once."""
    seen, n = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            n += p.numel()
    return n
