"""`--model openai` keeps the API key between the user and the server it names: a redirect to another origin
is refused before the key is resent, a key written into base_url is refused before any run folder exists,
and no file, log or error line of a run ever holds the key, even when a server echoes it back."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kosmos_eval.backends.openai import OPENAI, OpenAIBackend
from kosmos_eval.backends.openai_client import origin
from kosmos_eval.cli import app
from kosmos_eval.core.redact import has_userinfo, redact
from kosmos_eval.core.types import Context, GenerateRequest
from kosmos_eval.errors import UserError
from kosmos_eval.generators.vqa import write_vqav2
from tests.openai_server import CannedServer, RedirectServer

KEY = "sk-planted-5f0c2e9a17d4b3"
KEY_ENV = "KOSMOS_TEST_API_KEY"
QUESTION = [GenerateRequest(Context.of("Question: what colour is it? Answer:"), max_new_tokens=2)]


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


def backend_for(url: str, **model_args: str) -> OpenAIBackend:
    args = {"api_key_env": KEY_ENV, "model": "canned", "max_retries": "0"} | model_args
    return OpenAIBackend(base_url=url, sleep=lambda seconds: None, **args)


def assert_key_nowhere(folder: Path, *texts: str) -> None:
    """Neither any file under `folder` (run folders, lock files, hidden files) nor any captured text holds it."""
    for text in texts:
        assert KEY not in text
    for path in folder.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


# -- redirects -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(("method", "path", "body"), [("GET", "/models", None), ("POST", "/chat/completions", {})])
def test_a_redirect_to_another_port_is_refused_and_the_key_not_resent(keyed, status, method, path, body):
    with CannedServer() as elsewhere, RedirectServer(elsewhere.root, status) as server:
        backend = backend_for(server.url)
        with pytest.raises(UserError) as exc:
            backend.client.call(method, path, body)
    text = str(exc.value)
    expected = f"the server at {origin(server.root)} redirected {method} ({status}) to another origin, "
    assert expected + origin(elsewhere.root) in text and "\n" not in text and KEY not in text
    assert elsewhere.requests == []  # never reached, so never given the Authorization header
    assert [r["headers"]["Authorization"] for r in server.requests] == [f"Bearer {KEY}"]  # one attempt, no retry


@pytest.mark.parametrize("target", ["http://localhost", "https://127.0.0.1"])
def test_a_redirect_to_another_host_or_scheme_is_refused(keyed, target):
    with CannedServer() as elsewhere:
        port = elsewhere.httpd.server_address[1]
        refusal = pytest.raises(UserError, match=f"to another origin, {target}:{port}; refused")
        with RedirectServer(f"{target}:{port}", 307) as server, refusal as exc:
            backend_for(server.url).generate(QUESTION)
    assert KEY not in str(exc.value)
    assert elsewhere.requests == []


@pytest.mark.parametrize("status", [307, 308])
def test_a_redirect_within_the_origin_is_followed_with_method_body_and_key(keyed, status):
    with CannedServer(moved=("/old", status)) as server:
        assert backend_for(server.root + "/old").generate(QUESTION) == ["red"]
    seen = [(r["method"], r["path"]) for r in server.requests]
    assert seen == [
        ("GET", "/old/models"),
        ("GET", "/v1/models"),
        ("POST", "/old/chat/completions"),
        ("POST", "/v1/chat/completions"),
    ]
    assert all(r["headers"]["Authorization"] == f"Bearer {KEY}" for r in server.requests)
    assert server.requests[2]["body"] == server.requests[3]["body"] and server.requests[3]["body"]["messages"]


@pytest.mark.parametrize("status", [301, 302, 303])
def test_a_same_origin_redirect_that_would_drop_a_posts_body_is_refused(keyed, status):
    with CannedServer(moved=("/old", status)) as server:
        backend = backend_for(server.root + "/old")
        assert backend.client.get("/models")["data"][0]["id"] == "canned"  # a GET is simply followed
        with pytest.raises(UserError, match=rf"answered POST with {status}, a redirect that drops the request body"):
            backend.client.post("/chat/completions", {"model": "canned"})
    assert [r["path"] for r in server.requests] == ["/old/models", "/v1/models", "/old/chat/completions"]


# -- a key in base_url -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        f"https://user:{KEY}@api.example.com/v1",
        f"http://{KEY}@127.0.0.1:8000/v1",
        f"https://user:{KEY}/more@api.example.com/v1",  # a '/' in the key hides the user part from URL parsers
        f"user:{KEY}@api.example.com/v1",  # no scheme: the scheme check must not echo it either
    ],
)
def test_a_key_in_base_url_is_refused_without_echoing_it(url):
    for check in (lambda: OPENAI.check({"base_url": url}, None), lambda: OpenAIBackend(base_url=url)):
        with pytest.raises(UserError, match="put the key in an environment variable and pass api_key_env=NAME") as exc:
            check()
        assert KEY not in str(exc.value) and "\n" not in str(exc.value)


def cli_run(tmp_path: Path, monkeypatch, model_args: str):
    """`kosmos-eval run vqav2 --model openai ...` in-process, with sys.argv set as the shell would set it (the
    run's lock file records the command line)."""
    data = tmp_path / "vqav2"
    write_vqav2(data, "val", [("What color is it?", ["red"] * 10, "other"), ("How many?", ["2"] * 10, "number")])
    args = ["run", "vqav2", "--split", "val", "--model", "openai", "--model-args", model_args]
    args += ["--data-dir", str(data), "--output", str(tmp_path / "runs"), "--no-progress"]
    monkeypatch.setattr(sys, "argv", ["kosmos-eval", *args])
    return CliRunner().invoke(app, args)


def test_a_cli_run_with_a_key_in_base_url_stops_before_anything_is_written(tmp_path, monkeypatch, caplog, capfd):
    with CannedServer() as server:
        url = server.url.replace("http://", f"http://user:{KEY}@")
        result = cli_run(tmp_path, monkeypatch, f"base_url={url},model=canned,max_retries=0")
    assert result.exit_code == 2, result.output
    assert "api_key_env=NAME" in result.output
    assert server.requests == []
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*"))  # no folder, no .lock
    captured = capfd.readouterr()
    assert_key_nowhere(tmp_path, result.output, caplog.text, captured.out, captured.err)


def test_a_successful_cli_run_with_api_key_env_writes_the_key_nowhere(keyed, tmp_path, monkeypatch, caplog, capfd):
    """Through a server that moved its API (a same-origin 308), so the key is resent once per request."""
    with CannedServer(moved=("/api", 308)) as server:
        result = cli_run(tmp_path, monkeypatch, f"base_url={server.root}/api,model=canned,api_key_env={KEY_ENV}")
    assert result.exit_code == 0, result.output
    assert {r["headers"]["Authorization"] for r in server.requests} == {f"Bearer {KEY}"}  # the key was used
    assert any(r["path"] == "/v1/chat/completions" for r in server.requests)
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "samples.jsonl").is_file()
    captured = capfd.readouterr()
    assert_key_nowhere(tmp_path, result.output, caplog.text, captured.out, captured.err)


def test_a_server_that_echoes_the_key_in_its_error_does_not_get_it_printed(keyed, tmp_path, monkeypatch, caplog, capfd):
    with CannedServer(echo_key=(401, 1)) as server:
        result = cli_run(tmp_path, monkeypatch, f"base_url={server.url},model=canned,api_key_env={KEY_ENV}")
    assert result.exit_code == 2
    assert "-> 401: Incorrect API key provided: ***. Check the API key" in result.output
    captured = capfd.readouterr()
    assert_key_nowhere(tmp_path, result.output, caplog.text, captured.out, captured.err)


# -- redaction -------------------------------------------------------------------------------------------------
def test_redact_hides_secrets_but_keeps_counts_and_variable_names():
    text = (
        "GET https://user:pw@host/v1 api_key=sk-1 hf_token=abc OPENAI_API_KEY=sk-2 db_password=p "
        "api_key_env=MY_KEY max_tokens=16 max_new_tokens=8 tokenizer=llama prompt_tokens=3"
    )
    assert redact(text) == (
        "GET https://***@host/v1 api_key=*** hf_token=*** OPENAI_API_KEY=*** db_password=*** "
        "api_key_env=MY_KEY max_tokens=16 max_new_tokens=8 tokenizer=llama prompt_tokens=3"
    )
    assert has_userinfo(f"https://u:{KEY}@h/v1") and not has_userinfo("https://h/v1?next=a@b")
