"""The Qwen-VL group's references (qwen2_vl, qwen2_5_vl, qwen3_vl, qwen3_5, glm4v).

The Qwen families need none: their processors express every context (images anywhere, between the chat
templates' vision markers), and ranking and generation are checked against the default references (the
processor on the whole text, the model's own forward and `generate`).

GLM-4V's own `generate` mis-assigns images to beams when a prompt has several
(Glm4vForConditionalGeneration._expand_multimodal_outputs repeat-interleaves a prompt's encoded images, so
beam 0 of a prompt with images [A, B, C] sees [A, A, A]), and the adapter avoids that. Its reference therefore
runs the model's own `generate` on input embeddings with the image features already in place, built from
the model's own modules (the text embedding, `get_image_features`, the placeholders the processor wrote):
nothing image-shaped is left for generate to expand, and the 3D positions still come from the input ids,
`mm_token_type_ids` and `image_grid_thw` (GLM's `_prepare_position_ids_for_generation`).
"""

from __future__ import annotations

import torch

from kosmos_eval.core.types import Context
from tests.conformance import GENERATE


def glm4v_generate(backend, context: Context, max_new_tokens: int, num_beams: int) -> str:
    from tests.test_conformance import processor_inputs, prompt_text

    model = backend.loaded.model
    inputs = processor_inputs(backend, prompt_text(backend, context), context)
    ids = inputs["input_ids"]
    kwargs = {k: v for k, v in inputs.items() if k not in ("pixel_values", "input_ids")}
    with torch.no_grad():
        if "pixel_values" in inputs:
            embeds = model.get_input_embeddings()(ids)
            features = model.model.get_image_features(
                inputs["pixel_values"], inputs["image_grid_thw"], return_dict=True
            )
            features = torch.cat(list(features.pooler_output)).to(embeds.dtype)
            slots = (ids == model.config.image_token_id)[..., None].expand_as(embeds)
            kwargs["inputs_embeds"] = embeds.masked_scatter(slots, features)
        out = model.generate(
            input_ids=ids,
            **kwargs,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            pad_token_id=backend.adapter.pad_id,
        )
    return backend.adapter.decode(out[0, ids.shape[1] :].tolist()).strip()


GENERATE.add("glm4v", glm4v_generate)
