"""Which arithmetic distillation runs in: bf16 where the hardware has it, fp32 elsewhere.

``precision="auto"`` (the default) resolves here, with no flag from the user:

- on a CUDA GPU with bf16 support: bf16;
- on a CPU with Intel AMX (``amx_bf16`` in ``/proc/cpuinfo``): bf16 (oneDNN runs bf16 matmuls on
  the tile units, several times the fp32 rate);
- on a CPU with AVX-512 BF16 but no AMX (``avx512_bf16``, e.g. AMD Zen 4): bf16 too. Measured on
  such an AMD EPYC, idle, 2 threads (benchmarks/distill.py with the demo's 64 sentence pairs per
  step, 2026-11-25): 1.49x the fp32 tokens/s (1.55x in step timings alternated with fp32), validation
  loss +0.09%; ``bf16-teacher`` 1.35x, +0.01%. (A first measurement, 2026-11-24, with five jobs
  sharing the two cores, had seen 1.16x and 1.01x: the shared load hid the gain.)
- otherwise (AVX2-only CPUs, where bf16 is emulated and slower): fp32.

In bf16 the teacher's weights are cast to bf16 (it is frozen: inference only), and the student
trains under ``torch.autocast`` in bf16 with fp32 master weights and optimizer state (Accelerate's
``mixed_precision="bf16"``). ``bf16-teacher`` casts only the teacher and trains the student in plain
fp32: the teacher's forward is most of a step's compute, so it keeps most of the gain and leaves the
student's arithmetic exactly as in fp32.
The choice and its reason are recorded in the student's ``monoglot.json``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

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
    if "amx_bf16" in flags:
        return "bf16", f"auto: the CPU has AMX bf16 ({cpu_model()})"
    if "avx512_bf16" in flags:
        return "bf16", f"auto: the CPU has avx512_bf16 (measured 1.5x fp32 on an AMD EPYC) ({cpu_model()})"
    return "no", f"auto: the CPU has no bf16 matrix instructions: fp32 ({cpu_model()})"
