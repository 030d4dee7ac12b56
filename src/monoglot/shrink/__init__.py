"""Student initialisation: layer selection and importance-ranked structured pruning (shrink stage)."""

from .fidelity import hidden_state_error
from .layers import LAYER_STRATEGIES, select_layers
from .plan import FFN_STRATEGIES, HEAD_STRATEGIES, HIDDEN_STRATEGIES, ShrinkSettings, plan_shrink, target_shape
from .slicing import ShrinkPlan, full_plan, shrink_model
from .stage import shrink_to_dir

__all__ = ["LAYER_STRATEGIES", "HEAD_STRATEGIES", "FFN_STRATEGIES", "HIDDEN_STRATEGIES", "select_layers",
           "ShrinkSettings", "ShrinkPlan", "full_plan", "plan_shrink", "target_shape", "shrink_model",
           "shrink_to_dir", "hidden_state_error"]
