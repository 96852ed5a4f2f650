"""COCOEvalCap's BLEU, METEOR, ROUGE-L and CIDEr-D split into a per-image half and a corpus half.

Why: a captioning run can then score each caption while the GPU writes the next ones (caption_service.py)
and leave only the cheap corpus half for the end, and the one-shot scoring of a finished run
(`score_captions`) is the same code in one go. The parts, all on PTB-tokenised captions (ptb.py):

- references, once per corpus (`prepare_references`): BLEU's cooked references (pycocoevalcap's
  `bleu_scorer.cook_refs`), CIDEr's n-gram counts (its `cider_scorer.precook`), and from all images'
  references together CIDEr-D's document frequencies and log corpus size, then each reference's tf-idf vector;
- each caption (`score_hypotheses`): BLEU's cooked test (pycocoevalcap's `cook_test`), ROUGE-L
  (pycocoevalcap's `Rouge.calc_score`), CIDEr-D, and METEOR's statistics line and score (meteor.py);
- the corpus (`combine`): BLEU from the summed counts (pycocoevalcap's `BleuScorer.compute_score`, option
  "closest"), METEOR from the summed statistics lines (meteor.py's `corpus_score`, equal to the jar's EVAL of
  all lines), ROUGE-L and CIDEr-D as the mean over images.

CIDEr-D is our own code, because pycocoevalcap computes the document frequencies inside the same call that
scores every image. It does what `CiderScorer.compute_cider` does, with the same numpy operations in the same
order so that the floats are the same: a document frequency counts the images whose references contain an
n-gram (each image once); an n-gram's weight is its count times (log N - log max(1, df)), N the number of
images; vector norms per n-gram length; the similarity of caption and reference adds, per length,
min(caption weight, reference weight) x reference weight over the caption's n-grams, divides by both norms
when neither is zero and multiplies by exp(-delta^2 / (2 sigma^2)) with sigma 6, where delta is the
difference of the two "lengths", which upstream counts as the number of bigrams, not words (kept); the image's
score is the mean over the four lengths of the summed similarities, divided by the number of references,
times 10. tests/test_caption_metrics.py checks every metric against COCOEvalCap itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kosmos_eval.metrics import meteor

NGRAMS = 4
SIGMA = 6.0
BLEU = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4")

Vector = tuple[list[dict[tuple[str, ...], Any]], list[Any], int]  # per-length weights, norms, "length"


@dataclass
class ImageReferences:
    tokens: list[str]  # the PTB-tokenised references
    bleu: tuple  # pycocoevalcap's cook_refs
    vectors: list[Vector]  # CIDEr-D tf-idf vector of each reference


@dataclass
class ImageScores:
    """The per-image half of every metric for one caption."""

    hypothesis: str  # the PTB-tokenised caption
    bleu: dict[str, Any]  # pycocoevalcap's cook_test
    rouge: float
    cider: float
    meteor: str  # METEOR's statistics line, summed over the corpus for its METEOR score
    meteor_score: float  # this image's METEOR score


@dataclass
class CorpusReferences:
    images: dict[Any, ImageReferences]
    document_frequency: dict[tuple[str, ...], float]
    log_images: Any  # np.log(N), a numpy float as upstream has it


def prepare_references(tokenized: Mapping[Any, Sequence[str]]) -> CorpusReferences:
    """The reference half of every metric for a corpus (image id -> PTB-tokenised references)."""
    from pycocoevalcap.bleu.bleu_scorer import cook_refs
    from pycocoevalcap.cider.cider_scorer import precook

    counts = {image_id: [precook(ref, NGRAMS) for ref in refs] for image_id, refs in tokenized.items()}
    frequency: dict[tuple[str, ...], float] = {}
    for per_ref in counts.values():
        for ngram in {ngram for ref in per_ref for ngram in ref}:
            frequency[ngram] = frequency.get(ngram, 0.0) + 1
    log_images = np.log(float(len(tokenized)))
    images = {
        image_id: ImageReferences(
            tokens=list(refs),
            bleu=cook_refs(refs),
            vectors=[_vector(ref, frequency, log_images) for ref in counts[image_id]],
        )
        for image_id, refs in tokenized.items()
    }
    return CorpusReferences(images, frequency, log_images)


def score_hypotheses(corpus: CorpusReferences, hypotheses: Mapping[Any, str]) -> dict[Any, ImageScores]:
    """The per-image half of every metric for tokenised captions (image id -> caption) of `corpus`'s images."""
    from pycocoevalcap.bleu.bleu_scorer import cook_test
    from pycocoevalcap.cider.cider_scorer import precook
    from pycocoevalcap.rouge.rouge import Rouge

    rouge = Rouge()
    ids = list(hypotheses)
    pairs = [(corpus.images[image_id].tokens, hypotheses[image_id]) for image_id in ids]

    def statistics_and_scores(process: meteor.MeteorProcess) -> tuple[list[str], list[float]]:
        stats = process.statistics(pairs)
        return stats, process.evaluate(stats)[1]

    stats, meteor_scores = meteor.with_shared(statistics_and_scores)
    scores = {}
    for image_id, meteor_stats, meteor_score in zip(ids, stats, meteor_scores, strict=True):
        refs, hypothesis = corpus.images[image_id], hypotheses[image_id]
        vector = _vector(precook(hypothesis, NGRAMS), corpus.document_frequency, corpus.log_images)
        scores[image_id] = ImageScores(
            hypothesis=hypothesis,
            bleu=cook_test(hypothesis, refs.bleu),
            rouge=rouge.calc_score([hypothesis], refs.tokens),
            cider=_cider(vector, refs.vectors),
            meteor=meteor_stats,
            meteor_score=meteor_score,
        )
    return scores


def combine(
    corpus: CorpusReferences, scores: Mapping[Any, ImageScores], order: Sequence[Any]
) -> tuple[dict[str, float], dict[str, dict[Any, float]]]:
    """(corpus score per metric, per-image scores per metric) over the images in `order`, as COCOEvalCap
    computes them when its images come in that order."""
    from pycocoevalcap.bleu.bleu_scorer import BleuScorer

    images = [scores[image_id] for image_id in order]
    bleu = BleuScorer(n=NGRAMS)
    bleu.crefs = [corpus.images[image_id].bleu for image_id in order]
    bleu.ctest = [image.bleu for image in images]
    bleu_corpus, bleu_per_image = bleu.compute_score(option="closest")
    meteor_corpus = meteor.with_shared(lambda process: process.corpus_score([i.meteor for i in images]))
    meteor_per_image = [image.meteor_score for image in images]
    corpus_scores: dict[str, float] = {}
    per_image: dict[str, dict[Any, float]] = {}
    named = [(name, bleu_corpus[k], bleu_per_image[k]) for k, name in enumerate(BLEU)]
    named.append(("METEOR", meteor_corpus, meteor_per_image))
    for name, values in (("ROUGE_L", [i.rouge for i in images]), ("CIDEr", [i.cider for i in images])):
        named.append((name, np.mean(np.array(values)), values))
    for name, value, values in named:
        corpus_scores[name] = float(value)
        per_image[name] = {image_id: float(v) for image_id, v in zip(order, values, strict=True)}
    return corpus_scores, per_image


def _vector(counts: Mapping[tuple[str, ...], int], frequency: Mapping, log_images: Any) -> Vector:
    """An n-gram count table as CIDEr-D's tf-idf weights per n-gram length, their norms and its "length"."""
    weights: list[dict[tuple[str, ...], Any]] = [{} for _ in range(NGRAMS)]
    norms = [0.0] * NGRAMS
    length = 0
    for ngram, term_frequency in counts.items():
        document_frequency = np.log(max(1.0, frequency.get(ngram, 0.0)))
        n = len(ngram) - 1
        weight = float(term_frequency) * (log_images - document_frequency)
        weights[n][ngram] = weight
        norms[n] += pow(weight, 2)
        if n == 1:  # upstream's length: the number of bigrams
            length += term_frequency
    return weights, [np.sqrt(norm) for norm in norms], length


def _cider(hypothesis: Vector, references: Sequence[Vector]) -> float:
    """One image's CIDEr-D: the summed similarities to its references, averaged over n-gram lengths, per
    reference, times 10."""
    weights, norms, length = hypothesis
    score = np.array([0.0] * NGRAMS)
    for ref_weights, ref_norms, ref_length in references:
        delta = float(length - ref_length)
        similarity = np.array([0.0] * NGRAMS)
        for n in range(NGRAMS):
            for ngram, weight in weights[n].items():
                ref_weight = ref_weights[n].get(ngram, 0.0)
                similarity[n] += min(weight, ref_weight) * ref_weight
            if norms[n] != 0 and ref_norms[n] != 0:
                similarity[n] /= norms[n] * ref_norms[n]
            if math.isnan(similarity[n]):
                raise ValueError("CIDEr-D similarity is NaN")
            similarity[n] *= np.e ** (-(delta**2) / (2 * SIGMA**2))
        score += similarity
    average = np.mean(score)
    average /= len(references)
    average *= 10.0
    return float(average)
