"""Resumable checkpoints: model, optimizer, scheduler, RNG states and data position, written atomically.

A checkpoint is a directory ``step-NNNNNNN/`` in the run's work directory:

- ``model.safetensors``: the student and its projection (state dict of the unwrapped module);
- ``optimizer-rank{r}.safetensors`` + ``optimizer-rank{r}.json``: each process's optimizer state
  (identical under DDP, a shard under FSDP), tensors in safetensors, the rest in JSON;
- ``rng-rank{r}.safetensors``: each process's torch RNG state (dropout);
- ``state.json``: step, scheduler, data position, history, best validation loss, and the settings
  fingerprint that a resume must match.

Nothing is pickled: a checkpoint loads without executing code. It is written into a hidden
temporary directory and renamed when every process has written its files, so a run killed at any
moment leaves either a complete checkpoint or none.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..errors import BadInput

PREFIX = "step-"


def _tensors(state: dict) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").clone().contiguous() for k, v in state.items()}  # clone: unties shared storage


def optimizer_to_files(opt_state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer ``state_dict`` into tensors (``state.<param>.<name>``) and JSON-able rest."""
    tensors, scalars = {}, {}
    for pid, st in opt_state["state"].items():
        for name, v in st.items():
            if torch.is_tensor(v):
                tensors[f"state.{pid}.{name}"] = v
            else:
                scalars[f"{pid}.{name}"] = v
    return _tensors(tensors), {"param_groups": opt_state["param_groups"], "scalars": scalars}


def optimizer_from_files(tensors: dict[str, torch.Tensor], rest: dict) -> dict:
    """Inverse of :func:`optimizer_to_files`."""
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = v
    for key, v in rest["scalars"].items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    return {"state": state, "param_groups": rest["param_groups"]}


def checkpoints(work: Path) -> list[Path]:
    """Complete checkpoints in ``work``, oldest first."""
    return sorted(p for p in Path(work).glob(PREFIX + "*") if p.is_dir() and (p / "state.json").is_file())


def save_checkpoint(work: Path, step: int, acc, model_state: dict, optimizer, state: dict, keep: int = 2) -> Path:
    """Write checkpoint ``step`` (every process calls this; ``model_state`` matters on the main one).

    Older checkpoints beyond the newest ``keep`` are removed.
    """
    final = Path(work) / f"{PREFIX}{step:07d}"
    tmp = Path(work) / f".{final.name}.tmp"
    if acc.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    acc.wait_for_everyone()
    r = acc.process_index
    tensors, rest = optimizer_to_files(optimizer.state_dict())
    save_file(tensors, str(tmp / f"optimizer-rank{r}.safetensors"))
    (tmp / f"optimizer-rank{r}.json").write_text(json.dumps(rest))
    save_file({"torch": torch.get_rng_state()}, str(tmp / f"rng-rank{r}.safetensors"))
    acc.wait_for_everyone()
    if acc.is_main_process:
        save_file(_tensors(model_state), str(tmp / "model.safetensors"))
        (tmp / "state.json").write_text(json.dumps({**state, "processes": acc.num_processes}, indent=1))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in checkpoints(work)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    acc.wait_for_everyone()
    return final


def load_checkpoint(path: Path, rank: int, fingerprint: dict) -> tuple[dict, dict, dict, torch.Tensor]:
    """Read checkpoint ``path`` for process ``rank``: ``(state, model_state, optimizer_state, rng_state)``.

    Raises:
        BadInput: the checkpoint was made with other settings, models or corpora (names what
            differs), or by a different number of processes than this rank expects.
    """
    state = json.loads((path / "state.json").read_text())
    saved = state.get("fingerprint", {})
    diff = sorted(k for k in set(saved) | set(fingerprint) if saved.get(k) != fingerprint.get(k))
    if diff:
        raise BadInput(f"checkpoint {path} is from another configuration (differs in: {', '.join(diff)}); resume with the same settings, or delete {path.parent} to start over")
    opt_file = path / f"optimizer-rank{rank}.safetensors"
    if not opt_file.is_file():
        raise BadInput(f"checkpoint {path} has no optimizer state for process {rank} (it was written by {state.get('processes')} processes); resume with that many processes")
    opt = optimizer_from_files(load_file(str(opt_file)), json.loads((path / f"optimizer-rank{rank}.json").read_text()))
    rng = load_file(str(path / f"rng-rank{rank}.safetensors"))["torch"]
    return state, load_file(str(path / "model.safetensors")), opt, rng


def save_best(work: Path, model_state: dict) -> None:
    """Atomically write the best model so far to ``work/best.safetensors``."""
    tmp = Path(work) / ".best.safetensors.tmp"
    save_file(_tensors(model_state), str(tmp))
    os.replace(tmp, Path(work) / "best.safetensors")
