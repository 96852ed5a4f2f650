"""kosmos-eval: the KOSMOS-1 evaluation protocol for any multimodal checkpoint."""

__version__ = "0.1.0"
