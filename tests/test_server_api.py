"""The REST API over HTTP: the whole persona workflow on the ``local`` provider (upload, consent, plan,
train with the live feed, avatar, answer, media), the JSON errors, upload limits and hostile file names."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from polyface import LocalAdapter
from polyface.errors import (
    BudgetExceeded,
    CapabilityNotSupported,
    ConfigurationError,
    ConsentRequired,
    DatasetError,
    InvalidArgument,
    PolyfaceError,
    RateLimited,
)
from polyface.persona.errors import NoAvatar, PersonaExists, PersonaNotFound, RunNotFound
from polyface.persona.studio import Studio
from polyface.server.api.uploads import safe_name
from polyface.server.app import create_app
from polyface.server.settings import ServerSettings

ROWS = [
    json.loads(line) for line in (files("polyface.samples") / "rex_dialogue.jsonl").read_text().splitlines()
]


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """Two short recordings of one eSpeak voice (WAV bytes)."""
    folder = tmp_path_factory.mktemp("voices")
    speech = LocalAdapter(data_dir=folder / "tts").audio
    out = []
    for i, line in enumerate(["Listen, kid. Family comes first, always.", "Home is where my family waits."]):
        path = folder / f"v{i}.wav"
        speech.speak(model="espeak-ng", text=line, voice="en-us+m2").save(path)
        out.append(path.read_bytes())
    return out


def client_for(studio: Studio, **settings: Any) -> TestClient:
    app = create_app(studio, ServerSettings(**settings))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(studio: Studio) -> Iterator[TestClient]:
    with client_for(studio) as c:
        yield c


@pytest.fixture
def sqlite_studio(tmp_path: Path) -> Iterator[Studio]:
    s = Studio(f"sqlite:///{tmp_path / 'api.db'}", data_dir=tmp_path / "studio")
    yield s
    s.close()


def error_of(response: Any, status: int, code: str) -> str:
    """The error message, after checking the status and the JSON shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    assert message
    return message


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    event, data = "message", ""
    for line in lines:
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif not line and data:
            yield event, json.loads(data)
            event, data = "message", ""


# ---- the whole workflow ---------------------------------------------------------------------------


def test_whole_workflow_over_http(client: TestClient, voices: list[bytes], studio: Studio) -> None:
    created = client.post("/api/personas", json={"name": "rex", "description": "A gruff driver."})
    assert created.status_code == 201 and created.json()["name"] == "rex"
    assert [p["name"] for p in client.get("/api/personas").json()] == ["rex"]

    # one bad file among good ones: 200, the good kept, the bad one listed with its reason
    upload = client.post(
        "/api/personas/rex/samples/audio",
        files=[
            ("files", ("v0.wav", voices[0], "audio/wav")),
            ("files", ("v0.txt", b"Listen, kid. Family comes first, always.", "text/plain")),
            ("files", ("v1.wav", voices[1], "audio/wav")),
            ("files", ("broken.wav", b"this is not a recording at all", "audio/wav")),
        ],
    )
    assert upload.status_code == 200, upload.text
    report = upload.json()
    assert [a["source"] for a in report["added"]] == ["v0.wav", "v1.wav"]
    assert (
        report["added"][0]["text"] == "Listen, kid. Family comes first, always."
    )  # the transcript beside it
    assert [(r["source"], "not audio" in r["reason"]) for r in report["rejected"]] == [("broken.wav", True)]
    assert report["ok"] is False and "path" not in report["added"][0]
    again = client.post("/api/personas/rex/samples/voice", files={"f": ("same.wav", voices[1], "audio/wav")})
    assert again.json()["duplicates"] == ["same.wav"] and again.json()["added"] == []

    rows = client.post("/api/personas/rex/samples/text", json=ROWS[:8])
    assert rows.status_code == 200 and len(rows.json()["added"]) == 8, rows.text
    listed = client.get("/api/personas/rex/samples", params={"modality": "audio"}).json()
    assert [s["source"] for s in listed] == ["v0.wav", "v1.wav"]
    content = client.get(listed[1]["content_url"])
    assert content.headers["content-type"] == "audio/wav" and content.content == voices[1]
    assert client.get("/api/personas/rex").json()["samples"] == {"audio": 2, "text": 8}

    # training the voice needs consent: refused before anything starts, then recorded
    plan = client.post("/api/personas/rex/plan", json={"voice": "local"})
    assert plan.status_code == 200, plan.text
    (item,) = plan.json()["items"]
    assert (item["modality"], item["provider"], item["base_model"], item["samples"]) == (
        "voice",
        "local",
        "espeak-ng",
        2,
    )
    assert item["estimated_cost_usd"] == 0.0 and plan.json()["total_usd"] == 0.0
    refused = client.post("/api/personas/rex/train", json={"plan": plan.json(), "budget_usd": 1})
    assert "consent" in error_of(refused, 403, "consent_required")
    assert client.get("/api/runs").json() == []
    consent = client.post("/api/personas/rex/consents", json={"subject": "Rex Harbor", "uses": ["voice"]})
    assert consent.status_code == 201 and consent.json()["uses"] == ["voice"]

    started = client.post("/api/personas/rex/train", json={"plan": plan.json(), "budget_usd": 1})
    assert started.status_code == 201, started.text
    (run,) = started.json()["runs"]
    assert run["modality"] == "voice" and run["provider"] == "local"

    # the live feed: one event per change, until every run is done
    seen: list[dict[str, Any]] = []
    with client.stream("GET", "/api/runs/events", params={"persona": "rex", "interval": 0.5}) as feed:
        assert feed.headers["content-type"].startswith("text/event-stream")
        for event, data in sse_events(feed.iter_lines()):
            if event == "done":
                assert data["statuses"] == {run["id"]: "succeeded"}
                break
            assert event == "run" and data["id"] == run["id"]
            seen.append(data)
    assert seen and seen[-1]["status"] == "succeeded" and seen[-1]["result_model"]
    assert len({json.dumps(s, sort_keys=True) for s in seen}) == len(seen)  # only changes are sent
    assert client.get(f"/api/runs/{run['id']}").json()["status"] == "succeeded"
    assert [r["id"] for r in client.get("/api/runs", params={"persona": "rex"}).json()] == [run["id"]]

    # avatar: a mapping for text, then the trained voice on top
    first = client.post("/api/personas/rex/avatars", json={"models": {"text": "local:smollm2-135m-instruct"}})
    assert first.status_code == 201 and first.json()["version"] == 1
    second = client.post("/api/personas/rex/avatars", json={"runs": [run["id"]]})
    assert second.json()["version"] == 2 and set(second.json()["models"]) == {"text", "voice"}
    assert second.json()["models"]["voice"]["model"] == seen[-1]["result_model"]

    answer = client.post(
        "/api/personas/rex/respond",
        json={"input": "What matters most?", "output_modalities": ["text", "voice"], "max_tokens": 12},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["text"].strip() and body["avatar_version"] == 2 and set(body["outputs"]) == {"voice"}
    voice = client.get(body["outputs"]["voice"]["url"])
    assert voice.status_code == 200 and voice.headers["content-type"] == "audio/wav"
    assert (
        voice.content[:4] == b"RIFF"
        and hashlib.sha256(voice.content).hexdigest() == body["outputs"]["voice"]["sha256"]
    )

    (conversation,) = client.get("/api/personas/rex/conversations").json()
    assert conversation["id"] == body["conversation_id"] and conversation["turns"] == 2
    turns = client.get(f"/api/conversations/{body['conversation_id']}").json()["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert [m["url"] for m in turns[1]["media"]] == [body["outputs"]["voice"]["url"]]

    back = client.post("/api/personas/rex/avatars/rollback")
    assert (
        back.json()["version"] == 1 and client.get("/api/personas/rex/avatars").json()["active_version"] == 1
    )
    assert client.post("/api/personas/rex/avatars/2/activate").json()["active"] is True


# ---- errors ------------------------------------------------------------------------------------------


def test_unknown_persona_is_404_saying_what_to_do(client: TestClient) -> None:
    client.post("/api/personas", json={"name": "ada"})
    for method, path in [
        ("GET", "/api/personas/nobody"),
        ("GET", "/api/personas/nobody/samples"),
        ("POST", "/api/personas/nobody/plan"),
        ("GET", "/api/runs/events?persona=nobody"),
    ]:
        response = client.request(method, path, json={"voice": "local"} if method == "POST" else None)
        message = error_of(response, 404, "persona_not_found")
        assert "'nobody'" in message and "ada" in message and "create" in message


def test_error_statuses_and_codes(client: TestClient, voices: list[bytes]) -> None:
    assert client.post("/api/personas", json={"name": "rex"}).status_code == 201
    assert "already exists" in error_of(
        client.post("/api/personas", json={"name": "rex"}), 409, "persona_exists"
    )
    assert "lowercase" in error_of(
        client.post("/api/personas", json={"name": "Rex!"}), 400, "invalid_argument"
    )
    assert "name" in error_of(client.post("/api/personas", json={"description": "x"}), 422, "invalid_request")
    assert "runs list" in error_of(client.get("/api/runs/nope"), 404, "run_not_found")
    error_of(client.post("/api/runs/nope/cancel"), 404, "run_not_found")
    no_avatar = client.post("/api/personas/rex/respond", json={"input": "hi"})
    assert "set_avatar" in error_of(no_avatar, 409, "no_avatar")
    assert "no audio samples" in error_of(
        client.post("/api/personas/rex/plan", json={"voice": "local"}), 400, "invalid_argument"
    )
    together = client.post("/api/personas/rex/plan", json={"image": "together"})
    assert "local" in error_of(together, 400, "capability_not_supported")
    assert "file name" in error_of(
        client.post("/api/personas/rex/respond", json={"input": "/etc/hosts.wav"}), 400, "invalid_argument"
    )
    error_of(client.get("/api/personas/rex/samples/999"), 404, "sample_not_found")
    error_of(client.get("/api/personas/rex/samples/999/content"), 404, "sample_not_found")
    error_of(client.get("/api/conversations/999"), 404, "conversation_not_found")
    error_of(client.post("/api/personas/rex/consents/999/revoke"), 404, "consent_not_found")
    error_of(client.get("/api/media/" + "0" * 64), 404, "media_not_found")
    error_of(client.get("/api/media/..%2F..%2Fpolyface.db"), 404, "not_found")
    error_of(client.get("/api/media/polyface.db"), 404, "media_not_found")
    error_of(client.get("/api/nowhere"), 404, "not_found")
    error_of(client.put("/api/personas"), 405, "method_not_allowed")
    wrong_type = client.post(
        "/api/personas/rex/samples/audio", content=voices[0], headers={"content-type": "audio/wav"}
    )
    assert "multipart" in error_of(wrong_type, 415, "unsupported_media_type")
    error_of(
        client.post("/api/personas/rex/samples/smell", files={"f": ("a.wav", voices[0])}),
        400,
        "invalid_argument",
    )
    error_of(client.post("/api/personas/rex/samples/text", json=[]), 400, "invalid_argument")


def test_library_errors_map_to_statuses_without_internals(sqlite_studio: Studio) -> None:
    app = create_app(sqlite_studio, ServerSettings())
    raised: dict[str, Exception] = {
        "missing": PersonaNotFound("x", []),
        "run": RunNotFound("no run 'r'"),
        "exists": PersonaExists("x"),
        "invalid": InvalidArgument("bad value; fix it"),
        "dataset": DatasetError("rows.jsonl", [(3, "messages", "missing")]),
        "consent": ConsentRequired("record consent first"),
        "budget": BudgetExceeded(9.0, 1.0),
        "capability": CapabilityNotSupported("local", "fine_tuning.x", offered_by=["together"]),
        "avatar": NoAvatar("train one"),
        "config": ConfigurationError("set POLYFACE_X"),
        "provider": RateLimited(
            "slow down", provider="together", status=429, code="rate_limit", retry_after=2.5
        ),
        "other": PolyfaceError("the provider did not cancel; try again"),
        "bug": RuntimeError("secret-token-123 at /srv/internal/path.py"),
    }

    @app.get("/boom/{kind}")
    def boom(kind: str) -> None:
        raise raised[kind]

    _attach_last(app)
    expected = {
        "missing": (404, "persona_not_found"),
        "run": (404, "run_not_found"),
        "exists": (409, "persona_exists"),
        "invalid": (400, "invalid_argument"),
        "dataset": (422, "invalid_argument"),
        "consent": (403, "consent_required"),
        "budget": (402, "budget_exceeded"),
        "capability": (400, "capability_not_supported"),
        "avatar": (409, "no_avatar"),
        "config": (500, "configuration_error"),
        "provider": (502, "provider_error"),
        "other": (500, "polyface_error"),
        "bug": (500, "internal_error"),
    }
    with TestClient(app, raise_server_exceptions=False) as client:
        for kind, (status, code) in expected.items():
            error_of(client.get(f"/boom/{kind}"), status, code)
        provider = client.get("/boom/provider")
        assert provider.headers["retry-after"] == "3"
        assert provider.json()["error"]["provider"] == "together"
        assert provider.json()["error"]["provider_code"] == "rate_limit"
        assert client.get("/boom/dataset").json()["error"]["problems"] == [
            {"line": 3, "field": "messages", "message": "missing"}
        ]
        bug = client.get("/boom/bug").json()["error"]
        assert (
            "secret" not in json.dumps(bug)
            and "/srv" not in json.dumps(bug)
            and bug["incident"] in bug["message"]
        )


def _attach_last(app: FastAPI) -> None:
    """Move the test's route before the catch-all routers, if any (routes match in order)."""
    boom = app.router.routes.pop()
    app.router.routes.insert(0, boom)


# ---- uploads: limits and names --------------------------------------------------------------------------


def test_oversize_upload_is_413_and_leaves_nothing(sqlite_studio: Studio, voices: list[bytes]) -> None:
    limit = max(len(v) for v in voices) + 10
    with client_for(sqlite_studio, max_upload_bytes=limit) as client:
        client.post("/api/personas", json={"name": "rex"})
        big = voices[0] + b"\0" * (limit + 1)
        response = client.post(
            "/api/personas/rex/samples/audio",
            files=[("files", ("ok.wav", voices[0], "audio/wav")), ("files", ("huge.wav", big, "audio/wav"))],
        )
        message = error_of(response, 413, "too_large")
        assert "huge.wav" in message and response.json()["error"]["limit_bytes"] == limit
        uploads = sqlite_studio.data_dir / "uploads"
        assert not uploads.exists() or list(uploads.iterdir()) == []
        assert client.get("/api/personas/rex/samples").json() == []  # nothing of that request kept
        evidence = client.post(
            "/api/personas/rex/consents", data={"subject": "Rex"}, files={"evidence": ("form.pdf", big)}
        )
        error_of(evidence, 413, "too_large")
        assert client.get("/api/personas/rex/consents").json() == []
        assert not uploads.exists() or list(uploads.iterdir()) == []
        # within the limit, the same endpoint works
        fine = client.post("/api/personas/rex/samples/audio", files={"files": ("ok.wav", voices[0])})
        assert [a["source"] for a in fine.json()["added"]] == ["ok.wav"]
        assert list(uploads.iterdir()) == []


def test_path_traversal_file_names_are_harmless(
    sqlite_studio: Studio, voices: list[bytes], tmp_path: Path
) -> None:
    with client_for(sqlite_studio) as client:
        client.post("/api/personas", json={"name": "rex"})
        hostile = ["../../../../escape.wav", "..\\..\\windows.wav", "/etc/passwd", "..", " / "]
        response = client.post(
            "/api/personas/rex/samples/audio",
            files=[
                ("files", (name, voices[i % 2] + bytes(i), "audio/wav")) for i, name in enumerate(hostile)
            ],
        )
        assert response.status_code == 200, response.text
        report = response.json()
        sources = [a["source"] for a in report["added"]] + [r["source"] for r in report["rejected"]]
        assert sorted(sources) == sorted(["escape.wav", "windows.wav", "passwd", "upload-4", "upload-5"]), (
            report
        )
        assert all("/" not in s and "\\" not in s and ".." not in s for s in sources)
        for root in (tmp_path, *tmp_path.parents[:4]):  # "../../../../escape.wav" would land up there
            assert not (root / "escape.wav").exists() and not (root / "windows.wav").exists()
        assert not any(
            p.name in {"escape.wav", "windows.wav"} for p in tmp_path.rglob("*") if "media" not in p.parts
        )
        stored = [s["source"] for s in client.get("/api/personas/rex/samples").json()]
        assert "escape.wav" in stored and "windows.wav" in stored


def test_empty_file_inputs_are_ignored_and_fields_read(sqlite_studio: Studio, voices: list[bytes]) -> None:
    """A browser form posts an unused file input as a part with an empty file name and no bytes."""
    boundary = "pfboundary42"
    parts = [
        b'Content-Disposition: form-data; name="files"; filename=""\r\nContent-Type: application/octet-stream'
        b"\r\n\r\n",
        b'Content-Disposition: form-data; name="files"; filename="take.wav"\r\n'
        b"Content-Type: audio/wav\r\n\r\n" + voices[0],
    ]
    body = (
        b"".join(f"--{boundary}\r\n".encode() + p + b"\r\n" for p in parts) + f"--{boundary}--\r\n".encode()
    )
    with client_for(sqlite_studio) as client:
        client.post("/api/personas", json={"name": "rex"})
        response = client.post(
            "/api/personas/rex/samples/audio",
            content=body,
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.status_code == 200, response.text
        assert [a["source"] for a in response.json()["added"]] == ["take.wav"]
        assert response.json()["rejected"] == []
        truncated = body[: body.index(b"data") + 100]  # the recording cut short, no closing boundary
        broken = client.post(
            "/api/personas/rex/samples/audio",
            content=truncated,
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert "ends early" in error_of(broken, 400, "bad_request")
        assert len(client.get("/api/personas/rex/samples").json()) == 1


def test_safe_name() -> None:
    assert safe_name("../../a/b/voice.wav") == "voice.wav"
    assert safe_name("C:\\Users\\x\\take 1.wav") == "take 1.wav"
    assert safe_name("...hidden") == "hidden"
    assert safe_name("a\x00b\nc.wav") == "abc.wav"
    assert safe_name("$(rm -rf).wav") == "_(rm -rf).wav"
    assert safe_name("", "upload-1") == "upload-1" and safe_name("..") == "upload"
    long = safe_name("x" * 500 + ".flac")
    assert len(long) == 120 and long.endswith(".flac")


# ---- consent, samples, media ----------------------------------------------------------------------------


def test_consent_with_evidence_samples_delete_and_media_guard(
    client: TestClient, voices: list[bytes]
) -> None:
    client.post("/api/personas", json={"name": "rex"})
    recorded = client.post(
        "/api/personas/rex/consents",
        data={"subject": "Rex Harbor", "uses": "voice,image"},
        files={"evidence": ("statement.wav", voices[0], "audio/wav")},
    )
    assert recorded.status_code == 201, recorded.text
    consent = recorded.json()
    assert consent["uses"] == ["image", "voice"] and consent["evidence_url"]
    assert client.get(consent["evidence_url"]).content == voices[0]
    bad = client.post("/api/personas/rex/consents", json={"subject": "Rex", "uses": ["smell"]})
    assert "voice" in error_of(bad, 400, "invalid_argument")
    revoked = client.post(f"/api/personas/rex/consents/{consent['id']}/revoke")
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/api/personas/rex/consents").json() == []
    assert len(client.get("/api/personas/rex/consents", params={"include_revoked": True}).json()) == 1

    added = client.post("/api/personas/rex/samples/audio", files={"files": ("b.wav", voices[1])}).json()[
        "added"
    ]
    (sample,) = added
    media = client.get(f"/api/media/{sample['media_sha256']}")
    assert media.status_code == 200 and media.content == voices[1]
    assert media.headers["content-type"] == "audio/wav" and "immutable" in media.headers["cache-control"]
    assert client.delete(f"/api/personas/rex/samples/{sample['id']}").json()["id"] == sample["id"]
    error_of(
        client.get(f"/api/media/{sample['media_sha256']}"), 404, "media_not_found"
    )  # no row refers to it

    script = client.post(
        "/api/personas/rex/samples/text",
        files={"files": ("talk.txt", b"Kid: Who do you trust?\nRex: Family. Nobody else.\n")},
    )
    assert len(script.json()["added"]) == 1 and script.json()["added"][0]["source"].startswith("talk.txt")
    text_id = script.json()["added"][0]["id"]
    row = client.get(f"/api/personas/rex/samples/{text_id}/content")
    assert row.headers["content-type"] == "application/json" and "Family" in json.dumps(row.json())

    assert client.patch("/api/personas/rex", json={"style_notes": "dry"}).json()["style_notes"] == "dry"
    assert client.delete("/api/personas/rex").status_code == 204
    error_of(client.get("/api/personas/rex"), 404, "persona_not_found")


def test_other_sites_and_hosts_are_refused(tmp_path: Path) -> None:
    from polyface.server.app import create_app

    with Studio(f"sqlite:///{tmp_path / 'g.db'}", data_dir=tmp_path / "g") as studio:
        client = TestClient(create_app(studio), raise_server_exceptions=False)
        ok = client.post("/api/personas", json={"name": "rex"})
        assert ok.status_code == 201
        evil = client.post("/api/personas", json={"name": "max"}, headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403 and evil.json()["error"]["code"] == "cross_origin"
        same = client.post("/api/personas", json={"name": "max"}, headers={"Origin": "http://testserver"})
        assert same.status_code == 201
        rebound = client.get("/api/personas", headers={"Host": "attacker.example"})
        assert rebound.status_code == 400  # a loopback server answers only to loopback names
        # consent evidence that is HTML is never rendered on this origin
        import io

        made = client.post(
            "/api/personas/rex/consents",
            data={"subject": "Rex", "uses": "voice"},
            files={"evidence": ("x.html", io.BytesIO(b"<script>alert(1)</script>"), "text/html")},
        )
        assert made.status_code == 201, made.text
        url = made.json()["evidence_url"]
        served = client.get(url)
        assert served.status_code == 200 and served.headers["content-security-policy"] == "sandbox"
        assert served.headers["content-disposition"].startswith("attachment")


def test_the_rest_api_takes_keys_when_listening_beyond_loopback(tmp_path: Path) -> None:
    from polyface.server.app import create_app
    from polyface.server.auth import create_key
    from polyface.server.settings import ServerSettings

    with Studio(f"sqlite:///{tmp_path / 'k.db'}", data_dir=tmp_path / "k") as studio:
        _, secret = create_key(studio, "ops")
        client = TestClient(create_app(studio, ServerSettings(host="0.0.0.0")), raise_server_exceptions=False)
        assert client.get("/api/personas").status_code == 401
        assert client.get("/api/personas", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_metrics_label_rest_routes_by_their_full_template(tmp_path: Path) -> None:
    from polyface.server.app import create_app

    with Studio(f"sqlite:///{tmp_path / 'm.db'}", data_dir=tmp_path / "m") as studio:
        client = TestClient(create_app(studio), raise_server_exceptions=False)
        client.post("/api/personas", json={"name": "rex"})
        assert client.get("/api/personas/rex").status_code == 200
        assert client.get("/api/personas/nobody").status_code == 404
        metrics = client.get("/metrics").text
        assert 'route="/api/personas/{name}"' in metrics
        assert 'route="/personas/{name}"' not in metrics
