"""Zero-shot ImageNet (exact ranking with top-5, constrained beam, free generation) and classification with
descriptions (CUB pairs, both settings side by side), end to end with scripted backends, the tiny model and
the chance backend; plus the answer-to-candidate matching rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kosmos_eval.config import RunConfig
from kosmos_eval.generators.pictures import make_image
from kosmos_eval.metrics.matching import match_candidate
from kosmos_eval.runner.run import evaluate
from kosmos_eval.tasks.imagenet import ImageNetTask
from tests.backends import ScriptedBackend, ScriptedRanker

SYNSETS = [
    ("n01440764", "tench, Tinca tinca"),
    ("n01443537", "goldfish, Carassius auratus"),
    ("n01484850", "great white shark, white shark, man-eater"),
    ("n01491361", "tiger shark, Galeocerdo cuvieri"),
    ("n01494475", "hammerhead, hammerhead shark"),
    ("n01496331", "electric ray, crampfish, numbfish"),
]
NAMES = [words.split(",")[0] for _, words in SYNSETS]


def write_imagenet(root: Path, per_class: int = 2) -> Path:
    """Synset folders plus LOC_synset_mapping.txt; image k of class c is ILSVRC2012_val_<c * per_class + k + 1>."""
    (root / "val").mkdir(parents=True)
    (root / "LOC_synset_mapping.txt").write_text("".join(f"{wnid} {words}\n" for wnid, words in SYNSETS))
    for c, (wnid, _) in enumerate(SYNSETS):
        for k in range(per_class):
            path = root / "val" / wnid / f"ILSVRC2012_val_{c * per_class + k + 1:08d}.JPEG"
            path.parent.mkdir(exist_ok=True)
            make_image(c * 10 + k).save(path, format="JPEG")
    return root


def run(task: str, backend, data: Path, out: Path, **options: str):
    config = RunConfig(task=task, backend="scripted", data_dir=str(data), output_dir=str(out), task_options=options)
    return evaluate(config, backend=backend, progress=False)


def records_of(outcome) -> list[dict]:
    return [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]


def true_class(request) -> int:
    number = int(request.context.images[0].key.rsplit("_", 1)[1].split(".")[0])
    return (number - 1) // 2


# --- ImageNet -------------------------------------------------------------------------------------------------


def test_imagenet_rank_top1_and_top5_by_hand(tmp_path) -> None:
    # Scores: class c's image prefers the NEXT class (c + 1) most, its own class second, then by index:
    # top-1 is always wrong, top-5 holds the true class -> top-1 0.0, top-5 1.0.
    def logprob(request, option):
        c, index = true_class(request), NAMES.index(option.strip())
        return 0.0 if index == (c + 1) % 6 else -1.0 if index == c else -2.0 - index

    outcome = run(
        "imagenet", ScriptedRanker(logprob), write_imagenet(tmp_path / "data"), tmp_path / "out", decoding="rank"
    )
    assert outcome.metrics["accuracy"].value == 0.0 and outcome.metrics["top5_accuracy"].value == 1.0
    first = records_of(outcome)[0]
    assert first["prompt"] == "<image1>The photo of the"
    assert (first["label_name"], first["prediction_name"]) == ("tench", "goldfish")
    assert first["top5"] == [1, 0, 2, 3, 4] and first["gold_rank"] == 1
    assert first["gold_logprob"] == -1.0 and first["top5_logprobs"] == [0.0, -1.0, -4.0, -5.0, -6.0]


def test_imagenet_free_generation_is_exact_match_after_normalisation(tmp_path) -> None:
    answers = {0: "Tench", 1: "a goldfish", 2: "great white shark.", 3: "tiger  shark", 4: "shark", 5: "ray"}
    backend = ScriptedBackend(lambda request: answers[true_class(request)])
    outcome = run("imagenet", backend, write_imagenet(tmp_path / "data"), tmp_path / "out", decoding="free")
    correct = {r["label"]: r["correct"] for r in records_of(outcome)}
    assert correct == {0: True, 1: False, 2: True, 3: True, 4: False, 5: False}
    assert outcome.metrics["accuracy"].value == pytest.approx(3 / 6) and "top5_accuracy" not in outcome.metrics
    assert backend.requests[0].num_beams == 2 and not backend.requests[0].constrained
    assert outcome.scores.notes == ["free generation: 6 of 12 outputs are not any class name"]


def test_imagenet_constrained_beam_on_the_tiny_model_only_emits_class_names(tmp_path, kosmos2_backend) -> None:
    data = write_imagenet(tmp_path / "data", per_class=1)
    config = RunConfig(task="imagenet", backend="hf", data_dir=str(data), output_dir=str(tmp_path / "beam"))
    beam = {r["id"]: r for r in records_of(evaluate(config, backend=kosmos2_backend, progress=False))}
    assert all(record["generated"] in NAMES and record["prediction"] is not None for record in beam.values())
    config = RunConfig(task="imagenet", backend="hf", data_dir=str(data), output_dir=str(tmp_path / "rank"),
                       task_options={"decoding": "rank"})  # fmt: skip
    ranked = records_of(evaluate(config, backend=kosmos2_backend, progress=False))
    # the recorded ranking is the backend's own scores for that image's request
    task = ImageNetTask(options={"decoding": "rank"})
    example = task.load("validation", data)[0]
    (direct,) = kosmos2_backend.rank(task.build(example, []))
    assert ranked[0]["top5_logprobs"] == pytest.approx(sorted(direct.logprobs, reverse=True)[:5], abs=1e-4)


def test_imagenet_chance_is_one_in_six(tmp_path) -> None:
    config = RunConfig(task="imagenet", backend="chance", data_dir=str(write_imagenet(tmp_path / "d", per_class=20)),
                       output_dir=str(tmp_path / "o"), task_options={"decoding": "rank"})  # fmt: skip
    metrics = evaluate(config, progress=False).metrics
    assert metrics["accuracy"].ci_low <= 1 / 6 <= metrics["accuracy"].ci_high
    assert metrics["top5_accuracy"].ci_low <= 5 / 6 <= metrics["top5_accuracy"].ci_high


def test_imagenet_duplicate_names_are_reported(tmp_path) -> None:
    data = write_imagenet(tmp_path / "data", per_class=1)
    (data / "names.txt").write_text("tench\ncrane\ncrane\ntiger shark\nhammerhead\nelectric ray\n")
    outcome = run("imagenet", ScriptedRanker(lambda r, o: -1.0), data, tmp_path / "out",
                  class_names=str(data / "names.txt"), decoding="rank")  # fmt: skip
    assert "1 class names are shared by several classes ('crane': n01443537, n01484850)" in outcome.scores.notes[0]


# --- classification with descriptions -------------------------------------------------------------------------

THREE_TOED = "It has black and white stripes throughout the body and a yellow crown."
DOWNY = "It has white spots on its black wings and some red on its crown."
WOODPECKERS = [
    {"name": "three toed woodpecker", "description": THREE_TOED},
    {"name": "downy woodpecker", "description": DOWNY},
]


def write_described(root: Path, labels: list[str]) -> Path:
    root.mkdir(parents=True)
    lines = []
    for index, label in enumerate(labels):
        make_image(index).save(root / f"bird{index}.jpg")
        lines.append(json.dumps({"id": f"bird{index}", "image": f"bird{index}.jpg", "general_category": "woodpecker",
                                 "candidates": WOODPECKERS, "label": label}))  # fmt: skip
    (root / "descriptions.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_descriptions_prompt_and_both_settings_side_by_side(tmp_path) -> None:
    # with descriptions the scripted model answers "Downy" (right for bird0, wrong for bird1); without, it
    # answers "woodpecker", which names no single candidate
    backend = ScriptedBackend(lambda r: "Downy. It has" if "Description" in r.context.text else "woodpecker")
    data = write_described(tmp_path / "data", ["downy woodpecker", "three toed woodpecker"])
    outcome = run("cub_descriptions", backend, data, tmp_path / "out")
    assert outcome.metrics["accuracy_with_descriptions"].value == 0.5
    assert outcome.metrics["accuracy_without_descriptions"].value == 0.0
    prompts = {request.context.render() for request in backend.requests}
    assert len(prompts) == 2  # the same two prompts for both birds (only the image differs)
    assert prompts == {
        "Description of three toed woodpecker: It has black and white stripes throughout the body and a yellow crown. "
        "Description of downy woodpecker: It has white spots on its black wings and some red on its crown. "
        "<image1>Question:what is the name of the woodpecker in the picture? Answer:",
        "Candidate: three toed woodpecker. Candidate: downy woodpecker. "
        "<image1>Question:what is the name of the woodpecker in the picture? Answer:",
    }
    first = records_of(outcome)[0]
    assert first["with_descriptions"]["answer"] == "Downy" and first["with_descriptions"]["prediction"] == 1
    assert "without_descriptions: 2 of 2 answers matched no single candidate (wrong)" in outcome.scores.notes


def test_descriptions_on_the_tiny_model_and_one_setting(tmp_path, kosmos2_backend) -> None:
    data = write_described(tmp_path / "data", ["downy woodpecker", "three toed woodpecker"])
    config = RunConfig(task="cub_descriptions", backend="hf", data_dir=str(data), output_dir=str(tmp_path / "o"),
                       task_options={"settings": "with"})  # fmt: skip
    outcome = evaluate(config, backend=kosmos2_backend, progress=False)
    assert list(outcome.metrics) == ["accuracy_with_descriptions"]
    for record in records_of(outcome):
        result = record["with_descriptions"]
        expected = match_candidate(result["answer"], record["names"], "woodpecker")
        assert result["prediction"] == expected and result["correct"] == (expected == record["label"])


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("downy woodpecker", 1),  # the name
        ("Downy", 1),  # a word only that name has (Figure 1's answer)
        ("Three-toed", 0),  # punctuation is a separator: "three toed"
        ("It is a downy woodpecker", 1),  # the full name inside the answer
        ("woodpecker", None),  # the general category decides nothing
        ("downy or three toed", None),  # both: never guessed
        ("", None),
        ("an owl", None),
    ],
)
def test_answer_matching(answer, expected) -> None:
    assert match_candidate(answer, ["three toed woodpecker", "downy woodpecker"], "woodpecker") == expected


def test_full_name_beats_a_shorter_contained_name() -> None:
    # "sparrow" and "fox sparrow": the answer "fox sparrow" equals one name exactly
    assert match_candidate("Fox sparrow", ["sparrow", "fox sparrow"]) == 1
    assert match_candidate("a fox sparrow", ["sparrow", "fox sparrow"]) is None  # contains both names


def test_descriptions_chance_picks_a_candidate_at_random(tmp_path) -> None:
    labels = ["downy woodpecker", "three toed woodpecker"] * 60
    config = RunConfig(task="cub_descriptions", backend="chance", output_dir=str(tmp_path / "o"),
                       data_dir=str(write_described(tmp_path / "data", labels)))  # fmt: skip
    metrics = evaluate(config, progress=False).metrics
    for name in ("accuracy_with_descriptions", "accuracy_without_descriptions"):
        assert metrics[name].ci_low <= 0.5 <= metrics[name].ci_high


def test_imagenet_names_end_where_they_end_and_rank_is_marked_as_no_paper_setting(tmp_path) -> None:
    data = write_imagenet(tmp_path / "data", per_class=1)
    task = ImageNetTask(options={"decoding": "rank"})
    example = task.load("validation", data)[0]
    (ranked,) = task.build(example, [])
    assert ranked.end_of_sequence  # "tiger shark" is not "tiger" plus whatever: the name's end is scored
    constrained = ImageNetTask()  # the default: the paper's "with constraints"
    constrained.load("validation", data)
    (beam,) = constrained.build(example, [])
    assert beam.constrained and beam.end_of_sequence and constrained.variant == ""
    bare = ImageNetTask(options={"name_end": "none", "decoding": "rank"})
    bare.load("validation", data)
    assert not bare.build(example, [])[0].end_of_sequence
    outcome = run("imagenet", ScriptedRanker(lambda r, o: -1.0), data, tmp_path / "out", decoding="rank")
    assert any("not one of the paper's two settings" in note for note in outcome.scores.notes)


def test_imagenet_defaults_to_the_papers_constrained_setting_in_the_folder_an_explicit_option_names(tmp_path) -> None:
    """The default decoding changed from rank to constrained_beam: a plain run and one naming the default share
    a folder, and neither resumes a folder made by rank (which named no option when rank was the default)."""
    data = write_imagenet(tmp_path / "data", per_class=1)

    def folder(**options: str) -> Path:
        config = RunConfig(task="imagenet", backend="chance", data_dir=str(data), output_dir=str(tmp_path / "o"),
                           task_options=options)  # fmt: skip
        return evaluate(config, progress=False).run_dir

    plain, named, ranked = folder(), folder(decoding="constrained_beam"), folder(decoding="rank")
    assert plain == named != ranked
    summary = json.loads((plain / "summary.json").read_text())
    assert summary["variant"] == "" and summary["identity"]["task_options"] == {"decoding": "constrained_beam"}
    assert not any("not one of the paper's two settings" in note for note in summary["notes"])
