"""TogetherAdapter.video end to end against the local Together fake (requests checked against the spec)."""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import together_spec
from polyface import Pricing, TogetherAdapter
from polyface.errors import (
    CapabilityNotSupported,
    InvalidArgument,
    JobFailed,
    JobTimeout,
    NotFound,
    ServerError,
)
from polyface.providers.together.config import TogetherConfig
from polyface.providers.together.video import (
    TogetherVideo,
    TogetherVideoJob,
    VideoNotReady,
    build_video_request,
    parse_video_job,
    videos_url,
)
from polyface.testing.fake_together import FakeTogether, RecordedRequest
from polyface.testing.fake_together.videos import state
from polyface.types.video import VideoJobInfo

MODEL = "google/veo-3.0"
FAST = 0.001  # poll interval for the fake, which moves a job on at every poll
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
WAV = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + b"\x00" * 24


def adapter_for(fake: FakeTogether, **options: Any) -> TogetherAdapter:
    return TogetherAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)


def video_requests(fake: FakeTogether, method: str | None = None) -> list[RecordedRequest]:
    return [
        r for r in fake.requests if r.path.startswith("/v2/videos") and (method is None or r.method == method)
    ]


def is_mp4(path: Path) -> bool:
    data = path.read_bytes()
    size = struct.unpack(">I", data[:4])[0]
    return data[4:8] == b"ftyp" and 16 <= size <= len(data) and data[8:12] == b"isom"


# ---- the happy path -------------------------------------------------------------------------------------


def test_generate_wait_download(fake_together: FakeTogether, tmp_path: Path) -> None:
    with adapter_for(fake_together) as together:
        job = together.video.generate(
            model=MODEL, prompt="A corgi surfing at sunset", seconds=5, width=640, height=360, seed=7
        )
        assert isinstance(job, TogetherVideoJob) and job.id.startswith("video-")
        assert job.info is not None and job.info.status == "in_progress"
        assert job.wait(poll_interval=FAST) is job
        assert job.status == "completed"
        written = job.download(tmp_path / "out" / "clip.mp4")
        result = job.result()
    assert written == tmp_path / "out" / "clip.mp4" and is_mp4(written)
    assert not list(written.parent.glob("*.part"))
    assert job.info is not None and result.url == job.info.output_url
    assert (result.width, result.height, result.duration_seconds, result.format) == (640, 360, 5.0, "mp4")
    assert result.usage.video_seconds == 5.0 and result.cost == 1.0  # the fake reports outputs.cost = 1

    create = video_requests(fake_together, "POST")
    assert len(create) == 1
    assert create[0].json == {
        "model": MODEL,
        "prompt": "A corgi surfing at sunset",
        "seconds": "5",
        "width": 640,
        "height": 360,
        "seed": 7,
    }
    assert create[0].headers["authorization"] == f"Bearer {fake_together.api_key}"
    polls = video_requests(fake_together, "GET")
    assert len(polls) == state(fake_together)["polls_to_finish"]
    assert all(r.headers["authorization"] == f"Bearer {fake_together.api_key}" for r in polls)
    download = [r for r in fake_together.requests if r.path.startswith("/presigned/")]
    assert len(download) == 1 and "authorization" not in download[0].headers, (
        "the key must not leave Together"
    )


def test_local_files_become_data_uris_and_frames_keep_positions(
    fake_together: FakeTogether, tmp_path: Path
) -> None:
    face, first, voice = tmp_path / "face.png", tmp_path / "first.png", tmp_path / "voice.wav"
    face.write_bytes(PNG)
    first.write_bytes(PNG + b"first")
    voice.write_bytes(WAV)
    with adapter_for(fake_together) as together:
        together.video.generate(
            model=MODEL,
            prompt="The persona waves",
            seconds=2.5,
            reference_images=[face, "https://example.com/ref.jpg"],
            frame_images=[(first, "first"), {"input_image": "https://example.com/end.png", "frame": 48}],
            audio_inputs=[str(voice)],
            steps=20,
            output_format="webm",
            negative_prompt="blur",
            guidance_scale=8,
            generate_audio=True,
        )
    body = video_requests(fake_together, "POST")[0].json
    media = body["media"]
    assert media["reference_images"][0] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert media["reference_images"][1] == "https://example.com/ref.jpg"
    assert media["frame_images"][0]["frame"] == "first"
    assert base64.b64decode(media["frame_images"][0]["input_image"].split(",", 1)[1]) == PNG + b"first"
    assert media["frame_images"][1] == {"input_image": "https://example.com/end.png", "frame": 48}
    assert media["audio_inputs"] == ["data:audio/wav;base64," + base64.b64encode(WAV).decode()]
    assert body["seconds"] == "2.5" and body["output_format"] == "WEBM" and body["steps"] == 20
    assert (
        body["negative_prompt"] == "blur" and body["guidance_scale"] == 8 and body["generate_audio"] is True
    )


def test_download_to_a_folder_and_result_before_completion(
    fake_together: FakeTogether, tmp_path: Path
) -> None:
    with adapter_for(fake_together) as together:
        job = together.video.generate(model=MODEL, prompt="rain on a window")
        with pytest.raises(VideoNotReady, match=r"still 'in_progress'.*job\.wait\(\)"):
            job.download(tmp_path / "early.mp4")
        assert not (tmp_path / "early.mp4").exists()
        job.poll_interval = FAST
        written = job.download(tmp_path, wait=True)
    assert written == tmp_path / f"{job.id}.mp4" and is_mp4(written)


def test_expired_video_url_is_a_clear_error(fake_together: FakeTogether, tmp_path: Path) -> None:
    with adapter_for(fake_together) as together:
        job = together.video.generate(model=MODEL, prompt="waves").wait(poll_interval=FAST)
        state(fake_together)["jobs"][job.id]["status"] = "gone"  # the presigned URL now answers 404
        with pytest.raises(NotFound, match="refresh the job") as caught:
            job.download(tmp_path / "clip.mp4")
    assert caught.value.status == 404 and fake_together.api_key not in str(caught.value)
    assert not list(tmp_path.iterdir()), "no partial file is left behind"


# ---- progress, failure, timeout, re-attach -------------------------------------------------------------


def test_progress_callback_gets_every_state(fake_together: FakeTogether) -> None:
    state(fake_together)["polls_to_finish"] = 5
    seen: list[VideoJobInfo] = []
    with adapter_for(fake_together) as together:
        together.video.generate(model=MODEL, prompt="a city at night").wait(
            progress=seen.append, poll_interval=FAST
        )
    assert [info.status for info in seen] == ["in_progress"] * 4 + ["completed"]
    # Together's VideoJob has no progress field: polyface does not invent one.
    assert all(info.progress is None for info in seen)
    assert seen[-1].output_url is not None and seen[-1].completed_at is not None


def test_progress_is_reported_when_a_response_carries_it(fake_together: FakeTogether) -> None:
    area = state(fake_together)
    area["polls_to_finish"], area["report_progress"] = 5, True
    fractions: list[float | None] = []
    with adapter_for(fake_together) as together:
        job = together.video.generate(model=MODEL, prompt="a city at night")
        job.wait(progress=lambda info: fractions.append(info.progress), poll_interval=FAST)
    running = [f for f in fractions[:-1] if f is not None]
    assert len(running) == 4 and len(fractions) == 5
    assert running == sorted(running) and len(set(running)) == 4 and running[0] > 0 and running[-1] < 1


def test_failure_surfaces_the_vendor_message(fake_together: FakeTogether, tmp_path: Path) -> None:
    state(fake_together)["failure"] = ("content_policy_violation", "Prompt rejected: depicts a real person")
    with adapter_for(fake_together) as together:
        job = together.video.generate(model=MODEL, prompt="FAIL this one")
        with pytest.raises(JobFailed, match="Prompt rejected: depicts a real person") as caught:
            job.wait(poll_interval=FAST)
        assert caught.value.status == "failed" and caught.value.job_id == job.id
        assert "content_policy_violation" in str(caught.value.reason)
        assert (
            job.status == "failed"
            and job.info is not None
            and job.info.error_code == "content_policy_violation"
        )
        with pytest.raises(JobFailed, match="Prompt rejected"):
            job.download(tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()


def test_cancelled_and_unknown_statuses_are_tolerated(fake_together: FakeTogether) -> None:
    # Together's spec lists in_progress/completed/failed only; a status it may add must not break polyface.
    with adapter_for(fake_together) as together:
        job = together.video.generate(model=MODEL, prompt="a slow one")
        jobs = state(fake_together)["jobs"]
        jobs[job.id]["status"] = "rendering_v2"
        assert job.refresh().status == "unknown" and job.info is not None
        assert job.info.raw_status == "rendering_v2"
        jobs[job.id]["status"] = "cancelled"
        with pytest.raises(JobFailed, match="'cancelled'"):
            job.wait(poll_interval=FAST)


def test_wait_timeout_leaves_the_job_running(fake_together: FakeTogether) -> None:
    area = state(fake_together)
    area["polls_to_finish"] = 10**6
    with adapter_for(fake_together) as together:
        job = together.video.generate(model=MODEL, prompt="a long take")
        with pytest.raises(JobTimeout, match=r"still 'in_progress'.*goes on"):
            job.wait(timeout=0.05, poll_interval=0.01)
        assert job.status == "in_progress"
        polled = area["jobs"][job.id]["_polls"]
        assert polled >= 1
        area["polls_to_finish"] = polled + 2
        assert job.wait(poll_interval=FAST).status == "completed"


def test_get_reattaches_after_a_restart(fake_together: FakeTogether, tmp_path: Path) -> None:
    with adapter_for(fake_together) as first:
        job_id = first.video.generate(model=MODEL, prompt="lighthouse").id
    with adapter_for(fake_together) as second:  # a new process, knowing only the id
        job = second.video.get(job_id)
        assert job.id == job_id and job.status == "in_progress" and job.info is not None
        assert job.info.model == MODEL
        job.wait(poll_interval=FAST)
        assert is_mp4(job.download(tmp_path / "clip.mp4"))
        with pytest.raises(NotFound):
            second.video.get("video-does-not-exist")
        with pytest.raises(InvalidArgument):
            second.video.get("../v1/models")
    assert len(video_requests(fake_together, "POST")) == 1


def test_async_twin(fake_together: FakeTogether, tmp_path: Path) -> None:
    async def main() -> tuple[TogetherVideoJob, Path, TogetherVideoJob]:
        async with adapter_for(fake_together) as together:
            job = await together.video.agenerate(model=MODEL, prompt="async ocean", seconds="4")
            with pytest.raises(VideoNotReady):
                await job.adownload(tmp_path / "early.mp4")
            seen: list[str] = []
            await job.async_wait(progress=lambda info: seen.append(info.status), poll_interval=FAST)
            assert seen[-1] == "completed"
            path = await job.adownload(tmp_path / "a.mp4")
            again = await together.video.aget(job.id)
            assert (await again.aresult()).url == job.output_url
            return job, path, again

    job, path, again = asyncio.run(main())
    assert job.status == "completed" and again.status == "completed" and is_mp4(path)
    assert video_requests(fake_together, "POST")[0].json["seconds"] == "4"


# ---- retries --------------------------------------------------------------------------------------------


def test_create_is_not_retried_after_a_500(fake_together: FakeTogether) -> None:
    fake_together.fail_after_processing("/v2/videos", 500)  # the job is created, then the answer is lost
    with adapter_for(fake_together) as together, pytest.raises(ServerError, match="did not retry"):
        together.video.generate(model=MODEL, prompt="only once")
    assert len(video_requests(fake_together, "POST")) == 1
    assert len(state(fake_together)["jobs"]) == 1, "a retry would have started (and billed) a second job"


def test_create_is_retried_after_a_429(fake_together: FakeTogether) -> None:
    fake_together.fail("/v2/videos", 429, headers={"retry-after": "0"})
    with adapter_for(fake_together) as together:
        job = together.video.generate(model=MODEL, prompt="after the rate limit")
    assert len(video_requests(fake_together, "POST")) == 2
    assert list(state(fake_together)["jobs"]) == [job.id]


def test_polls_are_retried_after_a_500(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        job = together.video.generate(model=MODEL, prompt="flaky status")
        fake_together.fail(f"/v2/videos/{job.id}", 503, headers={"retry-after": "0"})
        assert job.wait(poll_interval=FAST).status == "completed"


# ---- bad inputs (nothing is sent) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"reference_images": ["missing/face.png"]},
            r"reference_images\[0\] 'missing/face.png' is neither a URL",
        ),
        ({"seconds": -3}, "seconds must be a positive number"),
        ({"seconds": "five"}, "seconds must be a positive number"),
        ({"steps": 5}, "steps must be an integer >= 10"),
        ({"width": 0}, "width must be an integer >= 1"),
        ({"frame_images": [("https://x/y.png", -1)]}, "frame must be a frame number >= 0"),
        ({"frame_images": [{"image": "https://x/y.png"}]}, "must look like"),
        ({"reference_images": "https://x/y.png"}, "must be a list"),
        ({"reference_images": [b"not an image"]}, "not a PNG, JPEG, WebP or GIF image"),
        ({"audio_inputs": [b"\x00\x01\x02"]}, "not a WAV, MP3"),
        ({"output_format": "avi"}, "output_format must be 'mp4' or 'webm'"),
        ({"guidance_scale": 7.5}, "whole number"),
        ({"resolutoin": "720p"}, "does not take 'resolutoin'"),
        ({"prompt": "   "}, "prompt must be a non-empty string"),
    ],
)
def test_bad_inputs_fail_before_sending(
    fake_together: FakeTogether, options: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {"model": MODEL, "prompt": "a cat"} | options
    with adapter_for(fake_together) as together, pytest.raises(InvalidArgument, match=message):
        together.video.generate(**args)
    assert fake_together.requests == []


def test_cancel_is_not_offered_by_together(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        job = together.video.generate(model=MODEL, prompt="cannot stop")
        with pytest.raises(CapabilityNotSupported, match="no way to cancel a video job"):
            job.cancel()


# ---- pure translation ------------------------------------------------------------------------------------


def test_videos_url_moves_from_v1_to_v2() -> None:
    assert videos_url("https://api.together.xyz/v1") == "https://api.together.xyz/v2/videos"
    assert videos_url("http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/v2/videos"
    assert videos_url("https://proxy.example/together") == "https://proxy.example/together/v2/videos"


def test_parse_video_job_reads_the_spec_shape() -> None:
    info = parse_video_job(
        {
            "id": "v1",
            "object": "video",
            "model": MODEL,
            "status": "completed",
            "created_at": 1_700_000_000,
            "completed_at": 1_700_000_060.5,
            "size": "1280x720",
            "seconds": "8",
            "outputs": {"cost": 2, "video_url": "https://cdn.example/v1.webm?sig=1"},
        }
    )
    assert (info.status, info.seconds, info.cost, info.size) == ("completed", 8.0, 2.0, "1280x720")
    assert info.created_at is not None and info.created_at.year == 2023
    assert info.completed_at is not None and info.completed_at.microsecond == 500_000
    failed = parse_video_job(
        {"id": "v2", "model": MODEL, "status": "failed", "error": {"message": "NSFW", "code": "policy"}}
    )
    assert (failed.status, failed.error, failed.error_code, failed.output_url) == (
        "failed",
        "NSFW",
        "policy",
        None,
    )
    assert parse_video_job({"id": "v3", "status": "queued", "progress": 40}).progress == 0.4
    with pytest.raises(Exception, match="without a job id"):
        parse_video_job({"status": "completed"})


def test_catalog_per_second_price_when_together_does_not_say() -> None:
    config = TogetherConfig(api_key="k", pricing={MODEL: Pricing(per_video_second=0.05)})
    video = TogetherVideo(config)
    unpriced = parse_video_job(
        {
            "id": "v",
            "model": MODEL,
            "status": "completed",
            "seconds": "6",
            "outputs": {"video_url": "https://x/v.mp4"},
        }
    )
    assert video._price(unpriced) == pytest.approx(0.30)
    priced = parse_video_job(
        {
            "id": "v",
            "model": MODEL,
            "status": "completed",
            "seconds": "6",
            "outputs": {"cost": 1, "video_url": "u"},
        }
    )
    assert video._price(priced) is None and priced.cost == 1.0  # Together's own figure wins
    running = parse_video_job({"id": "v", "model": MODEL, "status": "in_progress", "seconds": "6"})
    assert video._price(running) is None


def test_build_video_request_defaults_are_minimal() -> None:
    assert build_video_request(MODEL, "hi") == {"model": MODEL, "prompt": "hi"}
    assert build_video_request(MODEL, "hi", seconds=3.0, extra_body={"ratio": "16:9"}) == {
        "model": MODEL,
        "prompt": "hi",
        "seconds": "3",
        "ratio": "16:9",
    }


# ---- the fake answers in the spec's shapes ---------------------------------------------------------------


@pytest.fixture
def raw_client(fake_together: FakeTogether) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {fake_together.api_key}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{fake_together.port}", headers=headers) as client:
        yield client


def test_fake_answers_match_the_spec(fake_together: FakeTogether, raw_client: httpx.Client) -> None:
    state(fake_together)["polls_to_finish"] = 2
    answers: list[httpx.Response] = []
    for prompt in ("fine", "FAIL please"):
        created = raw_client.post("/v2/videos", json={"model": MODEL, "prompt": prompt, "seconds": "3"})
        answers.append(created)
        job_id = created.json()["id"]
        answers.extend(raw_client.get(f"/v2/videos/{job_id}") for _ in range(3))
    bodies = [a.json() for a in answers]
    statuses = [b["status"] for b in bodies]
    assert statuses == [
        "in_progress",
        "in_progress",
        "completed",
        "completed",
        *["in_progress"] * 2,
        "failed",
        "failed",
    ]
    recorded = [r for r in fake_together.requests if r.path.startswith("/v2/")]
    assert len(recorded) == len(answers)
    for req, answer in zip(recorded, answers, strict=True):
        together_spec.validate_together_response(req, answer.status_code, answer.headers, answer.content)
    video = httpx.get(bodies[2]["outputs"]["video_url"])  # presigned: no key needed
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"


@pytest.mark.together_spec_exempt(reason="sends a request the spec forbids, to see the fake refuse it")
def test_fake_refuses_what_together_would(fake_together: FakeTogether, raw_client: httpx.Client) -> None:
    bad = raw_client.post("/v2/videos", json={"model": MODEL, "prompt": "x", "seconds": 3})
    assert bad.status_code == 400 and "seconds" in bad.json()["error"]["message"]
    missing = raw_client.get("/v2/videos/video-nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert state(fake_together)["jobs"] == {}
