"""Knowledge distillation of a student from a teacher on target-language text, and teacher adaptation.

Modules: :mod:`.losses` (every loss of the three papers), :mod:`.objective` (layer/head maps,
projections, the combined loss), :mod:`.data` (resumable streams, bilingual mixing, masking),
:mod:`.checkpoint`, :mod:`.mlm` (MLM heads), :mod:`.adapt` (continued MLM, the adapt stage),
:mod:`.loop` (the distill stage on the training engine, :mod:`monoglot.training`).
"""

from .settings import AdaptSettings, DistillSettings, LossWeights

# Everything else loads on first use (PEP 562), so that `monoglot --help` does not import torch.
_LAZY = {
    "distill": "loop", "work_dir": "loop", "adapt_teacher": "adapt", "with_mlm_head": "mlm",
    **{n: "losses" for n in ("attention_kl", "attention_mse", "attention_probs", "embedding_cosine", "embedding_mse", "hidden_cosine", "info_nce", "hidden_mse",
                             "logit_kl", "logit_mse", "mlm_loss", "relation_kl", "similarity_kl")},
}

__all__ = ["AdaptSettings", "DistillSettings", "LossWeights", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
