"""Which arithmetic distillation runs in: bf16 where the hardware has it, fp32 elsewhere.

``precision="auto"`` (the default) resolves here, with no flag from the user:

- on a CUDA GPU with bf16 support: bf16;
- on a CPU with bf16 matrix instructions: Intel AMX (``amx_bf16`` in ``/proc/cpuinfo``) or
  AVX-512 BF16 (``avx512_bf16``; e.g. AMD Zen 4) -> bf16. oneDNN runs bf16 matmuls on them.
  Measured on an AMD EPYC with ``avx512_bf16`` and no AMX (benchmarks/distill.py, see the README's
  Distillation section): bf16 distillation runs faster than fp32 with a validation loss within 2%,
  so ``auto`` picks bf16 there too;
- otherwise (AVX2-only CPUs, where bf16 is emulated and slower): fp32.

In bf16 the teacher's weights are cast to bf16 (it is frozen: inference only), and the student
trains under ``torch.autocast`` in bf16 with fp32 master weights and optimizer state (Accelerate's
``mixed_precision="bf16"``). The choice and its reason are recorded in the student's ``monoglot.json``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty where it does not exist, e.g. macOS)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` "model name", as lscpu prints it), or the platform's."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def resolve_precision(requested: str, device: torch.device | str | None = None) -> tuple[str, str]:
    """``(precision, reason)``: ``requested`` unless it is ``"auto"``, then bf16 or ``"no"`` (fp32).

    Args:
        requested: ``auto``, ``no``, ``bf16`` or ``fp16``.
        device: where training runs (default: CUDA if available, else the CPU).
    """
    if requested != "auto":
        return requested, "set by the user"
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "auto: the GPU supports bf16"
        return "no", "auto: the GPU lacks bf16"
    found = [f for f in BF16_CPU_FLAGS if f in cpu_flags()]
    if found:
        return "bf16", f"auto: the CPU has {'/'.join(found)} ({cpu_model()})"
    return "no", f"auto: the CPU has no bf16 instructions ({', '.join(BF16_CPU_FLAGS)}), fp32 ({cpu_model()})"
