"""The CPU that timings ran on: model name, logical cores, and the vector/matrix instruction flags
that decide int8 and bf16 speed (printed beside every timing, per the team's rules)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")
"""Flags of ``/proc/cpuinfo`` that matter for transformer inference: AVX2/AVX-512 (fp32), VNNI (int8
dot products), avx512_bf16 and AMX (bf16 and int8 matrix tiles)."""


def cpu_info() -> dict:
    """``{"model", "logical_cores", "flags"}``: the CPU model name, ``os.cpu_count()``, and which of
    :data:`SPEED_FLAGS` the CPU has (read from ``/proc/cpuinfo``; the platform's processor name elsewhere)."""
    model, flags = platform.processor() or platform.machine(), set()
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
            if flags and model:
                break
    return {"model": model, "logical_cores": os.cpu_count(), "flags": [f for f in SPEED_FLAGS if f in flags]}


def cpu_line() -> str:
    """One line: ``CPU: <model>, <n> logical cores, flags: ...``."""
    c = cpu_info()
    return f"CPU: {c['model']}, {c['logical_cores']} logical cores, flags: {' '.join(c['flags']) or 'none of ' + '/'.join(SPEED_FLAGS[:3])}"
