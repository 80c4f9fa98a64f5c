"""TogetherAdapter.files against the local Together fake: the redirect upload flow, 409 reuse, CRUD."""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest

from polyface import TogetherAdapter
from polyface.errors import Conflict, InvalidArgument, NotFound, ProviderError, ServerError
from polyface.providers._base.uploads import CHUNK_SIZE
from polyface.providers.together.files import upload_name
from polyface.testing.fake_together import FakeTogether
from polyface.testing.fake_together.files import files_of

DATA = b'{"text": "hello"}\n{"text": "world"}\n'


def adapter_for(fake: FakeTogether, **options: Any) -> TogetherAdapter:
    return TogetherAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)


def paths(fake: FakeTogether) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests]


def test_upload_follows_the_redirect_flow_and_keeps_the_key_off_the_presigned_url(
    fake_together: FakeTogether, tmp_path: Path
) -> None:
    source = tmp_path / "persona.jsonl"
    source.write_bytes(DATA)
    digest = hashlib.sha256(DATA).hexdigest()
    with adapter_for(fake_together) as together:
        uploaded = together.files.upload(source)
    steps = paths(fake_together)
    file_id = uploaded.id
    assert steps == [
        ("POST", "/v1/files"),
        ("PUT", f"/presigned/files/{file_id}"),
        ("POST", f"/v1/files/{file_id}/preprocess"),
    ]
    start, put, _ = fake_together.requests
    assert start.headers["authorization"] == f"Bearer {fake_together.api_key}"
    assert start.headers["content-type"] == "application/x-www-form-urlencoded"
    assert b"purpose=fine-tune" in start.body and b"file_type=jsonl" in start.body
    assert "authorization" not in put.headers, "the presigned PUT must not carry Together's key"
    assert fake_together.api_key not in str(put.headers)
    assert put.body == DATA and put.headers["content-length"] == str(len(DATA))
    assert (
        uploaded.filename == f"persona-{digest[:16]}.jsonl" == upload_name("persona.jsonl", digest, "jsonl")
    )
    assert (uploaded.bytes, uploaded.processed, uploaded.sha256, uploaded.reused) == (
        len(DATA),
        True,
        digest,
        False,
    )
    assert files_of(fake_together)[file_id]["sha256"] == digest


def test_the_same_bytes_are_not_uploaded_twice(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        first = together.files.upload(DATA, filename=None)
        again = together.files.upload(io.BytesIO(DATA))
    assert again.reused and again.id == first.id
    puts = [r for r in fake_together.requests if r.method == "PUT"]
    assert len(puts) == 1, "a 409 must reuse the existing file, not upload again"
    # the 409 was answered once; polyface found the file by listing, and did not retry the create
    assert paths(fake_together)[-2:] == [("POST", "/v1/files"), ("GET", "/v1/files")]
    assert len(files_of(fake_together)) == 1


def test_an_upload_that_died_before_preprocessing_is_finished_not_reused_raw(
    fake_together: FakeTogether,
) -> None:
    with adapter_for(fake_together, max_retries=0) as together:
        fake_together.fail("/v1/files/*/preprocess", status=500, times=1)
        with pytest.raises(ServerError):
            together.files.upload(DATA)
        (first_id,) = files_of(fake_together)
        assert not files_of(fake_together)[first_id]["Processed"]
        again = together.files.upload(DATA)
    assert again.reused and again.id == first_id and again.processed
    assert len([r for r in fake_together.requests if r.method == "PUT"]) == 1


def test_an_upload_whose_bytes_never_arrived_is_uploaded_again(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together, max_retries=0) as together:
        fake_together.fail("/presigned/files/*", status=503, times=1)
        with pytest.raises(ProviderError):
            together.files.upload(DATA)
        (stale,) = files_of(fake_together)
        again = together.files.upload(DATA)
        listed = [f.id for f in together.files.list()]
    assert not again.reused and again.processed and again.id != stale
    assert listed == [again.id]


def test_a_different_file_under_a_taken_name_is_a_conflict(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        together.files.upload(DATA, filename="mine.jsonl")
        with pytest.raises(Conflict, match=r"a different file named 'mine\.jsonl'") as caught:
            together.files.upload(DATA + b'{"text": "more"}\n', filename="mine.jsonl")
    assert "filename=" in str(caught.value)
    assert sum(r.method == "PUT" for r in fake_together.requests) == 1


def test_progress_callback_sees_every_chunk_of_a_large_file(
    fake_together: FakeTogether, tmp_path: Path
) -> None:
    big = tmp_path / "big.jsonl"
    line = b'{"text": "' + b"x" * 1000 + b'"}\n'
    big.write_bytes(line * (2 * CHUNK_SIZE // len(line) + 5))
    size = big.stat().st_size
    seen: list[tuple[int, int]] = []
    with adapter_for(fake_together) as together:
        uploaded = together.files.upload(big, progress=lambda sent, total: seen.append((sent, total)))
    assert uploaded.bytes == size
    assert len(seen) == 3 and seen[-1] == (size, size)
    assert [sent for sent, _ in seen] == sorted(sent for sent, _ in seen)
    put = next(r for r in fake_together.requests if r.method == "PUT")
    assert put.body == big.read_bytes()


def test_list_retrieve_content_delete(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        uploaded = together.files.upload(DATA, filename="a.jsonl")
        other = together.files.upload(b"prompt,completion\na,b\n", filename="b.csv")
        assert other.file_type == "csv"
        assert {f.id for f in together.files.list()} == {uploaded.id, other.id}
        got = together.files.retrieve(uploaded.id)
        assert (got.id, got.filename, got.bytes, got.purpose) == (
            uploaded.id,
            "a.jsonl",
            len(DATA),
            "fine-tune",
        )
        assert together.files.content(uploaded.id) == DATA
        assert together.files.delete(uploaded.id) is True
        assert [f.id for f in together.files.list()] == [other.id]
        with pytest.raises(NotFound):
            together.files.retrieve(uploaded.id)


def test_bad_input_fails_before_anything_is_sent(fake_together: FakeTogether, tmp_path: Path) -> None:
    with adapter_for(fake_together) as together:
        with pytest.raises(InvalidArgument, match="is not a file"):
            together.files.upload(tmp_path / "nope.jsonl")
        with pytest.raises(InvalidArgument, match="empty"):
            together.files.upload(b"")
        with pytest.raises(InvalidArgument, match="purpose must be one of"):
            together.files.upload(DATA, purpose="training")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument, match="file id"):
            together.files.retrieve("../etc")
    assert fake_together.requests == []


def test_async_twins(fake_together: FakeTogether) -> None:
    async def main() -> tuple[Any, ...]:
        async with adapter_for(fake_together) as together:
            seen: list[int] = []
            first = await together.files.aupload(DATA, progress=lambda sent, total: seen.append(sent))
            again = await together.files.aupload(DATA)
            listed = await together.files.alist()
            content = await together.files.acontent(first.id)
            got = await together.files.aretrieve(first.id)
            deleted = await together.files.adelete(first.id)
            return first, again, listed, content, got, deleted, seen

    first, again, listed, content, got, deleted, seen = asyncio.run(main())
    assert again.reused and again.id == first.id and seen == [len(DATA)]
    assert [f.id for f in listed] == [first.id] and content == DATA and got.id == first.id and deleted
    put = next(r for r in fake_together.requests if r.method == "PUT")
    assert "authorization" not in put.headers


def test_the_fake_file_answers_match_the_spec(fake_together: FakeTogether) -> None:
    import httpx

    from together_spec import validate_together_response

    with adapter_for(fake_together) as together:
        uploaded = together.files.upload(DATA)
    headers = {"Authorization": f"Bearer {fake_together.api_key}"}
    with httpx.Client(base_url=fake_together.base_url, headers=headers) as client:
        for method, path in [
            ("GET", "/files"),
            ("GET", f"/files/{uploaded.id}"),
            ("GET", f"/files/{uploaded.id}/content"),
            ("DELETE", f"/files/{uploaded.id}"),
        ]:
            response = client.request(method, path)
            assert response.status_code == 200, response.text
            last = fake_together.requests[-1]
            validate_together_response(last, response.status_code, response.headers, response.content)
