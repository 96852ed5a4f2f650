"""Whether a Hugging Face hub dataset can be read here, for `kosmos-eval list` and the suite's up-front check.

"Found" must mean that a run will find it: either `datasets` has a prepared copy in its cache (what
`load_dataset` reads offline) or the hub answers. With an empty cache and no network the task is reported
missing, with what to do, instead of failing an hour into a suite.
"""

from __future__ import annotations

import functools
import os
import urllib.error
import urllib.request
from pathlib import Path

from kosmos_eval.core.types import DataStatus

PROBE_TIMEOUT_S = 3.0
TRUTHY = {"1", "true", "yes", "on"}


def cached_copy(hub_id: str, config: str | None) -> Path | None:
    """The folder of a prepared copy of `hub_id` (config `config`, any when None) in the `datasets` cache,
    found the way `datasets` itself looks for one offline (`<namespace>___<snake_name>/<config>/<version>/<hash>`)."""
    import datasets
    from datasets.naming import camelcase_to_snakecase

    parts = hub_id.split("/")
    parts[-1] = camelcase_to_snakecase(parts[-1])
    base = Path(str(datasets.config.HF_DATASETS_CACHE)).expanduser() / "___".join(parts)
    for folder in sorted(base.glob(f"{config or '*'}/*/*")):
        if (folder / "dataset_info.json").is_file():
            return folder
    return None


def offline() -> bool:
    return any(os.environ.get(name, "").strip().lower() in TRUTHY for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


@functools.cache
def hub_reachable() -> bool:
    """One quick request to the hub endpoint (any HTTP answer counts), asked once per process; never when the
    environment says offline."""
    if offline():
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=PROBE_TIMEOUT_S)
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False
    return True


def hub_status(hub_id: str, config: str | None, local_hint: str) -> DataStatus:
    """`local_hint`: how to give the task local files instead (shown when the hub copy cannot be had)."""
    name = f"{hub_id} ({config})" if config else hub_id
    cached = cached_copy(hub_id, config)
    if cached is not None:
        return DataStatus(True, f"hub {name}, cached copy ({cached})")
    if hub_reachable():
        return DataStatus(True, f"hub {name} (not cached: downloaded by `datasets` on the first run)")
    why = "offline mode is set" if offline() else "the hub cannot be reached"
    return DataStatus(
        False,
        f"missing: hub {name} is not in the datasets cache and {why}; run once online, or {local_hint}, "
        "or use --sample",
    )
