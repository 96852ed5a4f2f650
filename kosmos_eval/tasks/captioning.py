"""Image captioning on the Karpathy test splits of COCO and Flickr30k (KOSMOS-1 §4.1.1, Tables 2-3).

The model completes "An image of" after the image with beam search; the caption is scored as a corpus by
pycocoevalcap's own scorers (PTB tokenizer, BLEU, METEOR, ROUGE-L, CIDEr-D, and SPICE where it can run),
so the numbers equal COCOEvalCap's. Few-shot demos come from the Karpathy training split (train + restval).

Without a folder of the official files both tasks read their declared hub copies (kosmos_eval/data/sources/):
Flickr30k one copy with every split, COCO two joined on the file name (Karpathy's split list, and the val2014
images), which serve test and val but not the train2014 demonstration pool. The items are the ones the
official reader makes, so scores and the COCO results export do not depend on where the data came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from kosmos_eval.core.registry import register_task
from kosmos_eval.core.types import DataStatus, Example
from kosmos_eval.data.hub import hub_status
from kosmos_eval.data.hub_load import is_hub_snapshot, open_copy
from kosmos_eval.data.hub_source import HubCopy, HubTable, hub_source
from kosmos_eval.errors import DataError
from kosmos_eval.formats.captions import (
    CaptionItem,
    locate,
    read_caption_results,
    read_coco_captions,
    read_karpathy,
    write_caption_results,
)
from kosmos_eval.formats.captions_hub import coco_hub_items, flickr_hub_items, lost_rows_note
from kosmos_eval.metrics import MetricValue
from kosmos_eval.metrics.base import StreamingMetric
from kosmos_eval.metrics.caption_metric import CaptionCorpus
from kosmos_eval.metrics.captioning import MEAN_OF_PER_IMAGE, bootstrap_corpus_cis, score_captions
from kosmos_eval.metrics.resample import ExampleMetric
from kosmos_eval.tasks.base import Scores
from kosmos_eval.tasks.capabilities import AnnotationFiles, DemoImages, EnvironmentChecked, Exports, StreamingScored
from kosmos_eval.tasks.generation import GenerationTask
from kosmos_eval.tasks.hub import HubData

# our metric names (summary keys) <- COCOEvalCap's; the headline first
METRIC_NAMES = {
    "cider": "CIDEr",
    "spice": "SPICE",
    "bleu_1": "Bleu_1",
    "bleu_2": "Bleu_2",
    "bleu_3": "Bleu_3",
    "bleu_4": "Bleu_4",
    "meteor": "METEOR",
    "rouge_l": "ROUGE_L",
}


def demo_caption(reference: str) -> str:
    """A reference as it continues "An image of": stripped, first word lower-cased unless it is an acronym or
    "I" ("A man riding a horse." -> "a man riding a horse.")."""
    text = " ".join(reference.split())
    first, _, rest = text.partition(" ")
    if first and first != "I" and not (len(first) > 1 and first.isupper()):
        first = first[0].lower() + first[1:]
    return f"{first} {rest}".strip()


class CaptionTask(StreamingScored, EnvironmentChecked, Exports, AnnotationFiles, DemoImages, HubData, GenerationTask):
    dataset: ClassVar[str]
    family = "perception-language"
    metrics = tuple(METRIC_NAMES)
    shots = (0, 2, 4, 8)
    splits = ("test", "val", "train")
    default_split = "test"
    demo_split = "train"
    options: ClassVar[dict[str, str]] = {"max_new_tokens": "caption length in tokens (default 20)"}

    @cached_property
    def captions(self) -> CaptionCorpus:
        """The caption metric `aggregate` scores with: a streaming metric, so the runner feeds it each caption
        as it is made and its scoring process works while the model computes (metrics/caption_metric.py)."""
        return CaptionCorpus(lambda example: (example.fields["image_id"], example.fields["references"]))

    def streaming_metrics(self) -> tuple[StreamingMetric, ...]:
        return (self.captions,)

    def check_environment(self) -> None:
        self.captions.check()  # Java, before anything else is read

    def start_services(self) -> None:
        self.captions.start()  # the scoring process loads while the model loads

    def locate_data(self, data_dir: Path) -> str:
        where = locate(data_dir, self.dataset)
        return f"{where.karpathy_file} + {where.image_root}"

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        items = self.hub_items(split, data_dir)
        if items is None:
            data_dir = self.require_data(data_dir)
            where = locate(data_dir, self.dataset)
            items = read_karpathy(where.karpathy_file, where.image_root, data_dir, split)
        return [self._example(item) for item in items]

    def hub_items(self, split: str, data_dir: Path | None) -> list[CaptionItem] | None:
        """`split` from the task's hub copy (`HubData.open_hub` decides when), or None for the official files."""
        raise NotImplementedError

    def load_annotations(self, annotations: Path, questions: Path | None, split: str) -> list[Example]:
        """A Karpathy split file (its `split` part) or COCO-format caption annotations, without images."""
        folder = annotations.parent
        if annotations.name.startswith("dataset_"):
            items = read_karpathy(annotations, folder, folder, split)
        else:
            items = read_coco_captions(annotations, folder, folder)
        return [self._example(item) for item in items]

    @staticmethod
    def _example(item: CaptionItem) -> Example:
        return Example(
            id=str(item.image_id),
            images={"image": (item.image,)},
            fields={
                "image_id": item.image_id,
                "references": list(item.references),
                "caption": demo_caption(item.references[0]),  # what a demonstration shows
            },
        )

    def read_predictions(self, path: Path) -> dict[str, str]:
        return {str(image_id): caption for image_id, caption in read_caption_results(path).items()}

    def score_prediction(self, example: Example, prediction: str) -> dict[str, Any]:
        # captions are scored as a corpus (CIDEr's IDF comes from all references), so the record keeps inputs
        return {
            "image_id": example.fields["image_id"],
            "prediction": prediction,
            "references": example.fields["references"],
        }

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        scores = self.captions.score(records)
        metrics: dict[str, MetricValue] = {}
        # where the corpus score is a mean over images, bootstrap it (one draw for all of them)
        means = [name for name in METRIC_NAMES.values() if name in scores.corpus and name in MEAN_OF_PER_IMAGE]
        intervals = bootstrap_corpus_cis({name: scores.per_image[name] for name in means}, seed=self.seed)
        for ours, theirs in METRIC_NAMES.items():
            if theirs not in scores.corpus:
                continue
            value = scores.corpus[theirs]
            if theirs in intervals:
                interval = intervals[theirs]
                metrics[ours] = MetricValue(value, interval.ci_low, interval.ci_high, len(records))
            else:  # BLEU and METEOR pool counts over the corpus: no per-image bootstrap gives their CI
                metrics[ours] = MetricValue(value, None, None, len(records))
        return Scores(metrics, notes=list(scores.skipped.values()))

    def example_metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, ExampleMetric]:
        """CIDEr, SPICE and ROUGE-L as per-image scores (a resample keeps the IDF of the records given);
        BLEU and METEOR pool counts over the corpus and have no per-image form."""
        if not records:
            return {}
        scores = score_captions(
            {r["image_id"]: r["prediction"] for r in records}, {r["image_id"]: r["references"] for r in records}
        )
        theirs_to_ours = {theirs: ours for ours, theirs in METRIC_NAMES.items()}
        return {
            theirs_to_ours[name]: ExampleMetric({str(r["id"]): per_image[r["image_id"]] for r in records})
            for name, per_image in scores.per_image.items()
            if name in MEAN_OF_PER_IMAGE and name in theirs_to_ours
        }

    def export(self, records: Sequence[dict[str, Any]], run_dir: Path, split: str) -> dict[str, str]:
        path = run_dir / f"captions_{self.name}_{split}_results.json"
        write_caption_results(path, [(r["image_id"], r["prediction"]) for r in records])
        return {"captions (COCO results format)": str(path)}


# a local copy of COCO's hub data: the split list's repo, with the image copy's repo downloaded into this folder
IMAGE_COPY_FOLDER = "COCO-Caption"


@register_task("coco_caption")
class CocoCaptionTask(CaptionTask):
    dataset = "coco"
    data_needed = "dataset_coco.json (Karpathy splits) and the COCO train2014/val2014 images (docs/data.md)"
    description = "COCO captioning, Karpathy test (5,000 images): CIDEr, SPICE, BLEU, METEOR, ROUGE-L"

    @property
    def image_tables(self) -> dict[str, HubTable]:
        """The image copy's splits this task joined, by our split name (`hub_tables` holds the split lists)."""
        tables: dict[str, HubTable] | None = self.__dict__.get("_image_tables")
        if tables is None:
            tables = self.__dict__["_image_tables"] = {}
        return tables

    def image_copy(self) -> HubCopy:
        """The declared copy holding the val2014 pixels (the second of coco_caption.yaml)."""
        source = hub_source(self.name)
        if source is None or len(source.copies) < 2:
            raise DataError(f"{self.name}: the hub declaration must list the split list and the image copy")
        return source.copies[1]

    def hub_items(self, split: str, data_dir: Path | None) -> list[CaptionItem] | None:
        """Karpathy's split list joined with the image copy; a Karpathy image the image copy lacks is left out and
        counted in the run's why_not_paper (the run is then not the paper's split), none at all is an error."""
        listed = self.open_hub(split, data_dir)
        if listed is None:
            if data_dir is not None and is_hub_snapshot(data_dir / IMAGE_COPY_FOLDER):
                raise DataError(f"{data_dir}: {self._layout()}; this folder is not such a download")
            return None
        images = open_copy(self.name, self.image_copy(), split, self._image_folder(data_dir))
        self.image_tables[split] = images
        joined = coco_hub_items(listed, images)
        if joined.missing:
            listed.why_not_paper.append(lost_rows_note(joined, listed, images))
        return joined.items

    def _image_folder(self, data_dir: Path | None) -> Path | None:
        if data_dir is None:
            return None
        folder = data_dir / IMAGE_COPY_FOLDER
        if not is_hub_snapshot(folder):
            raise DataError(f"{data_dir}: no {IMAGE_COPY_FOLDER}/ with the images; {self._layout()}")
        return folder

    def _layout(self) -> str:
        listed, images = hub_source(self.name).default.id, self.image_copy().id  # type: ignore[union-attr]
        return (
            f"a local copy of {self.name}'s hub data is {listed} downloaded into the folder and {images} into its "
            f"{IMAGE_COPY_FOLDER}/ (hf download {images} --repo-type dataset --local-dir DIR/{IMAGE_COPY_FOLDER})"
        )

    def data_status(self, data_dir: Path | None) -> DataStatus:
        status = super().data_status(data_dir)
        if not status.found or (data_dir is not None and not is_hub_snapshot(data_dir)):
            return status  # the official files, or the split list is missing already
        if data_dir is not None:
            try:
                return DataStatus(True, f"{status.where}, images in {self._image_folder(data_dir)}")
            except DataError as exc:
                return DataStatus(False, f"missing: {exc}")
        copy = self.image_copy()
        images = hub_status(copy.id, copy.config, f"pass --data-dir with {self.data_needed}")
        return DataStatus(images.found, f"{status.where}; images: {images.where}")

    def hub_provenance(self, split: str) -> dict[str, Any] | None:
        """Both copies: the id names the pair (a run on another pair is another run), `images` the image copy's
        own record, and either copy's reasons make the run not the paper's split."""
        listed = super().hub_provenance(split)
        table = self.image_tables.get(split)
        if listed is None or table is None:
            return listed
        images = table.provenance()
        revisions = (listed["revision"], images["revision"])
        return {
            **listed,
            "id": f"{listed['id']} + {images['id']}",
            "revision": None if revisions == (None, None) else " + ".join(r or "default" for r in revisions),
            "images": images,
            "paper_split": listed["paper_split"] and images["paper_split"],
            "why_not_paper": [*listed["why_not_paper"], *images["why_not_paper"]],
        }


@register_task("flickr30k")
class Flickr30kTask(CaptionTask):
    dataset = "flickr30k"
    data_needed = "dataset_flickr30k.json (Karpathy splits) and the Flickr30k images (docs/data.md)"
    description = "Flickr30k captioning, Karpathy test (1,000 images): CIDEr, SPICE, BLEU, METEOR, ROUGE-L"

    def hub_items(self, split: str, data_dir: Path | None) -> list[CaptionItem] | None:
        table = self.open_hub(split, data_dir)
        return None if table is None else flickr_hub_items(table)
