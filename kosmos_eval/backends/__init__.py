"""Model backends. Importing this package registers every backend (the hf backend imports torch lazily)."""

from kosmos_eval.backends import chance, hf, openai  # noqa: F401
