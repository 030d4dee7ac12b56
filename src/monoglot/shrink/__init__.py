"""Student initialisation: layer selection and structured slicing of a teacher (shrink stage)."""

from .layers import LAYER_STRATEGIES, select_layers
from .slicing import ShrinkPlan, plan_shrink, shrink_model, shrink_to_dir

__all__ = ["LAYER_STRATEGIES", "select_layers", "ShrinkPlan", "plan_shrink", "shrink_model", "shrink_to_dir"]
