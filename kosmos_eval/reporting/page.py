"""The report's page shell: the HTML around the body, its style and its one script, and the Content-Security-Policy
that lets the page run that script and style only (by their hashes), show data-URL images only, and load or
send nothing: a report of runs from someone else cannot fetch, post or run anything of theirs."""

from __future__ import annotations

import base64
import hashlib

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<link rel="icon" href="data:,"><title>{title}</title><style>{style}</style></head>
<body>
{body}
<script>{script}</script>
</body></html>
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { margin: 0.3em 0; } details { margin: 0.3em 0; } .note-runs { color: #666; font-size: 12px; }
.table-wrap { max-width: 100%; overflow-x: auto; margin: 0.5em 0 1.5em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ddd; padding: 3px 6px; vertical-align: top; text-align: left; font-size: 13px; }
th { background: #f3f3f3; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.paper { background: #f6f9ff; } tr.error { background: #fff1f0; } tr.correct { background: #f3fbf3; }
.controls { position: sticky; top: 0; background: #fff; padding: 6px 0; z-index: 2; border-bottom: 1px solid #ddd; }
.controls label { margin-right: 1.5em; } .meta { color: #555; }
figure { display: inline-block; margin: 0.5em 1em 1em 0; vertical-align: top; max-width: 100%; }
svg.chart { max-width: 100%; height: auto; }
figcaption { color: #666; font-size: 12px; }
td.prompt { white-space: pre-wrap; max-width: 32em; max-height: 12em; overflow: auto; font-family: monospace; }
td.prediction, td.gold { white-space: pre-wrap; max-width: 18em; }
img.thumb { max-width: 96px; max-height: 96px; margin: 1px; border: 1px solid #ccc; }
.missing-image { display: inline-block; font-size: 11px; color: #a00; border: 1px dashed #a00; padding: 2px; }
[hidden] { display: none !important; }
"""

SCRIPT = """
function applyFilters() {
  var errorsOnly = document.getElementById('errors-only').checked;
  var task = document.getElementById('task-filter').value;
  document.querySelectorAll('[data-task]').forEach(function (el) {
    el.hidden = task !== '' && el.dataset.task !== task;
  });
  document.querySelectorAll('tr.sample').forEach(function (row) {
    row.hidden = errorsOnly && !row.classList.contains('error');
  });
  ['curves', 'breakdowns'].forEach(function (id) {
    var section = document.getElementById(id);
    var parts = section.querySelectorAll('[data-task]');
    section.hidden = parts.length > 0 && !Array.prototype.some.call(parts, function (el) { return !el.hidden; });
  });
}
document.getElementById('errors-only').addEventListener('change', applyFilters);
document.getElementById('task-filter').addEventListener('change', applyFilters);
"""


def _sha256(text: str) -> str:
    """A CSP source naming exactly this inline text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# the page may run its own script and style only, show data-URL images only, and load or send nothing
CSP = (
    f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
