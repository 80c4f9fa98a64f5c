"""USAGE.md's Together walk-through, run as written (against the local fake instead of the real API)."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyface.testing.fake_together import FakeTogether
from polyface.testing.fake_together.videos import state as video_state


def test_usage_walkthrough(
    fake_together: FakeTogether, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", fake_together.api_key)
    monkeypatch.setenv("TOGETHER_BASE_URL", fake_together.base_url)
    video_state(fake_together)["polls_to_finish"] = 1

    from polyface import TogetherAdapter

    together = TogetherAdapter()  # TOGETHER_API_KEY from the environment or .env

    reply = together.text.generate(
        model="meta-llama/Llama-3.3-70B-Instruct-Turbo",
        messages=[{"role": "user", "content": "Say hi like an action hero."}],
    )
    assert reply.text and reply.usage.total_tokens > 0 and reply.cost is not None and reply.cost > 0

    streamed = "".join(
        delta.text
        for delta in together.text.stream(
            model="meta-llama/Llama-3.3-70B-Instruct-Turbo", messages=[{"role": "user", "content": "Hi"}]
        )
    )
    assert streamed == "Echo: Hi"

    vectors = together.embeddings.embed(model="BAAI/bge-base-en-v1.5", inputs=["family", "cars"]).vectors
    assert len(vectors) == 2 and len(vectors[0]) == 768

    together.image.generate(model="black-forest-labs/FLUX.1-schnell", prompt="a portrait").images[0].save(
        tmp_path / "hero.png"
    )
    assert (tmp_path / "hero.png").stat().st_size > 0

    together.audio.speak(model="cartesia/sonic", text="Family first.", voice="friendly sidekick").save(
        tmp_path / "line.wav"
    )
    assert (tmp_path / "line.wav").read_bytes()[:4] == b"RIFF"
    print(together.audio.transcribe(tmp_path / "line.wav", model="openai/whisper-large-v3").text)

    job = together.video.generate(model="minimax/hailuo-02", prompt="a car at sunset", seconds=5)
    job.wait(progress=True, poll_interval=0.01).download(tmp_path / "sunset.mp4")
    assert (tmp_path / "sunset.mp4").read_bytes()[4:8] == b"ftyp"


def test_supports_answers_per_model_from_the_catalog(fake_together: FakeTogether) -> None:
    from polyface import TogetherAdapter

    with TogetherAdapter(api_key=fake_together.api_key, base_url=fake_together.base_url) as together:
        answers = {
            (model, cap): together.supports(model, cap)
            for model, cap in [
                ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "text"),
                ("mistralai/Mixtral-8x7B-v0.1", "text"),
                ("BAAI/bge-base-en-v1.5", "embeddings"),
                ("Salesforce/Llama-Rank-V1", "rerank"),
                ("black-forest-labs/FLUX.1-schnell", "image"),
                ("cartesia/sonic", "speech"),
                ("openai/whisper-large-v3", "transcription"),
                ("minimax/hailuo-02", "video"),
            ]
        }
        assert all(answers.values()), answers
        assert not together.supports("black-forest-labs/FLUX.1-schnell", "text")
        assert not together.supports("cartesia/sonic", "video")
        assert not together.supports("someone/unlisted-model", "text")
        from polyface.errors import InvalidArgument

        with pytest.raises(InvalidArgument, match="unknown capability 'telepathy'"):
            together.supports("cartesia/sonic", "telepathy")
    assert sum(r.path == "/v1/models" for r in fake_together.requests) == 1
