"""The avatar studio page: served with labelled controls and local assets only, and the whole flow in
headless Chromium (Playwright on the system's ``/usr/bin/chromium``) against the app served by uvicorn on
the ``local`` provider: persona, uploads (file input and drag and drop) with per-file results, consent,
plan with costs, training followed on the live feed, avatar, and an answer whose audio and video play."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from polyface import LocalAdapter
from polyface.persona.studio import Studio
from polyface.server import page
from polyface.server.app import create_app
from polyface.server.settings import ServerSettings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FilePayload, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--autoplay-policy=no-user-gesture-required",
]
TRAINING_MS = 120_000
ANSWER_MS = 180_000


def studio_app(studio: Studio) -> FastAPI:
    """The app, with the page registered unless ``create_app`` already includes it."""
    app = create_app(studio, ServerSettings())
    if not any(getattr(route, "name", None) == "studio_page" for route in app.routes):
        page.register(app)
    return app


@pytest.fixture
def sqlite_studio(tmp_path: Path) -> Iterator[Studio]:
    s = Studio(f"sqlite:///{tmp_path / 'page.db'}", data_dir=tmp_path / "studio")
    yield s
    s.close()


# ---- served HTML, without a browser ----------------------------------------------------------------


class _Controls(HTMLParser):
    """Form controls, labels, buttons and URLs of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: dict[str, str] = {}  # id -> tag
        self.unnamed: list[str] = []  # controls with no id, not inside a <label>
        self.label_for: set[str] = set()
        self.buttons: list[str] = []
        self.urls: list[str] = []
        self._in_label = 0
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for key in ("src", "href", "action"):
            if found.get(key):
                self.urls.append(str(found[key]))
        if tag == "label":
            self._in_label += 1
            if found.get("for"):
                self.label_for.add(str(found["for"]))
        elif tag in ("input", "select", "textarea"):
            if found.get("id"):
                self.controls[str(found["id"])] = tag
            elif not self._in_label:
                self.unnamed.append(tag)
        elif tag == "button":
            self._button = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._in_label -= 1
        elif tag == "button" and self._button is not None:
            self.buttons.append("".join(self._button).strip())
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)


def test_page_is_served_accessible_and_offline(sqlite_studio: Studio) -> None:
    sqlite_studio.personas.create("ada")
    with TestClient(studio_app(sqlite_studio)) as client:
        home = client.get("/")
        assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
        assert client.get("/studio").text == home.text
        html = home.text
        assert '<option value="ada">ada</option>' in html  # server-rendered persona list
        parsed = _Controls()
        parsed.feed(html)
        unlabelled = sorted(set(parsed.controls) - parsed.label_for)
        assert not unlabelled and not parsed.unnamed, (unlabelled, parsed.unnamed)
        assert {"persona-name", "sample-files", "consent-subject", "provider-voice", "question"} <= set(
            parsed.controls
        )
        assert parsed.buttons and all(parsed.buttons), parsed.buttons  # every button says what it does
        assert {
            "Create persona",
            "Record consent",
            "Show plan",
            "Start training",
            "Set avatar",
            "Ask",
        } <= set(parsed.buttons)
        for modality, provider in [("voice", "local"), ("text", "together"), ("video", "local")]:
            select = re.search(rf'<select id="provider-{modality}".*?</select>', html, re.S)
            assert select and f'value="{provider}"' in select.group(0)
        # nothing from another host: every URL is a path on this server
        assert parsed.urls and all(u.startswith("/") and not u.startswith("//") for u in parsed.urls)
        for url in parsed.urls:
            if url.startswith("/static/"):
                asset = client.get(url)
                assert asset.status_code == 200 and asset.text, url
                text = asset.text.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not a fetch
                assert "http://" not in text and "https://" not in text, url
        assert client.get("/static/studio.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/static/studio.css").headers["content-type"].startswith("text/css")
        assert client.get("/static/missing.js").status_code == 404
        assert "/" not in client.get("/openapi.json").json()["paths"]  # the page stays out of the API docs


# ---- the whole flow in Chromium -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """Two short eSpeak recordings (WAV bytes)."""
    folder = tmp_path_factory.mktemp("page-voices")
    speech = LocalAdapter(data_dir=folder / "tts").audio
    out = []
    for i, line in enumerate(["Listen, kid. Family comes first, always.", "Home is where my family waits."]):
        path = folder / f"v{i}.wav"
        speech.speak(model="espeak-ng", text=line, voice="en-us+m2").save(path)
        out.append(path.read_bytes())
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        if os.environ.get("CI"):  # scripts/setup installs it: in CI its absence is a failure, not a skip
            pytest.fail(reason)
        pytest.skip(reason)
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def base_url(sqlite_studio: Studio) -> Iterator[str]:
    """The app served by uvicorn in a thread on a free port of 127.0.0.1 (the socket listens before the
    server starts, so the first request waits in the backlog instead of failing)."""
    import uvicorn

    app = studio_app(sqlite_studio)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, ws="none", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
    assert not thread.is_alive(), "uvicorn did not stop"


def _drop(page_: Page, files: dict[str, bytes]) -> None:
    """Drop files on the drop zone, as a drag from the desktop does (a DataTransfer holding Files)."""
    encoded = {name: base64.b64encode(data).decode() for name, data in files.items()}
    transfer = page_.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, b64] of Object.entries(files)) {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name, { type: "audio/wav" }));
            }
            return transfer;
        }""",
        encoded,
    )
    page_.locator("#drop-zone").dispatch_event("dragover", {"dataTransfer": transfer})
    page_.locator("#drop-zone").dispatch_event("drop", {"dataTransfer": transfer})


def _results(page_: Page) -> list[tuple[str, str, str]]:
    rows: list[list[str]] = page_.eval_on_selector_all(
        "#upload-results tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    return [(r[0], r[1], r[2]) for r in rows]


PLAYS = """async (id) => {
    const media = document.getElementById(id);
    await media.play();
    const start = media.currentTime;
    await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(id + " did not advance")), 10000);
        const check = () => {
            if (media.currentTime > start) { clearTimeout(timer); resolve(); }
            else requestAnimationFrame(check);
        };
        check();
    });
    return {paused: media.paused, currentTime: media.currentTime, start};
}"""


@pytest.mark.slow
@pytest.mark.browser
def test_whole_studio_flow_in_chromium(browser: Browser, base_url: str, voices: list[bytes]) -> None:
    from playwright.sync_api import expect

    context = browser.new_context()
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    tab.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    failed: list[str] = []
    tab.on(
        "response",
        lambda r: failed.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None,
    )
    feeds: list[str] = []
    tab.on("request", lambda req: feeds.append(req.url) if "/api/runs/events" in req.url else None)
    try:
        tab.goto(base_url + "/")
        expect(tab).to_have_title("polyface avatar studio")

        # 1. persona
        tab.get_by_label("Name (lowercase letters, digits, - or _)").fill("rex")
        tab.get_by_label("Description").fill("A gruff driver who lives by family.")
        tab.get_by_role("button", name="Create persona").click()
        expect(tab.locator("#current")).to_have_text("Working on persona: rex")
        expect(tab.locator("#persona-status")).to_have_text("Created persona rex.")

        # 2. samples: a good WAV and a bad file through the file input, then a drop (one new, one again)
        tab.get_by_label("Kind of samples").select_option("audio")
        good: FilePayload = {"name": "take1.wav", "mimeType": "audio/wav", "buffer": voices[0]}
        bad: FilePayload = {
            "name": "notes.wav",
            "mimeType": "audio/wav",
            "buffer": b"this is not a recording",
        }
        tab.get_by_label("Sample files").set_input_files([good, bad])
        expect(tab.locator("#upload-results tbody tr")).to_have_count(2)
        rows = _results(tab)
        assert rows[0][:2] == ("take1.wav", "added") and rows[0][2].startswith("sample ")
        assert rows[1][:2] == ("notes.wav", "rejected") and "not audio" in rows[1][2], rows
        status = tab.locator("#samples-status")
        expect(status).to_have_attribute("role", "alert")
        expect(status).to_contain_text("1 added, 0 already stored, 1 rejected")

        _drop(tab, {"take2.wav": voices[1], "again.wav": voices[0]})
        expect(tab.locator("#upload-results tbody tr")).to_have_count(4)
        assert _results(tab)[2:] == [
            ("take2.wav", "added", _results(tab)[2][2]),
            ("again.wav", "duplicate", "already stored for this persona"),
        ]
        expect(status).to_have_attribute("role", "status")

        # only bad files: the server answers 422 with the same per-file report, shown the same way
        tab.get_by_label("Sample files").set_input_files([{**bad, "name": "empty.wav", "buffer": b""}])
        expect(tab.locator("#upload-results tbody tr")).to_have_count(5)
        assert _results(tab)[4][:2] == ("empty.wav", "rejected"), _results(tab)
        expect(status).to_contain_text("0 added, 0 already stored, 1 rejected")
        expect(status).to_have_attribute("role", "alert")

        # 4a. plan voice on local, with its cost; training is refused until consent is recorded
        tab.locator("#provider-voice").select_option("local")
        tab.get_by_role("button", name="Show plan").click()
        plan_row = tab.locator('#plan-table tr[data-modality="voice"] td')
        expect(plan_row).to_have_text(["voice", "local", "espeak-ng", "2", "$0.00", re.compile(".*")])
        expect(tab.locator("#plan-total")).to_have_text("$0.00")
        train = tab.get_by_role("button", name="Start training")
        expect(train).to_be_enabled()
        train.click()
        expect(tab.locator("#train-status")).to_contain_text("consent_required")
        expect(tab.locator("#train-status")).to_have_attribute("role", "alert")

        # 3. consent
        tab.get_by_label("Whose likeness (the person's name)").fill("Rex Harbor")
        tab.get_by_role("button", name="Record consent").click()
        expect(tab.locator("#consent-list li")).to_have_text(["Rex Harbor consents to image, video, voice"])

        # 4b. train and follow the live feed until done
        train.click()
        voice_run = tab.locator('#progress-list li[data-modality="voice"]')
        expect(voice_run).to_have_attribute("data-status", "succeeded", timeout=TRAINING_MS)
        expect(tab.locator("#train-status")).to_have_text("Training finished: succeeded.")
        assert tab.locator("#train-status").get_attribute("data-done") == "true"
        assert voice_run.locator("progress").evaluate("bar => bar.value") == 1
        expect(voice_run.locator(".run-status")).to_contain_text("succeeded (100%): espeak-ng:")
        assert len(feeds) == 1 and "persona=rex" in feeds[0], feeds  # followed on the SSE feed, once

        # 5. avatar: the finished voice run plus a mapping for text and video
        run_box = tab.locator('#avatar-runs input[name="runs"]')
        expect(run_box).to_have_count(1)
        expect(run_box).to_be_checked()
        tab.get_by_label("text model").fill("local:smollm2-135m-instruct")
        tab.get_by_label("video model").fill("local:talking-head")
        tab.get_by_role("button", name="Set avatar").click()
        expect(tab.locator("#avatar-status")).to_have_text("Active avatar: version 2.")
        expect(tab.locator("#avatar-models dt")).to_have_count(3)
        assert sorted(tab.locator("#avatar-models dt").all_text_contents()) == ["text", "video", "voice"]
        expect(tab.locator("#avatar-models dt:text-is('voice') + dd")).to_contain_text("local:espeak-ng:")

        # 6. talk: text, voice and video
        tab.get_by_label("Your question").fill("What matters most to you?")
        tab.locator('#talk-form input[value="video"]').check()
        tab.get_by_label("Longest answer (tokens)").fill("12")
        tab.get_by_role("button", name="Ask").click()
        expect(tab.locator("#talk-status")).to_have_text("Answered (avatar version 2).", timeout=ANSWER_MS)
        assert tab.locator("#answer-text").inner_text().strip()
        expect(tab.locator("#answer-voice-figure")).to_be_visible()
        expect(tab.locator("#answer-video-figure")).to_be_visible()
        expect(tab.locator("#answer-image-figure")).to_be_hidden()

        for media_id in ("answer-voice", "answer-video"):
            tab.wait_for_function(
                "id => document.getElementById(id).readyState >= 2 || document.getElementById(id).error",
                arg=media_id,
            )
            loaded = tab.evaluate(
                """id => { const m = document.getElementById(id);
                    return {src: m.currentSrc, ready: m.readyState, duration: m.duration,
                            error: m.error && m.error.code, width: m.videoWidth || 0}; }""",
                media_id,
            )
            assert loaded["error"] is None and loaded["ready"] >= 2, loaded
            assert loaded["duration"] > 0 and "/api/media/" in loaded["src"], loaded
            if media_id == "answer-video":
                assert loaded["width"] > 0, loaded
            played = tab.evaluate(PLAYS, media_id)
            assert played["paused"] is False and played["currentTime"] > played["start"], played
        # the failed requests: the upload of only bad files and the training refused for want of consent
        assert failed == [
            f"422 POST {base_url}/api/personas/rex/samples/audio",
            f"403 POST {base_url}/api/personas/rex/train",
        ], failed
        unexpected = [p for p in problems if "Failed to load resource" not in p]
        assert not unexpected and len(problems) == len(failed), json.dumps(problems, indent=1)
    finally:
        context.close()
