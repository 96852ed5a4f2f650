"""Opening one split of a declared hub copy (kosmos_eval/data/hub_source.py) through `datasets`, with checks.

`datasets.load_dataset` reads only the files of the split asked for, decodes images lazily (per row, when a
backend needs the pixels) and caches where `datasets` caches, so a second run reads nothing from the network;
with HF_HUB_OFFLINE=1 it reads the cache. Before a single example is built the split is checked against the
declaration: every declared column present with its declared type, and the row count of the paper's split.
A missing column (a card that changed) stops the run; a row count that differs labels the copy as not the
paper's split.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from kosmos_eval.data.hub_source import HubCopy, HubTable, hub_source
from kosmos_eval.errors import DataError

log = logging.getLogger(__name__)

HUB_CARD = "README.md"


def is_hub_snapshot(folder: Path) -> bool:
    """Whether `folder` is a downloaded hub dataset repo (`hf download ... --local-dir`): a dataset card with a
    YAML header, or parquet files where the hub keeps them."""
    card = folder / HUB_CARD
    if card.is_file() and card.read_text(encoding="utf-8", errors="replace").startswith("---"):
        return True
    return any(folder.glob("data/*.parquet")) or any(folder.glob("*/*.parquet"))


def chosen_copy(task: str, options: dict[str, str]) -> HubCopy | None:
    """The task's default hub copy, with the user's `hub_id` / `hub_revision` task options applied. A `hub_id`
    that names another declared copy (RAVEN beside IQ50) selects that copy's own declaration: its columns,
    config and labels, not the default's under another name."""
    source = hub_source(task)
    if source is None:
        return None
    declared = next((c for c in source.copies if c.id == options.get("hub_id")), None)
    copy = declared or source.default
    if "hub_id" in options or "hub_revision" in options:
        from dataclasses import replace

        copy = replace(
            copy,
            id=options.get("hub_id", copy.id),
            revision=options.get("hub_revision", copy.revision),
            fallback_ids=() if "hub_id" in options and declared is None else copy.fallback_ids,
        )
    return copy


def open_split(task: str, split: str, options: dict[str, str], local_copy: Path | None = None) -> HubTable:
    """`split` of the task's hub copy (or of `local_copy`, a downloaded repo of it), checked."""
    copy = chosen_copy(task, options)
    if copy is None:
        raise DataError(f"{task}: no hub copy is declared for this task; pass --data-dir with its files")
    return open_copy(task, copy, split, local_copy)


def open_copy(task: str, copy: HubCopy, split: str, local_copy: Path | None = None) -> HubTable:
    """`split` of one declared copy (a task that joins two copies, such as COCO's Karpathy split list and the
    copy holding the images, opens each), checked against its declaration."""
    if split not in copy.splits:
        served = ", ".join(copy.splits)
        why = f"; {copy.demos}" if copy.demos else "; choose one of them, or pass --data-dir with the official files"
        raise DataError(f"{task}: hub {copy.id} does not serve the '{split}' split (it serves {served}){why}")
    hub_split = copy.splits[split].hub
    ids = [copy.id, *copy.fallback_ids] if local_copy is None else [copy.id]
    for position, hub_id in enumerate(ids):
        try:
            dataset = _load(hub_id, copy, hub_split, local_copy, copy.splits[split].files)
        except Exception as exc:  # datasets / huggingface_hub raise many kinds; each becomes one line
            # a renamed copy, or offline with only the other id in the cache: the next declared id may serve
            if (_not_found(exc) or _offline(exc)) and position + 1 < len(ids):
                log.info("%s: %s is not on the hub; trying %s", task, hub_id, ids[position + 1])
                continue
            tried = " or ".join(ids[: position + 1])  # every id asked, so "not cached" names them all
            raise DataError(explain(task, tried, hub_split, exc, local_copy)) from exc
        table = HubTable(dataset, copy, hub_id, split, local_copy)
        check_columns(table)
        _label(table)
        return table
    raise AssertionError("unreachable: the last id either loads or raises")


def fetch_files(task: str, copy: HubCopy, split: str, patterns: Sequence[str]) -> tuple[Path, str]:
    """For a copy that holds a release's own files (not a table `datasets` reads): the files matching
    `patterns`, and only those, fetched into the hub cache (`huggingface_hub.snapshot_download`; with
    HF_HUB_OFFLINE set, from the cache alone). Returns the snapshot folder and the id that served it; a failure
    is one line, as for a table."""
    from huggingface_hub import snapshot_download

    from kosmos_eval.data.hub import offline

    if split not in copy.splits:
        served = ", ".join(copy.splits)
        raise DataError(f"{task}: hub {copy.id} does not serve the '{split}' split (it serves {served})")
    hub_split = copy.splits[split].hub
    ids = [copy.id, *copy.fallback_ids]
    for position, hub_id in enumerate(ids):
        try:
            folder = snapshot_download(
                hub_id,
                repo_type="dataset",
                revision=copy.revision,
                allow_patterns=list(patterns),
                local_files_only=offline(),
            )
        except Exception as exc:  # huggingface_hub raises many kinds; each becomes one line
            # a renamed copy, or offline with only the other id in the cache: the next declared id may serve
            if (_not_found(exc) or _offline(exc)) and position + 1 < len(ids):
                log.info("%s: %s is not on the hub; trying %s", task, hub_id, ids[position + 1])
                continue
            raise DataError(explain(task, hub_id, hub_split, exc, None)) from exc
        return Path(folder), hub_id
    raise AssertionError("unreachable: the last id either loads or raises")


def rows_table(copy: HubCopy, hub_id: str, split: str, rows: Sequence[Any]) -> HubTable:
    """The items a task's reader made from a copy's release files, as a table labelled like an opened split
    (its row count checked against the paper's), for the run's summary."""
    table = HubTable(list(rows), copy, hub_id, split)
    _label(table)
    return table


def _load(hub_id: str, copy: HubCopy, hub_split: str, local_copy: Path | None, declared: str | None = None) -> Any:
    """`declared`: the split's files glob (HubSplit.files). Without one `datasets` prepares every split of a
    hub copy, which for ImageNet's webdataset tars means downloading the 1.28M training images too."""
    import datasets

    if local_copy is not None:
        builder, files = local_data_files(local_copy, copy.config, hub_split, declared)
        return datasets.load_dataset(builder, data_files={hub_split: files}, split=hub_split)
    files = declared or _hub_split_files(hub_id, copy, hub_split)
    only = {"data_files": {hub_split: files}} if files else {}
    return datasets.load_dataset(hub_id, name=copy.config, split=hub_split, revision=copy.revision, **only)


def _hub_split_files(hub_id: str, copy: HubCopy, hub_split: str) -> list[str] | None:
    """The files of `hub_split` as the copy's card lists them, so that `datasets` downloads that split only
    (asked for the whole repo it prepares every split: VQAv2's test questions to score validation). None when
    the card cannot be had (offline and not cached) or names no files: then `datasets` decides, as before."""
    try:
        from huggingface_hub import hf_hub_download

        card = hf_hub_download(hub_id, HUB_CARD, repo_type="dataset", revision=copy.revision)
        text = Path(card).read_text(encoding="utf-8", errors="replace")
    except Exception:  # offline, gated, no card: datasets' own error says which, below
        return None
    return split_patterns(card_configs(text), copy.config, hub_split) or None


# a downloaded repo's files by suffix, and the `datasets` builder that reads them
BUILDERS = {
    ".parquet": "parquet",
    ".tar": "webdataset",
    ".arrow": "arrow",
    ".jsonl": "json",
    ".json": "json",
    ".csv": "csv",
}


def local_data_files(
    folder: Path, config: str | None, hub_split: str, declared: str | None = None
) -> tuple[str, list[str]]:
    """The builder and the files of `hub_split` in a downloaded hub repo: where its card's `configs:` say, else
    where the hub's default layout puts them (`data/<split>-*`, `<split>/`). Named explicitly because
    `load_dataset(folder)` caches a local folder by its name alone: two copies in folders of one name (two
    revisions side by side) would read each other's rows; with explicit files the cache follows the files."""
    patterns = (
        _card_patterns(folder, config, hub_split)
        or ([declared] if declared else [])
        or [
            f"data/{hub_split}-*",
            f"data/{hub_split}/*",
            f"{hub_split}/*",
            f"{hub_split}-*",
            f"*/{hub_split}-*",
        ]
    )
    files = sorted({str(path) for pattern in patterns for path in folder.glob(pattern) if path.suffix in BUILDERS})
    if not files:
        raise DataError(
            f"local copy {folder}: no data files for split '{hub_split}' (looked for {', '.join(patterns)}); is it "
            "a complete download of the hub repo (`hf download ID --repo-type dataset --local-dir DIR`)?"
        )
    kinds = {BUILDERS[Path(name).suffix] for name in files}
    if len(kinds) > 1:
        raise DataError(f"local copy {folder}: split '{hub_split}' mixes file kinds ({', '.join(sorted(kinds))})")
    return kinds.pop(), files


def card_configs(text: str) -> list[Any]:
    """The `configs:` list of a dataset card's YAML header ([] when it has none)."""
    if not text.startswith("---"):
        return []
    try:
        header = yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError:
        return []
    configs = header.get("configs") if isinstance(header, dict) else None
    return configs if isinstance(configs, list) else []


def split_patterns(configs: list[Any], config: str | None, hub_split: str) -> list[str]:
    """The `data_files` patterns `configs` give `hub_split` of `config` (or of the default config)."""
    for entry in configs:
        if not isinstance(entry, dict) or entry.get("config_name", "default") != (config or "default"):
            continue
        for item in entry.get("data_files") or []:
            if isinstance(item, dict) and item.get("split") == hub_split:
                paths = item.get("path")
                return [paths] if isinstance(paths, str) else [str(p) for p in paths or []]
    return []


def _card_patterns(folder: Path, config: str | None, hub_split: str) -> list[str]:
    """The `data_files` patterns the dataset card gives `hub_split` of `config` (or of the default config)."""
    card = folder / HUB_CARD
    if not card.is_file():
        return []
    configs = card_configs(card.read_text(encoding="utf-8", errors="replace"))
    patterns = split_patterns(configs, config, hub_split)
    if patterns:
        return patterns
    # a config the card does not list must not fall back to the default layout: `*/<split>-*` would read every
    # other config's files (all of RAVEN's figure configurations, under the one name asked for)
    entries = configs if isinstance(configs, list) else []
    names = [entry.get("config_name", "default") for entry in entries if isinstance(entry, dict)]
    if config is not None and names and config not in names:
        raise DataError(f"local copy {folder}: its card has no config '{config}' (it has {', '.join(names)})")
    return []


def check_columns(table: HubTable) -> None:
    """Every declared column present, of its declared type: one line naming the first that is not."""
    import datasets

    features = table.dataset.features
    for name, (column, kind) in table.copy.columns.items():
        if column not in features:
            raise DataError(
                f"{table.describe()}: no column '{column}' (for {name}); it has {', '.join(features)}. The copy's "
                "card may have changed: pass --task-option hub_revision=<a revision with the column>, or report it"
            )
        feature = features[column]
        if not _is_kind(feature, kind, datasets):
            raise DataError(
                f"{table.describe()}: column '{column}' (for {name}) is {_feature_name(feature)}, expected {kind}; the "
                "copy's card may have changed: pass --task-option hub_revision=<a revision of the expected schema>"
            )


def _is_kind(feature: Any, kind: str, datasets: Any) -> bool:
    if kind == "any":
        return True
    if kind == "image":
        return isinstance(feature, datasets.Image)
    if kind == "string":
        return isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")
    if kind == "int":
        return isinstance(feature, (datasets.ClassLabel,)) or (
            isinstance(feature, datasets.Value) and feature.dtype.startswith(("int", "uint"))
        )
    inner = _list_inner(feature, datasets)
    if kind == "list<string>":
        return inner is not None and isinstance(inner, datasets.Value) and inner.dtype in ("string", "large_string")
    if kind == "list<image>":
        return inner is not None and isinstance(inner, datasets.Image)
    if kind == "list<dict>":
        return inner is not None and isinstance(inner, dict)
    if kind == "dict":
        return isinstance(feature, dict)
    return False


def _list_inner(feature: Any, datasets: Any) -> Any:
    """The element feature of a list column, in every spelling `datasets` has used for one."""
    for kind in ("List", "Sequence", "LargeList"):
        cls = getattr(datasets, kind, None)
        if cls is not None and isinstance(feature, cls):
            return feature.feature
    if isinstance(feature, list) and len(feature) == 1:
        return feature[0]
    return None


def _feature_name(feature: Any) -> str:
    return getattr(feature, "dtype", None) or type(feature).__name__


def _label(table: HubTable) -> None:
    """Why the opened rows are not the paper's split, if they are not (a summary carries the reasons)."""
    spec = table.copy.splits[table.split]
    if table.copy.not_paper:
        table.why_not_paper.append(table.copy.not_paper)
    if not spec.paper:
        table.why_not_paper.append(f"hub split '{spec.hub}' is not the paper's {table.split} split")
    if spec.rows is not None and len(table) != spec.rows:
        table.why_not_paper.append(
            f"hub split '{spec.hub}' has {len(table):,} rows; the official {table.split} split has {spec.rows:,}"
        )


def _not_found(exc: Exception) -> bool:
    name = type(exc).__name__
    return name in ("DatasetNotFoundError", "RepositoryNotFoundError", "FileNotFoundError") and not _gated(exc)


def _offline(exc: Exception) -> bool:
    """Offline, or the hub unreachable, with nothing cached (huggingface_hub's LocalEntryNotFoundError says
    neither word, so it is known by name)."""
    message = str(exc).lower()
    offline_kind = type(exc).__name__ == "LocalEntryNotFoundError"
    return offline_kind or isinstance(exc, ConnectionError) or "offline" in message or "couldn't reach" in message


def _gated(exc: Exception) -> bool:
    return type(exc).__name__ == "GatedRepoError" or "gated" in str(exc).lower()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def explain(task: str, hub_id: str, hub_split: str, exc: Exception, local_copy: Path | None) -> str:
    """One line: which copy and split, what went wrong, what to do."""
    where = f"{task}: {'local copy ' + str(local_copy) + ' of ' if local_copy else ''}hub {hub_id} (split {hub_split})"
    message = str(exc)
    if _gated(exc):
        return (
            f"{where} is gated: accept its terms at https://huggingface.co/datasets/{hub_id} and log in "
            "(`hf auth login`, or set HF_TOKEN), then run again"
        )
    if isinstance(exc, ValueError) and "Unknown split" in message:
        return (
            f"{where}: the copy has no such split ({_first_line(exc)}); pass --task-option hub_revision=..., or "
            "--data-dir"
        )
    if _offline(exc):
        return (
            f"{where}: not in the datasets cache and the hub cannot be reached (offline?); run "
            f"`kosmos-eval data fetch {task}` once online, or pass --data-dir with a downloaded copy"
        )
    if _not_found(exc):
        return f"{where}: not found on the hub ({_first_line(exc)}); check --task-option hub_id, or pass --data-dir"
    return f"{where}: cannot be read ({type(exc).__name__}: {_first_line(exc)})"
