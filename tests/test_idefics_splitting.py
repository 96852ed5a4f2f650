"""Idefics2, Idefics3, SmolVLM beyond the conformance suite: image splitting on, as real checkpoints have it.

The suite's default references apply to these families (their processors write every context, images in
place, and mark nothing about a continuation), so tests/conformance/idefics.py registers nothing. The tiny
checkpoints have image splitting off, so every image is one frame of one size. Real checkpoints
split: an image becomes 5 frames (Idefics2) or rows x cols tiles plus a global image (Idefics3, SmolVLM), and
images of other sizes give other frame counts and (Idefics2) frame sizes. The checks here turn splitting on
and score contexts with 0 to 9 images of three sizes in one padded batch (frames padded across prompts as the
processor pads them), packed where the family packs, and generate; all against the same naive references.
Idefics2's text model (Mistral) has a sliding window: a small one checks that packs keep it.
"""

from __future__ import annotations

import pytest
import torch

from kosmos_eval.backends.hf.backend import HFBackend
from kosmos_eval.core.types import Context, GenerateRequest, ImageInput, RankRequest
from kosmos_eval.generators.pictures import make_image
from kosmos_eval.tiny import build_tiny_model

pytestmark = pytest.mark.slow

FAMILIES = ("idefics2", "idefics3", "smolvlm")
TOL = 1e-4


def sized(index: int, size: tuple[int, int]) -> ImageInput:
    return ImageInput.from_pil(f"tiling-image-{index}-{size[0]}x{size[1]}", make_image(index, size))


WIDE, TALL, SMALL = (80, 40), (36, 72), (20, 16)


def contexts() -> dict[str, tuple[Context, tuple[str, ...]]]:
    panels = [sized(i, (WIDE, TALL, SMALL)[i % 3]) for i in range(8)]
    return {
        "nine-images-three-sizes": (
            Context.of(
                "Here are eight images:", *panels, " The following image is:", sized(20, WIDE), " Is it correct?"
            ),
            (" Yes", " No"),
        ),
        "few-shot-mixed-sizes": (
            Context.of(
                sized(30, TALL),
                "An image of a cat.",
                sized(31, SMALL),
                "An image of a dog.",
                sized(32, WIDE),
                "An image of",
            ),
            (" a cat", " a red bus parked"),
        ),
        "one-wide-image": (Context.of(sized(40, WIDE), "An image of"), (" a cat", " two people walking")),
        "one-small-image": (Context.of(sized(41, SMALL), "An image of"), (" a cat",)),
        "text-only": (Context.of("Question: what is the sentiment of the opinion? Answer:"), (" positive",)),
    }


@pytest.fixture(scope="module", params=FAMILIES)
def tiled(request, tmp_path_factory) -> HFBackend:
    """The family's tiny checkpoint with image splitting on (real checkpoints' setting)."""
    folder = build_tiny_model(request.param, tmp_path_factory.mktemp("tiling") / request.param)
    backend = HFBackend(pretrained=str(folder), dtype="float32", device="cpu")
    backend.loaded.processor.image_processor.do_image_splitting = True
    return backend


def pixels(backend: HFBackend, context: Context) -> torch.Tensor:
    return backend.adapter.encode(context).extras["pixel_values"]


def test_splitting_gives_prompts_different_frame_counts_and_sizes(tiled):
    cases = {name: pixels(tiled, context) for name, (context, _) in contexts().items() if context.images}
    wide, small = cases["one-wide-image"], cases["one-small-image"]
    if tiled.loaded.family.name == "idefics2":
        # 4 crops and the whole image, each resized on its own, so frames differ in size within a prompt
        # (padded, with a pixel mask) and across prompts
        assert wide.shape[1] == small.shape[1] == 5 and wide.shape[-2:] != small.shape[-2:]
        mask = tiled.adapter.encode(contexts()["one-wide-image"][0]).extras["pixel_attention_mask"]
        assert not bool(mask.all())
    else:  # rows x cols tiles of the size the model takes, plus the global image
        assert wide.shape[1] != small.shape[1] and wide.shape[-2:] == small.shape[-2:]
    assert cases["nine-images-three-sizes"].shape[1] > 9 * 2


def test_ranking_with_splitting_equals_a_naive_forward(tiled):
    from tests.test_conformance import naive_logprob

    cases = contexts()
    requests = [RankRequest(context, continuations) for context, continuations in cases.values()]
    for packing in (False, True):
        tiled.packing = packing
        results = tiled.rank(requests)  # one padded batch (rows), or packs sharing forward passes
        for (name, (context, continuations)), result in zip(cases.items(), results, strict=True):
            for i, continuation in enumerate(continuations):
                expected = naive_logprob(tiled, context, continuation, result.num_tokens[i])
                assert abs(result.logprobs[i] - expected) < TOL, (tiled.loaded.family.name, name, packing, continuation)
    tiled.packing = True


@pytest.mark.parametrize("num_beams", [1, 5])
def test_generation_with_splitting_equals_the_models_own_generate(tiled, num_beams):
    from tests.test_conformance import reference_generate

    chosen = [(name, context) for name, (context, _) in contexts().items() if name != "text-only"]
    outputs = tiled.generate([GenerateRequest(context, max_new_tokens=6, num_beams=num_beams) for _, context in chosen])
    for (name, context), output in zip(chosen, outputs, strict=True):
        assert output == reference_generate(tiled, context, 6, num_beams), (tiled.loaded.family.name, name)


def test_image_features_are_one_vector_per_image(tiled):
    images = [sized(50, WIDE), sized(51, SMALL), sized(52, TALL)]
    together = tiled.embed_images(images)
    alone = [tiled.embed_images([image])[0] for image in images]
    assert together.shape[0] == 3
    for row, single in zip(together, alone, strict=True):
        assert abs(row - single).max() < TOL


def test_idefics2_packs_keep_the_sliding_window(tmp_path):
    from tests.test_conformance import RANK_CASES, naive_logprob

    folder = build_tiny_model("idefics2", tmp_path / "idefics2")
    backend = HFBackend(pretrained=str(folder), dtype="float32", device="cpu")
    text_config = backend.loaded.model.config.get_text_config()
    text_config.sliding_window = 24  # the raven contexts are ~60 tokens: most tokens see only part of them
    assert backend.adapter.can_pack
    requests = [RankRequest(context, continuations) for context, continuations, _ in RANK_CASES.values()]
    backend.packing = True
    packed = backend.rank(requests)
    backend.packing = False
    rows = backend.rank(requests)
    for (name, (context, continuations, _)), a, b in zip(RANK_CASES.items(), packed, rows, strict=True):
        for i, continuation in enumerate(continuations):
            expected = naive_logprob(backend, context, continuation, a.num_tokens[i])
            assert abs(a.logprobs[i] - expected) < TOL and abs(b.logprobs[i] - expected) < TOL, (name, continuation)
    text_config.sliding_window = 4096  # and the window is real: without it the raven scores differ
    wide = backend.rank(requests[:1])[0]
    assert abs(wide.logprobs[0] - rows[0].logprobs[0]) > TOL
