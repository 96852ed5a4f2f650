"""COCOEvalCap's caption scores of a run as a streaming metric: scored while the model writes the next captions.

Why a metric object: scoring a caption corpus costs about a millisecond of CPU per image, so it is done in the
caption scoring process (caption_service.py) as the captions are made, and only the corpus half is left when
the run ends. That overlap is the metric's own business: the runner only begins it with the run's examples and
feeds it records (metrics/base.py `StreamingMetric`), and the task's `aggregate` asks it for the scores. The
scores are `score_captions` of the records given, whether or not they were fed (tests/test_caption_service.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kosmos_eval.core.progress import notice
from kosmos_eval.core.types import Example
from kosmos_eval.metrics import caption_service
from kosmos_eval.metrics.base import StreamingMetric
from kosmos_eval.metrics.captioning import CaptionScores, ImageId, require_java, score_captions

# what a caption record holds: the image it describes, the caption made for it and the image's references
IMAGE_ID, PREDICTION, REFERENCES = "image_id", "prediction", "references"

log = logging.getLogger(__name__)


class CaptionCorpus(StreamingMetric):
    """One run's caption corpus: begun with the run's examples (their references), fed caption records
    ({"image_id", "prediction", "references"}), scored by `score`.

    `references(example)` gives an example's (image id, reference captions): where a task keeps them is the
    task's business. One corpus at a time: `score` ends the one begun, and the next run begins its own.
    """

    def __init__(self, references: Callable[[Example], tuple[ImageId, Sequence[str]]]) -> None:
        self.references = references
        self.stream: caption_service.CaptionStream | None = None

    @staticmethod
    def check() -> None:
        """A missing or too old Java, said in one line before hours of generation."""
        require_java()

    @staticmethod
    def start() -> None:
        """Start the scoring process (and its METEOR) now: called once the data passed its checks and before
        the model loads, so both start while it loads."""
        caption_service.shared_process()

    def begin(self, examples: Sequence[Example]) -> None:
        # the scoring process prepares the references (PTB tokens, CIDEr-D's document frequencies) right away
        self.stream = caption_service.begin(dict(self.references(example) for example in examples))

    def feed(self, records: Sequence[Mapping[str, Any]]) -> None:
        if self.stream is not None:  # the stream sends only captions it has not sent yet
            self.stream.add({record[IMAGE_ID]: record[PREDICTION] for record in records})

    def score(self, records: Sequence[Mapping[str, Any]], spice: bool | None = None) -> CaptionScores:
        """`score_captions` of these records (images in their order); the scoring process answers where it
        was begun with exactly these images and references, and is sent any caption it lacks (a resumed
        run's earlier records); elsewhere the records are scored here, with the same numbers."""
        stream, self.stream = self.stream, None  # one corpus per run
        predictions = {record[IMAGE_ID]: record[PREDICTION] for record in records}
        references = {record[IMAGE_ID]: record[REFERENCES] for record in records}
        notice(log, "scoring %d captions (COCOEvalCap, Java): waiting for the caption scorer", len(predictions))
        return score_captions(predictions, references, spice=spice, stream=stream)
