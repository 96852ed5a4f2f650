"""Model backends. Each module registers its backend (`register_backend`); the registry (core/registry.py,
BACKENDS) imports them on its first lookup. The hf backend imports torch only when a model is built."""
