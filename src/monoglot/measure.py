"""Measurements of a model directory: parameters, bytes on disk, CPU throughput."""

from __future__ import annotations

import os
import time
from pathlib import Path

EMBEDDING_PREFIXES = ("embeddings.",)
BUSY_CORES_WARN = 0.25
"""Other processes' mean busy cores during a timing above which a report calls it unreliable."""


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have spent busy since boot (Linux ``/proc/stat``:
    user, nice, system, irq, softirq, steal; idle and iowait left out), or ``None`` where the file
    is missing."""
    try:
        v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


class BusyWatch:
    """How busy the rest of the machine was while this process timed something.

    ``other_cores()`` after ``with BusyWatch() as w:`` is the mean number of cores that other
    processes kept busy during the block: the machine's busy CPU seconds (:func:`machine_busy_seconds`)
    less this process's own (``time.process_time``, all its threads), over the wall seconds.
    Timings taken beside such load are slower than the hardware allows, and ratios taken at
    different loads are not comparable. ``None`` where ``/proc/stat`` is missing (not Linux).
    Resolution: one clock tick (10 ms) over the block's wall time.
    """

    def __enter__(self) -> "BusyWatch":
        self.busy0, self.own0, self.t0 = machine_busy_seconds(), time.process_time(), time.perf_counter()
        self.busy1 = None
        return self

    def __exit__(self, *exc) -> None:
        self.busy1, self.own1, self.t1 = machine_busy_seconds(), time.process_time(), time.perf_counter()

    def other_cores(self) -> float | None:
        """Mean busy cores of other processes during the block (>= 0), or ``None`` (unmeasurable)."""
        if self.busy0 is None or self.busy1 is None or self.t1 <= self.t0:
            return None
        others = (self.busy1 - self.busy0) - (self.own1 - self.own0)
        return max(0.0, others / (self.t1 - self.t0))


def time_batches(call, batches: int) -> tuple[float, float | None]:
    """Run ``call()`` ``batches`` times under a :class:`BusyWatch`.

    Returns:
        ``(seconds per call, other processes' mean busy cores or None)``.
    """
    with BusyWatch() as w:
        for _ in range(batches):
            call()
    return (w.t1 - w.t0) / batches, w.other_cores()


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
    non-special token ids (full attention mask) under ``torch.inference_mode``, with ``threads``
    intra-op threads (default: the process's); the process's thread count is restored afterwards.

    Returns:
        ``{"sequences_per_second", "seconds_per_batch", "batch_size", "seq_len", "threads",
        "other_busy_cores"}``; the last is :meth:`BusyWatch.other_cores` over the timed batches.
    """
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        model = model.base_model.eval()
        vocab = model.get_input_embeddings().weight.shape[0]
        g = torch.Generator().manual_seed(seed)
        ids = torch.randint(5, vocab - 1, (batch_size, seq_len), generator=g)
        mask = torch.ones_like(ids)
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=mask)
            dt, busy = time_batches(lambda: model(input_ids=ids, attention_mask=mask), batches)
        used = torch.get_num_threads()
    finally:  # the process's own thread count (e.g. OMP_NUM_THREADS=1 beside another job) holds for what follows
        torch.set_num_threads(before)
    return {"sequences_per_second": batch_size / dt, "seconds_per_batch": dt, "batch_size": batch_size,
            "seq_len": seq_len, "threads": used, "other_busy_cores": busy}


def model_parameters(model) -> int:
    """Parameters of an in-memory model, tied tensors counted once."""
    seen, n = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            n += p.numel()
    return n
