"""Long silences (issue 30): every phase that can take more than a few seconds says so in one line, visible by
default. The CLI shows WARNING and above unless --debug (cli/app.py `setup`), so each line is asserted at that
level or higher."""

from __future__ import annotations

import socket

import pytest

from kosmos_eval.backends.hf.loading import load_model
from kosmos_eval.backends.openai_client import RetryPolicy, ServerClient
from kosmos_eval.config import RunConfig
from kosmos_eval.core.progress import NOTICE
from kosmos_eval.errors import ModelUnavailableError, UserError
from kosmos_eval.metrics import caption_metric, caption_service
from kosmos_eval.runner.run import evaluate
from kosmos_eval.runner.suite import duration_text, plan, run_line, run_suite, task_list


def shown(caplog) -> str:
    """What a user sees without --debug: the records at NOTICE (progress lines) or above."""
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= NOTICE)


def test_loading_a_model_says_what_from_where_before_it_loads(tiny_kosmos2, caplog):
    with caplog.at_level(NOTICE):
        load_model(str(tiny_kosmos2), None, "float32", "cpu")
    assert f"loading model folder {tiny_kosmos2}, revision default, dtype float32, on cpu" in shown(caplog)


def test_a_mistyped_model_folder_is_said_not_to_exist_with_close_names(tmp_path, caplog):
    (tmp_path / "models" / "tiny-kosmos2").mkdir(parents=True)
    typo = tmp_path / "models" / "tiny-kosmso2"
    with pytest.raises(ModelUnavailableError) as exc:
        load_model(str(typo), None, "float32", "cpu")
    message = str(exc.value)
    assert f"the folder {str(typo)!r} does not exist" in message
    assert f"did you mean {str(tmp_path / 'models' / 'tiny-kosmos2')!r}" in message
    assert "hf download" not in message
    assert "loading model" not in shown(caplog)  # refused before the load line
    with pytest.raises(ModelUnavailableError, match=r"does not exist; the nearest existing folder is"):
        load_model(str(tmp_path / "nowhere" / "deeper" / "model"), None, "float32", "cpu")
    with pytest.raises(ModelUnavailableError, match=r"'\./no-such-model-folder': the folder .* does not exist"):
        load_model("./no-such-model-folder", None, "float32", "cpu")


def test_a_refused_connection_says_each_retry_with_its_reason_and_wait(caplog):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits: list[float] = []
    client = ServerClient(f"http://127.0.0.1:{port}/v1", None, 2.0, RetryPolicy(max_retries=2, sleep=waits.append))
    with caplog.at_level(NOTICE), pytest.raises(UserError, match="failed 3 times"):
        client.get("/models")
    lines = [line for line in shown(caplog).splitlines() if "retry" in line]
    assert len(lines) == 2
    assert f"GET http://127.0.0.1:{port}/v1/models: cannot connect to" in lines[0]
    assert f"retry 1 of 2 in {waits[0]:.1f} s" in lines[0]
    assert f"retry 2 of 2 in {waits[1]:.1f} s" in lines[1]


def test_the_resume_notice_is_shown_by_default(tmp_path, caplog):
    config = RunConfig(task="raven", backend="chance", sample=True, limit=2, output_dir=str(tmp_path))
    evaluate(config, progress=False)
    with caplog.at_level(NOTICE):
        run = evaluate(RunConfig(**{**config.__dict__, "limit": 4}), progress=False)
    assert f"resuming {run.run_dir}: 2 of 4 examples already done" in shown(caplog)


def test_a_suite_says_run_i_of_n_with_an_eta(tmp_path, caplog):
    base = RunConfig(task="raven", backend="chance", sample=True, limit=2, output_dir=str(tmp_path))
    planned = plan(task_list("raven", shots=[0], seeds=[1, 2]), base)
    with caplog.at_level(NOTICE):
        outcomes, failures = run_suite(planned, progress=False)
    assert len(outcomes) == 2 and not failures
    lines = [line for line in shown(caplog).splitlines() if line.startswith("run ")]
    assert lines[0] == "run 1 of 2: raven 0-shot seed 1"  # no ETA before a run has finished
    assert lines[1].startswith("run 2 of 2: raven 0-shot seed 2 (ETA ") and lines[1].endswith(" s)")


def test_the_eta_is_the_mean_run_times_the_runs_left():
    assert run_line(3, 5, "vqav2", 4, 7, [60.0, 120.0]) == "run 3 of 5: vqav2 4-shot seed 7 (ETA 4 min 30 s)"
    assert duration_text(7322) == "2 h 2 min"
    assert duration_text(4.4) == "4 s"


def test_caption_scoring_says_when_the_scorer_starts_and_when_the_run_waits(monkeypatch, caplog):
    class Dead:
        def alive(self) -> bool:
            return False

    monkeypatch.setattr(caption_service, "_shared", None)
    monkeypatch.setattr(caption_service, "ScoringProcess", Dead)
    monkeypatch.setattr(caption_metric, "score_captions", lambda predictions, references, **_: "scores")
    with caplog.at_level(NOTICE):
        caption_service.shared_process()
        records = [{"image_id": i, "prediction": "a cat", "references": ["a cat"]} for i in range(8)]
        assert caption_metric.CaptionCorpus(lambda example: (0, [])).score(records) == "scores"
    text = shown(caplog)
    assert "starting the caption scorer (COCOEvalCap with Java) in the background" in text
    assert "scoring 8 captions (COCOEvalCap, Java): waiting for the caption scorer" in text


@pytest.mark.slow  # a caption run needs the Java scorer
def test_the_report_says_what_it_builds_and_each_caption_run_it_scores_per_image(tmp_path, caplog, monkeypatch):
    from kosmos_eval.reporting.report import write_report
    from kosmos_eval.tasks.captioning import CaptionTask

    # the per-caption scorer itself (Java, seconds) is another test's subject: here only the lines
    monkeypatch.setattr(CaptionTask, "example_metrics", lambda self, records: {})
    for task in ("raven", "coco_caption"):
        evaluate(RunConfig(task=task, backend="chance", sample=True, limit=2, output_dir=str(tmp_path)), progress=False)
    with caplog.at_level(NOTICE):
        write_report([tmp_path], tmp_path / "report.html")
    lines = shown(caplog).splitlines()
    assert lines[0] == "report: 2 run(s) found; building tables, curves and the sample browser"
    (caption,) = [line for line in lines if "per-caption" in line]
    assert caption.startswith("report: per-caption scores of coco_caption_chance_0shot_")
    assert caption.endswith(" (2 captions, COCOEvalCap with Java)")


def test_a_bad_data_folder_is_refused_before_the_caption_scorer_starts(tmp_path, monkeypatch):
    """Java is checked first; the scoring process starts only once the data has passed its checks (it was
    started, and left loading, before a mistyped --data-dir was refused)."""
    from kosmos_eval.errors import DataError

    started = []
    monkeypatch.setattr(caption_service, "shared_process", lambda: started.append(True))
    config = RunConfig(task="coco_caption", backend="chance", data_dir=str(tmp_path / "nope"), output_dir=str(tmp_path))
    with pytest.raises(DataError, match="folder does not exist"):
        evaluate(config, progress=False)
    assert started == []
    sample = RunConfig(task="coco_caption", backend="chance", sample=True, limit=1, output_dir=str(tmp_path))
    from kosmos_eval.runner.plan import RunPlan
    from kosmos_eval.runner.run import make_task

    RunPlan.load(sample, make_task(sample))  # the plan of a run that will go ahead starts it
    assert started == [True]
