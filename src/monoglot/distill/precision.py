"""Which arithmetic distillation runs in: bf16 where the hardware has it, fp32 elsewhere.

``precision="auto"`` (the default) resolves here, with no flag from the user:

- on a CUDA GPU with bf16 support: bf16;
- on a CPU with Intel AMX (``amx_bf16`` in ``/proc/cpuinfo``): bf16 (oneDNN runs bf16 matmuls on
  the tile units, several times the fp32 rate);
- on a CPU with AVX-512 BF16 but no AMX (``avx512_bf16``, e.g. AMD Zen 4): fp32. Measured on such
  an AMD EPYC (benchmarks/distill.py, 2 threads, 2026-11-24): a 2048^2 matmul runs 2.3x faster in
  bf16, but a whole distillation step only 1.0-1.2x (the teacher forward 1.4x, the student's
  forward and backward not at all), with a validation loss 0.8% higher: not a clear gain, so
  ``auto`` stays in fp32 there; ``precision="bf16"`` still forces it;
- otherwise (AVX2-only CPUs, where bf16 is emulated and slower): fp32.

In bf16 the teacher's weights are cast to bf16 (it is frozen: inference only), and the student
trains under ``torch.autocast`` in bf16 with fp32 master weights and optimizer state (Accelerate's
``mixed_precision="bf16"``). ``bf16-teacher`` casts only the teacher and trains the student in plain
fp32: the teacher's forward is most of a step's compute, and where bf16 speeds up inference but not
the student's small matmuls and backward (the avx512_bf16 case above) it keeps that part of the gain.
The choice and its reason are recorded in the student's ``monoglot.json``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

BF16_CPU_FLAGS = ("amx_bf16",)
"""CPU flags for which ``auto`` picks bf16 (``avx512_bf16`` alone was measured not faster; see above)."""


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
        requested: ``auto``, ``no``, ``bf16``, ``bf16-teacher`` or ``fp16``.
        device: where training runs (default: CUDA if available, else the CPU).
    """
    if requested != "auto":
        return requested, "set by the user"
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "auto: the GPU supports bf16"
        return "no", "auto: the GPU lacks bf16"
    flags = cpu_flags()
    if any(f in flags for f in BF16_CPU_FLAGS):
        return "bf16", f"auto: the CPU has AMX bf16 ({cpu_model()})"
    if "avx512_bf16" in flags:
        return "no", f"auto: the CPU has avx512_bf16 but no AMX, where bf16 was measured not faster: fp32 ({cpu_model()})"
    return "no", f"auto: the CPU has no bf16 matrix instructions: fp32 ({cpu_model()})"
