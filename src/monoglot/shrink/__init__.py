"""Student initialisation: layer selection and importance-ranked structured pruning (shrink stage)."""

from .settings import FFN_STRATEGIES, HEAD_STRATEGIES, HIDDEN_STRATEGIES, ShrinkSettings

# Everything else loads on first use (PEP 562), so that settings (and `monoglot --help`) do not import torch.
_LAZY = {"hidden_state_error": "fidelity", "LAYER_STRATEGIES": "layers", "select_layers": "layers", "plan_shrink": "plan",
         "target_shape": "plan", "ShrinkPlan": "slicing", "full_plan": "slicing", "shrink_model": "slicing",
         "shrink_to_dir": "stage"}

__all__ = ['FFN_STRATEGIES', 'HEAD_STRATEGIES', 'HIDDEN_STRATEGIES', 'ShrinkSettings', *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
