"""COCO caption metrics exactly as COCOEvalCap computes them (pycocoevalcap's scorers, jars and arithmetic).

KOSMOS-1 reports CIDEr (headline) and SPICE computed with COCOEvalCap (github.com/salaniz/pycocoevalcap).
`score_captions` tokenises references and predictions with the PTB tokenizer (ptb.py: pycocoevalcap's jar
through our driver) and scores them with BLEU-4, METEOR 1.5 (meteor.py: pycocoevalcap's jar, one long-lived
process), ROUGE-L and CIDEr-D split into a per-image half and a corpus half (caption_parts.py: pycocoevalcap's
own BLEU, ROUGE and n-gram functions, and CIDEr-D's arithmetic written to give the same floats), so that a
run can score its captions while the GPU writes the next ones (caption_service.py). It adds input checks,
clear errors and a per-image table keyed by image id. SPICE needs Stanford CoreNLP jars that pycocoevalcap
downloads on first use, so here it runs only where they are already present.
Details and the upstream version checked: docs/metrics/captioning.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kosmos_eval.errors import DataError, UserError
from kosmos_eval.metrics import caption_parts
from kosmos_eval.metrics.base import MetricValue, mean_metrics
from kosmos_eval.metrics.ptb import tokenize_groups

if TYPE_CHECKING:
    from kosmos_eval.metrics.caption_service import CaptionStream

ImageId = int | str

BLEU = caption_parts.BLEU
METRICS = (*BLEU, "METEOR", "ROUGE_L", "CIDEr", "SPICE")  # COCOEvalCap's names and order
# Metrics whose corpus score is exactly the mean of the per-image scores (BLEU and METEOR pool statistics).
MEAN_OF_PER_IMAGE = frozenset({"ROUGE_L", "CIDEr", "SPICE"})

CORENLP_JARS = ("lib/stanford-corenlp-3.6.0.jar", "lib/stanford-corenlp-3.6.0-models.jar")
_JAVA_HINT = (
    "install a Java runtime (Debian/Ubuntu: apt-get install default-jre-headless; conda: conda install -c "
    "conda-forge openjdk) and make sure `java -version` works"
)


@dataclass
class CaptionScores:
    """Corpus scores on pycocoevalcap's scale (0..1; CIDEr-D about 0..10, reported x100 in papers), per-image
    scores keyed by metric then image id, and the metrics not computed with the reason."""

    corpus: dict[str, float]
    per_image: dict[str, dict[ImageId, float]]
    skipped: dict[str, str] = field(default_factory=dict)


def _java_major(java: str) -> int | None:
    """The major version `java -version` reports (1.8 -> 8); None when it runs but prints no version."""
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"`{java} -version` failed ({exc.__class__.__name__}: {exc}); {_JAVA_HINT}") from exc
    if done.returncode != 0:
        raise UserError(f"`{java} -version` exited with status {done.returncode}; {_JAVA_HINT}")
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def require_java() -> None:
    """Raise a one-line UserError unless a working Java 8+ is on PATH (PTB tokenizer and METEOR need it)."""
    java = shutil.which("java")
    if java is None:
        raise UserError(f"caption metrics need Java 8+ (PTB tokenizer, METEOR) but `java` is not on PATH; {_JAVA_HINT}")
    status = os.stat(java)
    identity = (os.path.realpath(java), status.st_mtime_ns, status.st_size)
    if identity in _JAVA_PASSED:
        return  # checked already in this process (each check starts a JVM: 70 ms a run of a suite)
    major = _java_major(java)
    if major is not None and major < 8:
        raise UserError(f"caption metrics need Java 8+ (PTB tokenizer, METEOR), {java} is Java {major}; {_JAVA_HINT}")
    _JAVA_PASSED.add(identity)


_JAVA_PASSED: set[tuple[str, int, int]] = set()  # the Java binaries found good, as (path, mtime, size)


def _upstream_dir(module: str) -> Path:
    """The folder of a pycocoevalcap scorer: its jars live beside the Python wrapper."""
    from importlib import import_module

    return Path(import_module(f"pycocoevalcap.{module}").__file__).resolve().parent  # type: ignore[arg-type]


def spice_available(spice_dir: Path | None = None) -> tuple[bool, str]:
    """Whether SPICE can run here without downloading anything, and why not when it cannot.

    Needs spice-1.0.jar and the two Stanford CoreNLP 3.6.0 jars in pycocoevalcap's spice/ folder (which must
    be writable: SPICE keeps its tmp/ and cache/ there), and Java 8+. SPICE 1.0's cache library fails on Java
    16+ unless JDK_JAVA_OPTIONS opens java.base with `--add-opens` (see docs/metrics/captioning.md).
    """
    folder = spice_dir or _upstream_dir("spice.spice")
    missing = [name for name in ("spice-1.0.jar", *CORENLP_JARS) if not (folder / name).is_file()]
    if missing:
        return False, (
            f"missing {', '.join(missing)} in {folder} (pycocoevalcap downloads them on first use; "
            "docs/metrics/captioning.md says where to put them)"
        )
    if not os.access(folder, os.W_OK):
        return False, f"{folder} is not writable (SPICE writes its tmp/ and cache/ folders there)"
    java = shutil.which("java")
    if java is None:
        return False, "`java` is not on PATH"
    try:
        major = _java_major(java)
    except UserError as exc:
        return False, str(exc)
    if major is not None and major < 8:
        return False, f"SPICE needs Java 8+, {java} is Java {major}"
    if major is not None and major >= 16 and "--add-opens" not in os.environ.get("JDK_JAVA_OPTIONS", ""):
        return False, (
            f"{java} is Java {major}: SPICE 1.0 fails on Java 16+ (InaccessibleObjectException in its FST cache); "
            "put Java 8-15 first on PATH, or set JDK_JAVA_OPTIONS with --add-opens (docs/metrics/captioning.md)"
        )
    return True, f"jars found in {folder}"


def _check_inputs(predictions: Mapping[Any, str], references: Mapping[Any, Sequence[str]]) -> None:
    if not references:
        raise DataError("no images to score: the references are empty")
    for image_id, refs in references.items():
        if isinstance(image_id, bool) or not isinstance(image_id, (int, str)):
            raise DataError(f"image id {image_id!r} must be an int or a string")
        if image_id not in predictions:
            as_int = isinstance(image_id, int)
            other = str(image_id) if as_int else int(image_id) if image_id.isdecimal() else None
            kinds = ("string", "int") if as_int else ("int", "string")
            hint = " (predictions use {} ids, references {} ids)".format(*kinds) if other in predictions else ""
            raise DataError(f"no prediction for image id {image_id!r}{hint}; predictions must cover every image")
        if isinstance(refs, str) or not isinstance(refs, Sequence) or not refs:
            raise DataError(f"image {image_id!r}: references must be a non-empty list of captions")
        for ref in refs:
            if not isinstance(ref, str):
                raise DataError(f"image {image_id!r}: reference {ref!r} is not a string")
        if not isinstance(predictions[image_id], str):
            raise DataError(f"image {image_id!r}: prediction {predictions[image_id]!r} is not a string")
    extra = [image_id for image_id in predictions if image_id not in references]
    if extra:
        raise DataError(f"prediction for image id {extra[0]!r} has no references ({len(extra)} such ids)")


def _tokenize(
    references: Mapping[Any, Sequence[str]], predictions: Mapping[Any, str]
) -> tuple[dict[Any, list[str]], dict[Any, list[str]]]:
    """References and predictions PTB-tokenised as COCOEvalCap tokenises them (ptb.py), checking alignment."""
    gts, res = tokenize_groups([references, {image_id: [predictions[image_id]] for image_id in references}])
    for image_id, texts in references.items():
        if len(gts.get(image_id, ())) != len(texts) or len(res.get(image_id, ())) != 1:
            raise UserError(f"the PTB tokenizer lost captions of image {image_id!r}; check that `java -version` works")
    return gts, res


def _spice(gts: dict, res: dict) -> tuple[float, dict[Any, float]]:
    """SPICE F-score per image (its "All" category) and pycocoevalcap's corpus mean.

    Upstream returns per-image scores in sorted-id order (COCOEvalCap then pairs them with ids in file order,
    mislabelling them when the file is not sorted); we pair them with the sorted ids they belong to.
    """
    from pycocoevalcap.spice.spice import Spice

    try:
        ordered = sorted(gts)
    except TypeError:
        raise DataError("SPICE needs image ids of one type (all int or all string)") from None
    try:
        score, scores = Spice().compute_score(gts, res)
    except subprocess.CalledProcessError as exc:
        raise UserError(f"SPICE (java -jar -Xmx8G spice-1.0.jar) failed with status {exc.returncode}") from exc
    return float(score), {image_id: float(s["All"]["f"]) for image_id, s in zip(ordered, scores, strict=True)}


def score_captions(
    predictions: Mapping[ImageId, str],
    references: Mapping[ImageId, Sequence[str]],
    spice: bool | None = None,
    stream: CaptionStream | None = None,
) -> CaptionScores:
    """BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (and SPICE) exactly as COCOEvalCap.evaluate computes them.

    Images are scored in the order of `references` (COCOEvalCap uses the annotation file's image order; the
    order only changes the last bits of corpus means). References and predictions are tokenised with the PTB
    tokenizer and the tokenised captions go to BLEU-4, METEOR, ROUGE-L, CIDEr-D (and SPICE). `spice`: True
    requires SPICE (UserError when it cannot run), None runs it when `spice_available()`, False skips it.
    Predictions and references must cover the same image ids. `stream`: the run's corpus in the caption
    scoring process (caption_service.py), which has scored most captions already; when it cannot answer, the
    scores are computed here, the same numbers.
    """
    _check_inputs(predictions, references)
    require_java()
    run_spice, skipped = spice_plan(spice)
    if stream is not None:
        streamed = stream.finish(predictions, references, run_spice, skipped)
        if streamed is not None:
            return streamed
    gts, res = _tokenize(references, predictions)
    corpus = caption_parts.prepare_references(gts)
    per_image_parts = caption_parts.score_hypotheses(corpus, {image_id: res[image_id][0] for image_id in gts})
    return finish_scores(corpus, per_image_parts, list(gts), run_spice, skipped)


def spice_plan(spice: bool | None) -> tuple[bool, dict[str, str]]:
    """Whether SPICE runs (`spice` as `score_captions` takes it) and, when not, the note saying why."""
    if spice is False:
        return False, {"SPICE": "SPICE skipped: not requested (spice=False)"}
    available, reason = spice_available()
    if spice and not available:
        raise UserError(f"SPICE was requested but cannot run: {reason}")
    return available, {} if available else {"SPICE": f"SPICE skipped: {reason}"}


def finish_scores(
    corpus: caption_parts.CorpusReferences,
    per_image_parts: Mapping[ImageId, caption_parts.ImageScores],
    order: Sequence[ImageId],
    run_spice: bool,
    skipped: dict[str, str],
) -> CaptionScores:
    """The corpus half of every metric (and SPICE, which has no per-image half, where it runs)."""
    corpus_scores, per_image = caption_parts.combine(corpus, per_image_parts, order)
    if run_spice:
        gts = {image_id: corpus.images[image_id].tokens for image_id in order}
        res = {image_id: [per_image_parts[image_id].hypothesis] for image_id in order}
        corpus_scores["SPICE"], spice_scores = _spice(gts, res)
        per_image["SPICE"] = {image_id: spice_scores[image_id] for image_id in order}
    return CaptionScores(corpus=corpus_scores, per_image=per_image, skipped=skipped)


def bootstrap_corpus_ci(per_image: Mapping[Any, float] | Sequence[float], seed: int) -> MetricValue:
    """`bootstrap_corpus_cis` of one metric."""
    return bootstrap_corpus_cis({"metric": per_image}, seed)["metric"]


def bootstrap_corpus_cis(
    per_image: Mapping[str, Mapping[Any, float] | Sequence[float]], seed: int
) -> dict[str, MetricValue]:
    """Means of per-image scores (metric -> scores) with seeded percentile-bootstrap 95% CIs over images.

    Resampling images and averaging their scores keeps CIDEr-D's document frequencies fixed at those of the
    full evaluated set, an approximation: a true resample would recompute the IDF from the resampled
    references. For CIDEr, ROUGE_L and SPICE the value equals the corpus score; BLEU and METEOR pool counts
    over the corpus, so for them this is the CI of the per-image mean, a different statistic. Several metrics
    (same images) share one resample draw; each interval is what that metric alone would get.
    """
    columns = {
        name: list(scores.values()) if isinstance(scores, Mapping) else list(scores)
        for name, scores in per_image.items()
    }
    return mean_metrics(columns, seed)
