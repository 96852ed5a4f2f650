"""Seeded generators of the bundled samples (one writer per task, registered in samples.py)."""
