"""OpenAIAdapter.files against the OpenAI fake (every request checked against OpenAI's spec)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest

from polyface.errors import InvalidArgument, NotFound
from polyface.providers.openai import OpenAIAdapter
from polyface.providers.openai.files import parse_file_page
from polyface.testing.fake_openai.files import files_of, store_file, uploads_of
from polyface.testing.fake_together.core import FakeServer

DATA = b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'


def adapter_for(fake: FakeServer) -> OpenAIAdapter:
    return OpenAIAdapter(api_key=fake.api_key, base_url=fake.base_url)


def sent(fake: FakeServer, method: str, path: str) -> list[Any]:
    return [r for r in fake.requests if r.method == method and r.path == path]


def test_upload_is_one_multipart_request_named_after_the_content(fake_openai: FakeServer) -> None:
    with adapter_for(fake_openai) as openai:
        uploaded = openai.files.upload(DATA)
    digest = hashlib.sha256(DATA).hexdigest()
    assert uploaded.filename == f"polyface-{digest[:16]}.jsonl" and uploaded.sha256 == digest
    assert (uploaded.bytes, uploaded.purpose, uploaded.reused) == (len(DATA), "fine-tune", False)
    (post,) = sent(fake_openai, "POST", "/v1/files")
    assert post.headers["content-type"].startswith("multipart/form-data")
    assert files_of(fake_openai)[uploaded.id]["content"] == DATA


def test_the_same_bytes_are_not_uploaded_twice_but_other_purposes_and_names_are(
    fake_openai: FakeServer, tmp_path: Path
) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(DATA)
    with adapter_for(fake_openai) as openai:
        first = openai.files.upload(path)
        again = openai.files.upload(path)
        assert again.reused and again.id == first.id
        assert first.filename.startswith("train-") and first.filename.endswith(".jsonl")
        other_purpose = openai.files.upload(path, purpose="user_data")
        assert not other_purpose.reused and other_purpose.id != first.id
        named = openai.files.upload(path, filename="train.jsonl")
        named_again = openai.files.upload(path, filename="train.jsonl")
        assert not named_again.reused, "a name without the digest does not prove the same bytes"
        assert named.id != named_again.id
        forced = openai.files.upload(path, reuse=False)
        assert not forced.reused and forced.id != first.id
    assert len(sent(fake_openai, "POST", "/v1/files")) == 5


def test_a_file_of_the_same_name_but_another_size_is_not_reused(fake_openai: FakeServer) -> None:
    digest = hashlib.sha256(DATA).hexdigest()
    stale = store_file(fake_openai, f"polyface-{digest[:16]}.jsonl", "fine-tune", DATA[:10])
    with adapter_for(fake_openai) as openai:
        uploaded = openai.files.upload(DATA)
    assert not uploaded.reused and uploaded.id != stale["id"]


def test_large_files_go_through_the_uploads_api_in_parts_with_progress(fake_openai: FakeServer) -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes
    seen: list[tuple[int, int]] = []
    with adapter_for(fake_openai) as openai:
        uploaded = openai.files.upload(
            data,
            purpose="vision",
            filename="pics.bin",
            multipart=True,
            part_size=4096,
            progress=lambda sent, total: seen.append((sent, total)),
        )
        assert openai.files.content(uploaded.id) == data
    (create,) = sent(fake_openai, "POST", "/v1/uploads")
    assert create.json == {
        "filename": "pics.bin",
        "purpose": "vision",
        "bytes": len(data),
        "mime_type": "application/octet-stream",
    }
    (upload,) = uploads_of(fake_openai).values()
    assert len(sent(fake_openai, "POST", f"/v1/uploads/{upload['id']}/parts")) == 3
    (complete,) = sent(fake_openai, "POST", f"/v1/uploads/{upload['id']}/complete")
    assert complete.json["md5"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert complete.json["part_ids"] == list(upload["parts"])
    assert seen == [(4096, len(data)), (8192, len(data)), (len(data), len(data))]
    assert (upload["status"], uploaded.bytes) == ("completed", len(data))


def test_a_failed_part_cancels_the_upload(fake_openai: FakeServer) -> None:
    fake_openai.fail("/v1/uploads/*/parts", 400)
    with adapter_for(fake_openai) as openai, pytest.raises(Exception, match="Invalid request"):
        openai.files.upload(b"x" * 100, multipart=True, part_size=40, reuse=False)
    (upload,) = uploads_of(fake_openai).values()
    assert upload["status"] == "cancelled" and files_of(fake_openai) == {}


def test_single_request_progress_counts_every_byte(fake_openai: FakeServer) -> None:
    data = b"y" * 300_000
    seen: list[tuple[int, int]] = []
    with adapter_for(fake_openai) as openai:
        openai.files.upload(data, purpose="user_data", progress=lambda s, t: seen.append((s, t)), reuse=False)
    assert seen and seen[-1] == (len(data), len(data))
    assert [sent for sent, _ in seen] == sorted(sent for sent, _ in seen)


def test_list_pages_retrieve_content_delete(fake_openai: FakeServer) -> None:
    for n in range(3):
        store_file(fake_openai, f"f{n}.jsonl", "fine-tune", DATA)
    store_file(fake_openai, "img.png", "vision", b"\x89PNG")
    with adapter_for(fake_openai) as openai:
        everything = openai.files.list()
        assert len(everything) == 4
        tuned = openai.files.list(purpose="fine-tune")
        assert {f.filename for f in tuned} == {"f0.jsonl", "f1.jsonl", "f2.jsonl"}
        one = openai.files.retrieve(tuned[0].id)
        assert one.id == tuned[0].id and openai.files.content(one.id) == DATA
        assert openai.files.delete(one.id) is True
        with pytest.raises(NotFound):
            openai.files.retrieve(one.id)
    assert all("purpose=fine-tune" in r.query for r in sent(fake_openai, "GET", "/v1/files")[1:2])


def test_parse_file_page_follows_has_more() -> None:
    page = {
        "object": "list",
        "data": [{"id": "file-a", "filename": "a"}],
        "last_id": "file-a",
        "has_more": True,
    }
    files, after = parse_file_page(page)
    assert [f.id for f in files] == ["file-a"] and after == "file-a"
    assert parse_file_page({**page, "has_more": False})[1] is None


def test_list_follows_pages(fake_openai: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import polyface.providers.openai.files as module

    monkeypatch.setattr(module, "LIST_PAGE", 2)
    for n in range(5):
        store_file(fake_openai, f"f{n}.jsonl", "fine-tune", DATA)
    with adapter_for(fake_openai) as openai:
        names = [f.filename for f in openai.files.list()]
    assert sorted(names) == [f"f{n}.jsonl" for n in range(5)]
    assert len(sent(fake_openai, "GET", "/v1/files")) == 3


def test_bad_input_fails_before_anything_is_sent(fake_openai: FakeServer, tmp_path: Path) -> None:
    with adapter_for(fake_openai) as openai:
        with pytest.raises(InvalidArgument, match="purpose must be one of"):
            openai.files.upload(DATA, purpose="weights")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument, match="empty"):
            openai.files.upload(b"")
        with pytest.raises(InvalidArgument, match="not a file"):
            openai.files.upload(tmp_path / "missing.jsonl")
        with pytest.raises(InvalidArgument, match="part_size"):
            openai.files.upload(DATA, part_size=0)
        with pytest.raises(InvalidArgument, match="Uploads API"):
            openai.files.upload(DATA, purpose="user_data", multipart=True, reuse=False)
        with pytest.raises(InvalidArgument, match="file id"):
            openai.files.retrieve("../etc")
    assert [r.path for r in fake_openai.requests] == []


def test_async_twins(fake_openai: FakeServer) -> None:
    async def main() -> None:
        async with adapter_for(fake_openai) as openai:
            first = await openai.files.aupload(DATA)
            again = await openai.files.aupload(DATA)
            assert again.reused and again.id == first.id
            parts = await openai.files.aupload(b"z" * 50, multipart=True, part_size=20, reuse=False)
            assert await openai.files.acontent(parts.id) == b"z" * 50
            assert {f.id for f in await openai.files.alist()} == {first.id, parts.id}
            assert (await openai.files.aretrieve(first.id)).filename == first.filename
            assert await openai.files.adelete(first.id)

    asyncio.run(main())
    assert len(files_of(fake_openai)) == 1


def test_the_fake_file_answers_match_the_spec(fake_openai: FakeServer) -> None:
    import httpx

    from openai_spec import OPENAI

    headers = {"Authorization": f"Bearer {fake_openai.api_key}"}
    with httpx.Client(base_url=fake_openai.base_url, headers=headers) as client:

        def check(response: httpx.Response) -> httpx.Response:
            assert response.status_code < 400, response.text
            last = fake_openai.requests[-1]
            assert (
                OPENAI.response_problems(last, response.status_code, response.headers, response.content) == []
            )
            return response

        made = check(client.post("/files", data={"purpose": "fine-tune"}, files={"file": ("a.jsonl", DATA)}))
        file_id = made.json()["id"]
        check(client.get("/files"))
        check(client.get(f"/files/{file_id}"))
        upload = check(
            client.post(
                "/uploads",
                json={"filename": "b.jsonl", "purpose": "fine-tune", "bytes": 4, "mime_type": "text/jsonl"},
            )
        ).json()
        part = check(client.post(f"/uploads/{upload['id']}/parts", files={"data": ("p", b"abcd")})).json()
        check(client.post(f"/uploads/{upload['id']}/complete", json={"part_ids": [part["id"]]}))
        check(client.delete(f"/files/{file_id}"))
