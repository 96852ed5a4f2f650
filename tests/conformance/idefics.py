"""Idefics2, Idefics3, SmolVLM: the suite's default references apply (their processors write every context,
images in place, and mark nothing about a continuation), so nothing is registered here. Checks with image
splitting on (real checkpoints' setting) are in tests/test_idefics_splitting.py."""
