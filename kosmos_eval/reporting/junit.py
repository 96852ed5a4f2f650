"""JUnit XML for CI systems (GitLab, Jenkins, Azure, GitHub test reporters): one test case per task and
metric, failing where the comparison gate fails, so a dashboard shows which metric dropped. Every case names
the two models and run folders it compares (as properties and in its text): a failure read weeks later in a
dashboard must say which checkpoint dropped against which."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from kosmos_eval.core.files import write_text_atomic
from kosmos_eval.reporting.compare import Comparison


def write_junit(comparison: Comparison, path: Path, name: str = "kosmos-eval compare") -> Path:
    """Write the comparison to `path` (atomically) and return it."""
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(comparison.metrics)),
        failures=str(sum(m.failed for m in comparison.metrics)),
        errors="0",
        skipped="0",
    )
    for m in comparison.metrics:
        case = ET.SubElement(suite, "testcase", classname=m.label, name=m.metric)
        runs = ""
        if m.pair is not None:
            properties = ET.SubElement(case, "properties")
            for key in ("baseline_model", "baseline_run", "candidate_model", "candidate_run"):
                ET.SubElement(properties, "property", name=key, value=getattr(m.pair, key))
            runs = f"; baseline {m.pair.baseline_model} ({m.pair.baseline_run}), "
            runs += f"candidate {m.pair.candidate_model} ({m.pair.candidate_run})"
        interval = f"[{m.ci_low:+.2f}, {m.ci_high:+.2f}]" if m.ci_low is not None else "n/a"
        detail = (
            f"baseline {m.baseline:.2f}, candidate {m.candidate:.2f}, delta {m.delta:+.2f} points, "
            f"95% CI {interval}, p(worse) {m.p_worse if m.p_worse is not None else 'n/a'}, n={m.n}, "
            f"allowed drop {m.allowed_drop:g}{runs}"
        )
        if m.failed:
            who = f" ({m.pair.candidate_model} vs {m.pair.baseline_model})" if m.pair is not None else ""
            message = f"{m.metric} dropped by {-m.delta:.2f} points{who}"
            failure = ET.SubElement(case, "failure", message=message, type="drop")
            failure.text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    lines = [pair.text for pair in comparison.pairs] + comparison.notes
    if lines:
        ET.SubElement(suite, "system-out").text = "\n".join(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(ET.Element("testsuites", name=name))
    tree.getroot().append(suite)
    ET.indent(tree)
    body = ET.tostring(tree.getroot(), encoding="unicode")
    write_text_atomic(path, "<?xml version='1.0' encoding='utf-8'?>\n" + body + "\n")
    return path
