"""Fuzzed uploads to the server: wrong types, broken media, empty files, hostile file names, oversized
files and bodies, many files, malformed multipart and missing fields. Each refused upload gets a clean
4xx JSON answer (a stable ``code``, a message, and for rejected files each file with its reason) and
leaves nothing behind: no sample or blob rows, no stored media, no file in the upload or temporary
folder. Good files sent beside bad ones are kept (200, the bad ones listed with their reasons)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _fuzz_media import (
    BOUNDARY,
    Census,
    census,
    error_body,
    form_headers,
    mp4,
    multipart,
    png,
    wav,
)
from _fuzz_strategies import FEW
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from polyface.persona.studio import Studio
from polyface.server.api.samples import MAX_TEXT_UPLOAD
from polyface.server.api.uploads import MAX_FILES, MAX_NAME
from polyface.server.app import create_app
from polyface.server.limits import MAX_GATEWAY_JSON_BYTES, MAX_JSON_BYTES
from polyface.server.settings import ServerSettings

pytestmark = pytest.mark.reliability


class Env:
    """A server on a fresh SQLite studio with persona ``rex``; temporary files go to ``temp``."""

    def __init__(self, studio: Studio, client: TestClient, temp: Path, root: Path) -> None:
        self.studio, self.client, self.temp, self.root = studio, client, temp, root
        self.uploads = 0

    def census(self) -> Census:
        return census(self.studio, self.temp)

    def post_form(self, path: str, parts: list[Any], **kwargs: Any) -> Any:
        return self.client.post(path, content=multipart(parts, **kwargs), headers=form_headers())

    def upload(self, modality: str, files: list[tuple[str, str | None, bytes]]) -> Any:
        """``files``: (name, content type, bytes), each as a part named ``files``."""
        parts = [("files", name, kind, data) for name, kind, data in files]
        return self.post_form(f"/api/personas/rex/samples/{modality}", parts)

    def assert_unchanged(self, before: Census) -> None:
        after = self.census()
        assert after == before, (before, after)
        assert after.upload_files == frozenset() and after.temp_files == frozenset(), after


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # the media checks' scratch files land here
    studio = Studio(f"sqlite:///{tmp_path / 'fuzz.db'}", data_dir=tmp_path / "studio")
    app = create_app(studio, ServerSettings())
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/api/personas", json={"name": "rex"}).status_code == 201
        yield Env(studio, client, temp, tmp_path)
    studio.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return mp4(tmp_path_factory.mktemp("clip"))


def _rejected(response: Any, count: int) -> dict[str, str]:
    """The 422 ``samples_rejected`` answer's reasons by file, after checking its shape."""
    error = error_body(response, 422)
    assert error["code"] == "samples_rejected", error
    assert error["added"] == [] and error["duplicates"] == [] and error["ok"] is False
    reasons = {r["source"]: r["reason"] for r in error["rejected"]}
    assert len(error["rejected"]) == count, error
    assert all(reason.strip() for reason in reasons.values()), error
    return reasons


# ---- bad files alone: 422 with a reason per file, nothing kept ------------------------------------------

GOOD_WAV = wav(1.0)
GOOD_PNG = png()

BAD_FILES: dict[str, tuple[str, list[tuple[str, str | None, bytes]], list[str]]] = {
    # case: (modality, files, a word each file's reason must hold)
    "png sent as audio": ("audio", [("voice.wav", "audio/wav", GOOD_PNG)], ["not audio"]),
    "text sent as audio": ("voice", [("notes.wav", "audio/wav", b"hello, not a recording")], ["not audio"]),
    "truncated wav header": ("audio", [("cut.wav", "audio/wav", GOOD_WAV[:30])], ["WAV"]),
    "wav cut mid-data": ("audio", [("half.wav", "audio/wav", GOOD_WAV[: len(GOOD_WAV) // 3])], ["cut off"]),
    "silent wav": ("audio", [("quiet.wav", "audio/wav", wav(1.0, level=0.0))], ["silent"]),
    "too short wav": ("audio", [("blip.wav", "audio/wav", wav(0.1))], ["too short"]),
    "empty audio": ("audio", [("empty.wav", "audio/wav", b"")], ["empty"]),
    "truncated png": ("image", [("cut.png", "image/png", GOOD_PNG[:60])], ["cannot be decoded"]),
    "wav sent as image": ("images", [("face.png", "image/png", GOOD_WAV)], ["not an image"]),
    "tiny png": ("image", [("tiny.png", "image/png", png(8, 8))], ["too small"]),
    "text sent as video": ("video", [("clip.mp4", "video/mp4", b"just words " * 50)], ["not a video"]),
    "png sent as video": ("video", [("clip.mp4", "video/mp4", GOOD_PNG)], ["not a video"]),
    "binary sent as text": ("text", [("rows.jsonl", "application/json", GOOD_PNG)], ["not UTF-8"]),
    "wrong text suffix": ("text", [("rows.exe", None, b'{"user": "a", "assistant": "b"}')], ["dialogue"]),
    "bad jsonl rows": (
        "text",
        [("rows.jsonl", None, b'{"user": "hi"}\n[1]\n{"user": 3, "assistant": "x"}\n')],
        ["assistant", "object", "string"],
    ),
    "several bad files": (
        "audio",
        [("a.wav", None, b""), ("b.wav", None, GOOD_PNG), ("c.wav", None, GOOD_WAV[:44])],
        ["empty", "not audio", "cut off"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_alone_get_422_with_each_reason_and_leave_nothing(env: Env, case: str) -> None:
    modality, files, words = BAD_FILES[case]
    before = env.census()
    response = env.upload(modality, files)
    reasons = list(_rejected(response, len(words)).values())
    for reason, word in zip(reasons, words, strict=True):
        assert word.lower() in reason.lower(), (case, reasons)
    env.assert_unchanged(before)


def test_broken_video_files_are_rejected_and_leave_nothing(env: Env, clip: bytes) -> None:
    before = env.census()
    files = [
        ("head.mp4", "video/mp4", clip[:1024]),  # the container's header only
        ("tail.mp4", "video/mp4", clip[: len(clip) // 2]),  # cut in the middle
        ("audio.mp4", "video/mp4", GOOD_WAV),  # a recording under a video's name
    ]
    reasons = _rejected(env.upload("video", files), 3)
    assert set(reasons) == {"head.mp4", "tail.mp4", "audio.mp4"}, reasons
    assert "not a video" in reasons["audio.mp4"]
    env.assert_unchanged(before)


def test_good_files_beside_bad_ones_are_kept(env: Env, clip: bytes) -> None:
    """The documented behaviour: 200, the good files added, each bad one listed with its reason."""
    response = env.upload(
        "audio",
        [
            ("good.wav", "audio/wav", GOOD_WAV),
            ("bad.wav", "audio/wav", GOOD_PNG),
            ("empty.wav", "audio/wav", b""),
        ],
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert [a["source"] for a in report["added"]] == ["good.wav"] and report["ok"] is False
    assert {r["source"] for r in report["rejected"]} == {"bad.wav", "empty.wav"}
    video = env.upload("video", [("clip.mp4", "video/mp4", clip), ("cut.mp4", "video/mp4", clip[:900])])
    assert video.status_code == 200, video.text
    assert [a["source"] for a in video.json()["added"]] == ["clip.mp4"]
    after = env.census()
    assert (after.samples, after.blobs, len(after.media_files)) == (2, 2, 2), after  # only the good ones
    assert after.upload_files == frozenset() and after.temp_files == frozenset()
    # the same good file again is a duplicate, not a rejection (200)
    again = env.upload("audio", [("same.wav", None, GOOD_WAV)])
    assert again.status_code == 200 and again.json()["duplicates"] == ["same.wav"]


# ---- hostile file names -------------------------------------------------------------------------------

hostile_names = st.one_of(
    st.sampled_from(
        [
            "../../x.wav",
            "../../../../../../etc/cron.d/x.wav",
            "/etc/passwd",
            "/tmp/abs.wav",
            "C:\\Windows\\system32\\x.wav",
            "..\\..\\x.wav",
            "x\x00.wav",
            "\x00",
            "..",
            ".",
            "...wav",
            " ",
            "x.wav\r\nContent-Type: text/html",
            'quote".wav',
            "\u202eevil\u202d.wav",
            "\u540d\u524d" * 100 + ".wav",  # 600 bytes of UTF-8
            "a" * 5000 + ".wav",
            "\U0001f600" * 80 + ".wav",
        ]
    ),
    st.text(max_size=300).map(lambda s: s + ".wav"),
    st.lists(st.sampled_from(["..", ".", "", "a", "\x00", "\u00e9", "/", "\\"]), max_size=12).map(
        lambda parts: "/".join(parts) + ".wav"
    ),
)


@FEW
@given(name=hostile_names)
def test_hostile_file_names_are_stored_harmlessly(env: Env, name: str) -> None:
    env.uploads += 1
    data = wav(0.6, freq=150 + env.uploads)  # a new recording each time (not a duplicate)
    before = env.census()
    response = env.upload("audio", [(name, "audio/wav", data)])
    if len(name.encode()) > 4000:  # past the multipart parser's header size: refused whole, cleanly
        assert "header" in error_body(response, 400)["message"]
        env.assert_unchanged(before)
        return
    assert response.status_code == 200, response.text
    (added,) = response.json()["added"]
    source = added["source"]
    assert source and "/" not in source and "\\" not in source and "\x00" not in source, source
    assert not source.startswith(".") and len(source) <= MAX_NAME and len(source.encode()) <= 200, source
    assert all(ch.isprintable() for ch in source), source
    after = env.census()
    assert after.samples == before.samples + 1 and len(after.media_files) == len(before.media_files) + 1
    assert after.upload_files == frozenset() and after.temp_files == frozenset()
    # nothing was written outside the studio's folders
    outside = {p for p in env.root.rglob("*") if p.is_file()} - {
        p
        for p in env.root.rglob("*")
        if p.is_file() and ("studio" in p.parts or p.name.startswith("fuzz.db"))
    }
    assert outside == set(), outside


# ---- malformed requests: 4xx, never 5xx, nothing left ------------------------------------------------

UPLOAD_PATHS = [
    "/api/personas/rex/samples/audio",
    "/api/personas/rex/samples/text",
    "/api/personas/rex/samples/video",
    "/api/personas/rex/consents",
    "/api/personas/rex/respond",
]

header_noise = st.sampled_from(
    [
        b"Content-Disposition: form-data",
        b'Content-Disposition: form-data; name="files"; filename="a.wav"',
        b"Content-Disposition: form-data; name=\"files\"; filename*=UTF-8''%E2%82%AC.wav",
        b'Content-Disposition: attachment; filename="../x"',
        b"Content-Type: audio/wav",
        b"Content-Type: text/plain; charset=nonsense",
        b"X-Junk: \xff\xfe\x00",
        b"No colon here",
        b"",
    ]
)


@st.composite
def malformed_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """(Content-Type, body): multipart bodies damaged in the ways clients and attackers damage them."""
    boundary = BOUNDARY
    kind = draw(st.sampled_from(["random", "headers", "cut", "boundary", "fields"]))
    if kind == "random":
        return f"multipart/form-data; boundary={boundary}", draw(st.binary(max_size=400))
    if kind == "headers":
        lines = draw(st.lists(header_noise, min_size=0, max_size=4))
        part = b"\r\n".join(lines) + b"\r\n\r\n" + draw(st.binary(max_size=64))
        body = f"--{boundary}\r\n".encode() + part + f"\r\n--{boundary}--\r\n".encode()
        return f"multipart/form-data; boundary={boundary}", body
    if kind == "cut":
        body = multipart([("files", "a.wav", "audio/wav", GOOD_WAV[:200]), ("speaker", None, None, b"Rex")])
        return f"multipart/form-data; boundary={boundary}", body[: draw(st.integers(0, len(body) - 1))]
    if kind == "boundary":
        header = draw(
            st.sampled_from(
                [
                    "multipart/form-data",
                    "multipart/form-data; boundary=",
                    'multipart/form-data; boundary="unclosed',
                    "multipart/form-data; boundary=" + "b" * 300,
                    "multipart/form-data; boundary=other",
                    f"multipart/form-data; boundary={boundary}; charset=x-nonsense",
                    "multipart/mixed; boundary=" + boundary,
                ]
            )
        )
        return header, multipart([("files", "a.wav", None, GOOD_WAV[:100])])
    # plain fields only (no file), some oversized or repeated
    fields = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["subject", "uses", "input", "system", "speaker", "conversation", "x"]),
                st.binary(max_size=50),
            ),
            max_size=6,
        )
    )
    body = multipart([(name, None, None, value) for name, value in fields])
    return f"multipart/form-data; boundary={boundary}", body


@FEW
@given(path=st.sampled_from(UPLOAD_PATHS), request=malformed_bodies())
def test_malformed_multipart_gets_4xx_and_leaves_nothing(
    env: Env, path: str, request: tuple[str, bytes]
) -> None:
    content_type, body = request
    before = env.census()
    response = env.client.post(path, content=body, headers={"content-type": content_type})
    if response.status_code < 300:  # a body that happens to be a valid upload (e.g. a text script)
        return
    error = error_body(response, 400, 403, 409, 413, 415, 422)
    assert error["code"] != "internal_error"
    env.assert_unchanged(before)


def test_missing_fields_and_parts(env: Env) -> None:
    audio = "/api/personas/rex/samples/audio"
    before = env.census()
    no_files = env.post_form(audio, [("speaker", None, None, b"Rex")])
    assert error_body(no_files, 400)["code"] == "no_files"
    nameless = env.post_form(audio, [(None, "a.wav", "audio/wav", GOOD_WAV)])
    assert "no name" in error_body(nameless, 400)["message"]
    no_boundary = env.client.post(audio, content=b"x", headers={"content-type": "multipart/form-data"})
    assert "boundary" in error_body(no_boundary, 400)["message"]
    long_boundary = "b" * 300  # over python-multipart's 256: was a 500
    too_long = env.client.post(
        audio,
        content=multipart([("files", "a.wav", None, GOOD_WAV)], long_boundary),
        headers=form_headers(long_boundary),
    )
    assert "boundary" in error_body(too_long, 400)["message"]
    raw = env.client.post(audio, content=GOOD_WAV, headers={"content-type": "audio/wav"})
    assert error_body(raw, 415)["code"] == "unsupported_media_type"
    no_subject = env.post_form("/api/personas/rex/consents", [("evidence", "f.pdf", None, b"%PDF-1.4")])
    assert "subject" in error_body(no_subject, 400)["message"]
    no_input = env.post_form("/api/personas/rex/respond", [("output_modalities", None, None, b"text")])
    assert "'input'" in error_body(no_input, 400)["message"]
    two_evidence = env.post_form(
        "/api/personas/rex/consents",
        [
            ("subject", None, None, b"Rex"),
            ("evidence", "a.pdf", None, b"1"),
            ("evidence", "b.pdf", None, b"2"),
        ],
    )
    assert "one evidence" in error_body(two_evidence, 400)["message"]
    nobody = env.upload("audio", [("a.wav", None, GOOD_WAV)])
    assert nobody.status_code == 200  # the persona exists; an unknown one is 404 before any byte is kept
    before = env.census()
    unknown = env.client.post(
        "/api/personas/nobody/samples/audio",
        content=multipart([("files", "b.wav", None, GOOD_WAV)]),
        headers=form_headers(),
    )
    assert error_body(unknown, 404)["code"] == "persona_not_found"
    env.assert_unchanged(before)


# ---- sizes and counts -------------------------------------------------------------------------------


def test_each_modality_has_its_own_size_limit(env: Env) -> None:
    """Text uploads stop at MAX_TEXT_UPLOAD (16 MiB), images at the library's 20 MiB, long before the
    server-wide 500 MiB; the request is refused as a whole (413) and nothing of it is kept."""
    before = env.census()
    rows = b'{"user": "hi", "assistant": "hello"}\n'
    big_text = rows * (MAX_TEXT_UPLOAD // len(rows) + 1)
    response = env.upload("text", [("ok.jsonl", None, rows), ("big.jsonl", None, big_text)])
    error = error_body(response, 413)
    assert error["code"] == "too_large" and error["limit_bytes"] == MAX_TEXT_UPLOAD
    assert "big.jsonl" in error["message"]
    big_image = GOOD_PNG + b"\0" * (20 * 1024 * 1024)
    error = error_body(env.upload("image", [("big.png", None, big_image)]), 413)
    assert error["limit_bytes"] == 20 * 1024 * 1024
    env.assert_unchanged(before)


def test_many_files_in_one_request(env: Env) -> None:
    before = env.census()
    bad = [(f"f{i}.wav", None, b"not audio %d" % i) for i in range(200)]
    reasons = _rejected(env.upload("audio", bad), 200)
    assert len(reasons) == 200 and all("not audio" in r for r in reasons.values())
    same_name = [("take.wav", None, b"junk %d" % i) for i in range(5)]
    names = set(_rejected(env.upload("audio", same_name), 5))
    assert len(names) == 5, names  # each part kept apart on disk (take.wav, take-2.wav, ...)
    too_many = [("f.wav", None, b"") for _ in range(MAX_FILES + 1)]
    assert "too many files" in error_body(env.upload("audio", too_many), 400)["message"]
    env.assert_unchanged(before)


def test_json_bodies_are_capped_before_anything_reads_them(env: Env) -> None:
    huge = b'{"name": "' + b"x" * MAX_JSON_BYTES + b'"}'
    declared = env.client.post("/api/personas", content=huge, headers={"content-type": "application/json"})
    assert error_body(declared, 413)["code"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies as the bytes arrive
        yield b'{"input": "'
        for _ in range(MAX_JSON_BYTES // 65536 + 2):
            yield b"y" * 65536
        yield b'"}'

    streamed = env.client.post(
        "/api/personas/rex/respond", content=chunks(), headers={"content-type": "application/json"}
    )
    assert error_body(streamed, 413)["code"] == "too_large"
    rows = env.client.post(
        "/api/personas/rex/samples/text", json=[{"user": "hi " * 20_000, "assistant": "ok"}] * 20
    )  # ~1.2 MB of dialogue rows: over the general limit, within the rows' own
    assert rows.status_code == 200, rows.text[:500]


def test_gateway_json_bodies_are_capped_before_the_key_check(env: Env) -> None:
    """``/v1`` refuses an oversized body in OpenAI's error shape before reading it (no key is needed to be
    refused, so an unauthenticated client cannot make the server read megabytes)."""
    huge = (
        b'{"model": "persona/rex", "messages": [{"role": "user", "content": "' + b"z" * MAX_GATEWAY_JSON_BYTES
    )
    declared = env.client.post(
        "/v1/chat/completions", content=huge + b'"}]}', headers={"content-type": "application/json"}
    )
    error = error_body(declared, 413)
    assert error["code"] == "request_too_large" and error["type"] == "invalid_request_error", error

    def chunks() -> Iterator[bytes]:
        yield huge[:1000]
        for _ in range(MAX_GATEWAY_JSON_BYTES // (1 << 20) + 2):
            yield b"z" * (1 << 20)
        yield b'"}]}'

    streamed = env.client.post(
        "/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"}
    )
    assert error_body(streamed, 413)["code"] == "request_too_large"  # refused as the bytes pass the limit
    small = env.client.post("/v1/chat/completions", json={"model": "persona/rex", "messages": []})
    assert small.status_code != 413
