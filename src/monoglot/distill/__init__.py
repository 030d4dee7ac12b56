"""General knowledge distillation of a student from a teacher on target-language text."""

from .losses import attention_kl, attention_probs, hidden_mse
from .loop import DistillSettings, distill

__all__ = ["attention_kl", "attention_probs", "hidden_mse", "DistillSettings", "distill"]
