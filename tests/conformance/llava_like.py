"""References for the LLaVA-style projector families (LLaVA-NeXT, LLaVA-OneVision, Aya Vision, Mistral 3,
InternVL): none of their own. Each family's processor expands its image text in place, whatever the number
and position of the images, and marks no continuation token specially, so the suite's default references
(the processor on the whole text, the model's full forward and its own `generate`) apply to every context.
LFM2-VL refuses at load, so it has no reference either."""
