"""monoglot: compress a massively multilingual encoder into a small model for one language.

Stages (each reads and writes a plain Hugging Face model directory):
teacher -> trim -> shrink -> distill -> evaluate -> report.
"""

__version__ = "0.1.0"
