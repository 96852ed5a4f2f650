"""The hf backend's numbers equal a direct, naive computation with the same tiny models.

Naive here means: one request and one continuation at a time, the full forward pass of the model class with
full-vocabulary logits, each image encoded on its own, sums in float64. The backend batches, pads, encodes
each distinct image once and applies the output head only where needed; the results must agree to 1e-4.
"""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from kosmos_eval.backends.hf.families.kosmos2 import Kosmos2Adapter
from kosmos_eval.core.types import Context, GenerateRequest, RankRequest
from kosmos_eval.generators.pictures import make_image
from tests.images import image_input

pytestmark = pytest.mark.slow

TOL = 1e-4


def naive_kosmos2(backend, context: Context, continuation: str) -> tuple[float, int]:
    adapter: Kosmos2Adapter = backend.adapter
    model = backend.loaded.model
    encoded = adapter.encode(context)
    cont = adapter.continuation_ids(context, continuation)
    ids = torch.tensor([encoded.ids + cont])
    kwargs = {}
    if encoded.images:
        feats = []
        for image in encoded.images:  # each image on its own, no sharing
            pixels = adapter.processor.image_processor(image.load(), return_tensors="pt")["pixel_values"]
            feats.append(model.get_image_features(pixels, return_dict=True).pooler_output)
        mask = torch.zeros_like(ids, dtype=torch.bool)
        mask[0, encoded.image_slots] = True
        kwargs = {"image_embeds": torch.cat(feats), "image_embeds_position_mask": mask}
    with torch.no_grad():
        forward = model if kwargs else model.text_model  # the full model insists on images
        logits = forward(input_ids=ids, **kwargs).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    start = len(encoded.ids)
    total = sum(float(logprobs[p - 1, ids[0, p]]) for p in range(start, ids.shape[1]))
    return total, len(cont)


def naive_llava(backend, context: Context, continuation: str, num_tokens: int) -> float:
    processor = backend.loaded.processor
    model = backend.loaded.model
    text = "".join(s if isinstance(s, str) else backend.adapter.image_text for s in context.segments) + continuation
    kwargs = {"text": [text], "return_tensors": "pt"}
    if context.images:
        kwargs["images"] = [[image.load() for image in context.images]]
    inputs = processor(**kwargs)
    with torch.no_grad():
        logits = model(**inputs).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    ids = inputs["input_ids"][0]
    n = ids.shape[0]
    return sum(float(logprobs[p - 1, ids[p]]) for p in range(n - num_tokens, n))


def requests() -> list[RankRequest]:
    panels = [image_input(i) for i in range(3)]
    return [
        RankRequest(Context.of(image_input(7), "An image of"), (" a cat", " a red bus parked")),
        RankRequest(
            Context.of("Here are three images:", panels, " The following image is:", image_input(4), " Is it correct?"),
            (" Yes", " No"),
        ),
        RankRequest(Context.of("Question: what is the sentiment of the opinion? Answer:"), (" positive",)),
        RankRequest(Context.of(panels[0], "The photo of the", image_input(5), " dog."), (" Yes",)),
    ]


def test_kosmos2_ids_match_official_processor_for_one_image(kosmos2_backend):
    processor = kosmos2_backend.loaded.processor
    image = make_image(3)
    official = processor(images=image, text="An image of", num_image_tokens=8)["input_ids"]
    ours = kosmos2_backend.adapter.encode(Context.of(image_input(3), "An image of")).ids
    assert ours == official


def test_kosmos2_single_image_matches_official_full_forward(kosmos2_backend):
    """Single image: the official processor + full model forward, no code of ours in the naive path."""
    processor, model = kosmos2_backend.loaded.processor, kosmos2_backend.loaded.model
    image = make_image(2)
    inputs = processor(images=image, text="An image of a red bus", num_image_tokens=8, return_tensors="pt")
    with torch.no_grad():
        logprobs = torch.log_softmax(model(**inputs).logits[0].double(), dim=-1)
    ids = inputs["input_ids"][0]
    (result,) = kosmos2_backend.rank([RankRequest(Context.of(ImageInputFrom(image), "An image of"), (" a red bus",))])
    n = result.num_tokens[0]
    expected = sum(float(logprobs[p - 1, ids[p]]) for p in range(len(ids) - n, len(ids)))
    assert abs(result.logprobs[0] - expected) < TOL


def ImageInputFrom(image: Image.Image):
    from kosmos_eval.core.types import ImageInput

    return ImageInput.from_pil("official-image", image)


def test_kosmos2_rank_parity_single_multi_and_padded_batch(kosmos2_backend):
    batch = requests()
    results = kosmos2_backend.rank(batch)  # one padded batch mixing 0, 1, 2 and 4 images
    for request, result in zip(batch, results, strict=True):
        for i, continuation in enumerate(request.continuations):
            expected, n = naive_kosmos2(kosmos2_backend, request.context, continuation)
            assert result.num_tokens[i] == n
            assert abs(result.logprobs[i] - expected) < TOL, (request.context.render(), continuation)


def test_llava_rank_parity_single_multi_and_padded_batch(llava_backend):
    batch = requests()
    results = llava_backend.rank(batch)
    for request, result in zip(batch, results, strict=True):
        for i, continuation in enumerate(request.continuations):
            expected = naive_llava(llava_backend, request.context, continuation, result.num_tokens[i])
            assert abs(result.logprobs[i] - expected) < TOL, (request.context.render(), continuation)


def test_rank_is_independent_of_batch_composition(kosmos2_backend):
    batch = requests()
    together = kosmos2_backend.rank(batch)
    alone = [kosmos2_backend.rank([r])[0] for r in batch]
    for a, b in zip(together, alone, strict=True):
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs, strict=True)) < TOL


def naive_greedy_kosmos2(backend, context: Context, max_new_tokens: int) -> list[int]:
    adapter = backend.adapter
    encoded = adapter.encode(context)
    model = backend.loaded.model
    feats = [
        model.get_image_features(
            adapter.processor.image_processor(img.load(), return_tensors="pt")["pixel_values"], return_dict=True
        ).pooler_output
        for img in encoded.images
    ]
    ids = list(encoded.ids)
    new: list[int] = []
    for _ in range(max_new_tokens):
        tensor = torch.tensor([ids])
        mask = torch.zeros_like(tensor, dtype=torch.bool)
        mask[0, encoded.image_slots] = True
        with torch.no_grad():
            if feats:
                logits = model(input_ids=tensor, image_embeds=torch.cat(feats), image_embeds_position_mask=mask).logits
            else:  # the full model insists on images
                logits = model.text_model(input_ids=tensor).logits
        token = int(logits[0, -1].argmax())
        new.append(token)
        if token == adapter.tokenizer.eos_token_id:
            break
        ids.append(token)
    return new


def test_kosmos2_greedy_generation_matches_naive_loop_with_several_images(kosmos2_backend):
    contexts = [
        Context.of(image_input(1), "An image of"),
        Context.of(image_input(2), "An image of"),  # same length as the first: generated in one batch
        Context.of(image_input(1), "A cat.", image_input(3), "An image of"),
    ]
    outputs = kosmos2_backend.generate([GenerateRequest(c, max_new_tokens=6) for c in contexts])
    tokenizer = kosmos2_backend.tokenizer
    for context, output in zip(contexts, outputs, strict=True):
        expected = tokenizer.decode(naive_greedy_kosmos2(kosmos2_backend, context, 6), skip_special_tokens=True)
        assert output == expected.strip()


def test_kosmos2_beam_search_matches_official_generate(kosmos2_backend):
    processor, model = kosmos2_backend.loaded.processor, kosmos2_backend.loaded.model
    image = make_image(5)
    inputs = processor(images=image, text="An image of", num_image_tokens=8, return_tensors="pt")
    with torch.no_grad():
        official = model.generate(**inputs, max_new_tokens=7, num_beams=3, do_sample=False)
    official_tokens = official[0, inputs["input_ids"].shape[1] :].tolist()
    context = Context.of(ImageInputFrom(image), "An image of")
    adapter = kosmos2_backend.adapter
    with torch.no_grad():
        (tokens,) = adapter.generate([adapter.encode(context)], max_new_tokens=7, num_beams=3)
    assert tokens == official_tokens  # the same beams, token for token
    decoded = processor.tokenizer.decode(official_tokens, skip_special_tokens=True)
    # grounding markup (<patch_index_…>, <phrase>…) is removed as the official post-processing removes it
    expected, _ = processor.post_process_generation(decoded, cleanup_and_extract=True)
    (ours,) = kosmos2_backend.generate([GenerateRequest(context, max_new_tokens=7, num_beams=3)])
    assert ours == expected.strip()


def test_kosmos2_decoding_drops_grounding_markup_like_the_processor(kosmos2_backend):
    tokenizer = kosmos2_backend.tokenizer
    text = "<phrase>a dog</phrase><object><patch_index_0001><patch_index_0014></object> runs <patch_index_0006>"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    expected, _ = kosmos2_backend.loaded.processor.post_process_generation(
        tokenizer.decode(ids, skip_special_tokens=True), cleanup_and_extract=True
    )
    assert kosmos2_backend.adapter.decode(ids).split() == expected.split() == ["a", "dog", "runs"]


def test_stop_strings_cut_generation(kosmos2_backend):
    context = Context.of(image_input(1), "An image of")
    (full,) = kosmos2_backend.generate([GenerateRequest(context, max_new_tokens=8)])
    assert len(full) >= 2
    marker = full[1]
    (cut,) = kosmos2_backend.generate([GenerateRequest(context, max_new_tokens=8, stop=(marker,))])
    assert cut == full[: full.find(marker)].strip()


def test_fingerprint_pins_local_weights(kosmos2_backend, tiny_kosmos2):
    fingerprint = kosmos2_backend.fingerprint()
    assert fingerprint["model"] == str(tiny_kosmos2)
    assert fingerprint["dtype"] == "float32"
    assert len(fingerprint["weights_sha256"]) == 64


def test_device_map_auto_loads_through_accelerate_and_scores_the_same(kosmos2_backend, tiny_kosmos2, monkeypatch):
    """device_map=auto (for models larger than one GPU) places this tiny model on the CPU; the inputs follow the
    input embeddings' device and every score equals the plainly loaded model's."""
    import transformers

    from kosmos_eval.backends.hf.backend import HFBackend

    seen = {}
    original = transformers.Kosmos2ForConditionalGeneration.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        seen.update(kwargs)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(transformers.Kosmos2ForConditionalGeneration, "from_pretrained", classmethod(spy))
    mapped = HFBackend(pretrained=str(tiny_kosmos2), dtype="float32", device_map="auto")
    assert seen["device_map"] == "auto" and mapped.loaded.device == "cpu"
    for a, b in zip(mapped.rank(requests()), kosmos2_backend.rank(requests()), strict=True):
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs, strict=True)) < TOL


def test_kosmos2_text_is_stripped_as_its_official_processor_strips_it(kosmos2_backend):
    """A template ending in a space ("...Answer: ", or text before an image) must not add a lone "▁" token:
    the official processor strips its text."""
    processor, adapter = kosmos2_backend.loaded.processor, kosmos2_backend.adapter
    image = make_image(3)
    official = processor(images=image, text="An image of ", num_image_tokens=8)["input_ids"]
    assert adapter.encode(Context.of(image_input(3), "An image of ")).ids == official
    with_space = adapter.encode(Context.of("Description of a bird: small and brown. ", image_input(3), "Answer:"))
    without = adapter.encode(Context.of("Description of a bird: small and brown.", image_input(3), "Answer:"))
    assert with_space.ids == without.ids and with_space.image_slots == without.image_slots
    spaced, plain = kosmos2_backend.rank(
        [
            RankRequest(Context.of(image_input(3), "An image of "), (" a cat",)),
            RankRequest(Context.of(image_input(3), "An image of"), (" a cat",)),
        ]
    )
    assert spaced.num_tokens == plain.num_tokens and spaced.logprobs == pytest.approx(plain.logprobs, abs=1e-6)
