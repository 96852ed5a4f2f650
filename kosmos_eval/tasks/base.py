"""The Task contract: load examples, build requests, score outputs, aggregate metrics.

It lives with the tasks, above the metrics and the prompt templates it uses, so that kosmos_eval/core depends
on nothing of the harness but itself (the layering: cli -> runner -> tasks / backends -> metrics / formats /
prompting -> core).

One module per task family under kosmos_eval/tasks, registered with `@register_task`. Tasks keep only what
differs between datasets; prompt text lives in prompts/<task>.yaml, file formats in kosmos_eval/formats,
metrics in kosmos_eval/metrics.

`Task` holds only what every task has: its declaration, `load`, `build`, `score`, `aggregate`, `render` and
the option, decoding, shots and split helpers. What only some tasks do (a second stage, a prompt that must fit
the model, exports, streaming metrics, RICES images, the data folder's words, tie-breaks) is a capability they
list among their bases (tasks/capabilities.py), asked for by callers through its helper.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from kosmos_eval.core.options import OptionReader
from kosmos_eval.core.types import Context, Example, GenerateRequest, RankResult, Request
from kosmos_eval.errors import UserError
from kosmos_eval.metrics import MetricValue
from kosmos_eval.metrics.resample import ExampleMetric, mean_rows
from kosmos_eval.prompting import PromptTemplate, load_prompt


@dataclass
class Scores:
    """What `Task.aggregate` returns: corpus metrics (headline first), optional breakdowns by a field of the
    data (e.g. VQA answer type -> {"value": 0.81, "n": 120}), and notes the summary must carry (e.g. why a
    metric was skipped, or that the split is scored by an evaluation server)."""

    metrics: dict[str, MetricValue]
    breakdowns: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def generate_request(context: Context, settings: Mapping[str, Any], **extra: Any) -> GenerateRequest:
    """A generate request with a decoding block's settings (`Task.decoding`, --gen-kwargs laid over): one place
    that maps the block's keys onto the request, so a new decoding setting reaches every generating task."""
    return GenerateRequest(
        context,
        max_new_tokens=settings["max_new_tokens"],
        num_beams=settings["num_beams"],
        length_penalty=settings.get("length_penalty"),
        stop=tuple(settings.get("stop") or ()),
        **extra,
    )


class Task(ABC):
    """What every task has (the core): its declaration (name, family, description, metrics with
    `mean_fields` / `example_metrics`, shots, `demo_split`, `label_field`, splits, options, template keys),
    `load`, `build`, `score`, `aggregate`, `render`, the option and decoding helpers and the shots and split
    checks. Capabilities only some tasks have are in tasks/capabilities.py."""

    name: ClassVar[str]
    family: ClassVar[str]
    description: ClassVar[str]
    metrics: ClassVar[tuple[str, ...]]  # the headline metric first
    shots: ClassVar[tuple[int, ...]] = (0,)
    splits: ClassVar[tuple[str, ...]] = ("test",)
    default_split: ClassVar[str] = "test"
    options: ClassVar[dict[str, str]] = {}  # task option -> help text (set with --task-option k=v)
    scoring_options: ClassVar[tuple[str, ...]] = ()  # options that change scoring only (`kosmos-eval score` may)
    # options whose value enters the run identity even when not given, because their default changed once: a run
    # folder made under the old default (which named no option) is then never resumed under the new one
    identity_options: ClassVar[tuple[str, ...]] = ()
    demo_split: ClassVar[str | None] = None  # where few-shot demonstrations come from (the training split)
    label_field: ClassVar[str | None] = None  # classification tasks: the field `--sampler balanced` balances

    # what the task reads from prompts/<task>.yaml besides `task` and `source` (layouts, answer words, decoding
    # blocks): the template must hold exactly these (PromptTemplate.validate)
    template_keys: ClassVar[tuple[str, ...]] = ("query",)

    def __init__(self, seed: int = 1234, options: dict[str, str] | None = None) -> None:
        self.seed = seed
        self.task_options = dict(options or {})
        # every typed read goes through it; its defaults and canonical spellings decide `variant`
        self.option_reader = OptionReader(self.task_options, "--task-option")
        self.prompt.validate(self.template_keys)
        allowed = self.all_options()
        unknown = set(self.task_options) - set(allowed)
        if unknown:
            known = ", ".join(sorted(allowed)) or "none"
            raise UserError(f"Task {self.name!r} has no option {sorted(unknown)[0]!r} (options: {known})")

    @classmethod
    def all_options(cls) -> dict[str, str]:
        """The declared options plus one length option per decoding block of the template: `max_new_tokens`
        for `decoding`, `<stage>_max_new_tokens` for `<stage>_decoding`."""
        derived = {}
        for block, settings in load_prompt(cls.name).data.items():
            if block.endswith("decoding") and isinstance(settings, dict):
                name = block[: -len("decoding")] + "max_new_tokens"
                derived[name] = f"tokens generated (default {settings.get('max_new_tokens')}, prompts/{cls.name}.yaml)"
        return {**derived, **cls.options}

    # --gen-kwargs (RunConfig.gen_kwargs), laid over every decoding block; set by `use_gen_kwargs`
    gen_kwargs: Mapping[str, int | float] = MappingProxyType({})

    def decoding(self, block: str = "decoding") -> dict[str, Any]:
        """The template's decoding block (validated with the template), with its length option and then any
        --gen-kwargs applied: one definition, so `--task-option max_new_tokens=N` and `--gen-kwargs` work in
        every task that generates, in every stage that generates."""
        settings = dict(self.prompt.data[block])
        option = block[: -len("decoding")] + "max_new_tokens"
        length = self.option_int(option, settings.get("max_new_tokens"))
        if length is not None:
            settings["max_new_tokens"] = length
        settings.update(self.gen_kwargs)
        return settings

    def generates(self) -> bool:
        """Whether the task can generate text (its template declares decoding settings). A task that only ranks
        answer candidates has nothing --gen-kwargs could change."""
        return bool(self.decoding_blocks())

    def use_gen_kwargs(self, gen_kwargs: Mapping[str, int | float]) -> None:
        """Lay `gen_kwargs` (parsed by config.parse_gen_kwargs) over the template's decoding. Refused, in one
        line, where they would change nothing (a ranking task; a length penalty on greedy decoding, which
        compares no hypotheses) or say something twice (max_new_tokens given both here and as a task option),
        since the run would be labelled for a change it did not make."""
        if not gen_kwargs:
            return
        if not self.generates():
            raise UserError(
                f"Task {self.name!r} ranks answer candidates and generates no text: --gen-kwargs does not apply"
            )
        if "max_new_tokens" in gen_kwargs:
            twice = [block[: -len("decoding")] + "max_new_tokens" for block in self.decoding_blocks()]
            given = [option for option in twice if option in self.task_options]
            if given:
                raise UserError(
                    f"max_new_tokens is given twice, as --gen-kwargs and as --task-option {given[0]}: give one"
                )
        if "length_penalty" in gen_kwargs:
            beams = gen_kwargs.get("num_beams") or max(b.get("num_beams", 1) for b in self.decoding_blocks().values())
            if beams == 1:
                raise UserError(
                    f"--gen-kwargs length_penalty changes only beam search and {self.name!r} decodes greedily: "
                    "give num_beams=N (N > 1) with it"
                )
        self.gen_kwargs = MappingProxyType(dict(gen_kwargs))

    def option_choice(self, key: str, allowed: Sequence[str]) -> str:
        """The value of `--task-option key=...`, which must be one of `allowed`; the first is the default."""
        return self.option_reader.choice(key, allowed)

    def option_flag(self, key: str, default: bool = False) -> bool:
        """A true/false `--task-option` (also 1/0, yes/no; any case)."""
        return self.option_reader.flag_value(key, default)

    def option_int(self, key: str, default: int | None, minimum: int = 1) -> int | None:
        """A whole-number `--task-option` of at least `minimum`, or `default` when not given."""
        if default is None:
            return self.option_reader.optional_integer(key, minimum)
        return self.option_reader.integer(key, default, minimum)

    @property
    def variant(self) -> str:
        """The task options that differ from their defaults, as `k=v;k=v` ("" = the paper's default setting).
        Leaderboards and comparisons key runs by it, so `setting=with_text` given explicitly equals no option."""
        reader = self.option_reader
        given = {key: reader.canonical.get(key, value) for key, value in sorted(self.task_options.items())}
        changed = {key: value for key, value in given.items() if reader.defaults.get(key, "").lower() != value.lower()}
        return ";".join(f"{key}={value}" for key, value in changed.items())

    @property
    def prompt(self) -> PromptTemplate:
        return load_prompt(self.name)

    def decoding_blocks(self) -> dict[str, Any]:
        """The template's decoding settings (`decoding`, and per stage, e.g. `cot_decoding`), as the summary
        records them."""
        return {key: value for key, value in self.prompt.data.items() if key.endswith("decoding")}

    def check_shots(self, shots: int, pool: int | None = None) -> None:
        """Any number of demonstrations the task can draw: refused only where there is no demo pool, or (once
        the pool is loaded: `pool` usable examples) more than it holds. Settings outside `shots`, the paper's,
        run and are labelled as such (RunConfig.outside_paper)."""
        if shots < 0:
            raise UserError(f"--shots must be 0 or more; got {shots}")
        if shots > 0 and self.demo_split is None:
            allowed = ", ".join(str(s) for s in self.shots)
            raise UserError(
                f"Task {self.name!r} has no demonstration pool to draw from: it is evaluated with --shots {allowed} "
                f"in the paper; got {shots}"
            )
        if pool is not None and shots > pool:
            raise UserError(
                f"--shots {shots}: the demonstration pool of {self.name!r} ({self.demo_split}) holds {pool} usable "
                f"examples; give at most {pool}"
            )

    def check_split(self, split: str) -> None:
        if split not in self.splits:
            raise UserError(f"Task {self.name!r} has splits {', '.join(self.splits)}; got {split!r}")

    def render(self, example: Example, demos: Sequence[Example], layout: str = "query") -> Context:
        """Demonstrations (prompts/<task>.yaml layout `demo`) followed by the query (`layout`). The paper's
        interleaved format separates items only by their image tags, so nothing is inserted between them."""
        context = Context(())
        for demo in demos:
            context += self.prompt.render("demo", demo.fields, demo.images)
        return context + self.prompt.render(layout, example.fields, example.images)

    def load_demos(self, data_dir: Path | None) -> list[Example]:
        """The few-shot demonstration pool: the task's `demo_split`."""
        if self.demo_split is None:
            raise UserError(f"Task {self.name!r} has no training split to draw demonstrations from")
        return self.load(self.demo_split, data_dir)

    def demo_pool_is(self, split: str) -> bool:
        """Whether the demo pool is the split being evaluated, so that a pool example with the query's id is
        the query itself and must not be shown (Winograd has one split; StoryCloze draws from validation).
        Ids are unique only within a split, so across splits an equal id is another example."""
        return self.demo_split == split

    @abstractmethod
    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        """Every example of the split, in a stable order (so --limit takes the same examples every time)."""

    @abstractmethod
    def build(self, example: Example, demos: Sequence[Example]) -> list[Request]:
        """The requests that answer one example."""

    @abstractmethod
    def score(self, example: Example, outputs: Sequence[RankResult | str]) -> dict[str, Any]:
        """Per-sample record fields (prediction, per-candidate scores, correctness), JSON-serialisable."""

    @abstractmethod
    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        """Corpus metrics over the per-sample records, headline first."""

    # per-example form of each metric, for paired bootstraps (`kosmos-eval compare`): metric -> record field
    # whose mean over examples is the metric (dotted for nested fields); tasks with corpus metrics that are not
    # means (ROC AUC, CIDEr's per-image scores) override `example_metrics`
    mean_fields: ClassVar[dict[str, str]] = {}

    def example_metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, ExampleMetric]:
        """Every metric that a bootstrap can recompute on resampled examples, as per-example rows plus the
        statistic over rows. Metrics missing here (corpus BLEU, METEOR) are compared without an interval."""
        metrics = {metric: mean_rows(records, field) for metric, field in self.mean_fields.items()}
        return {name: metric for name, metric in metrics.items() if name in self.metrics and metric.rows}
