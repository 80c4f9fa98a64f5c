"""Local speech (eSpeak NG through ctypes): WAV/PCM at every rate, voices, streaming, errors, async twins."""

from __future__ import annotations

from typing import Any

import pytest

from polyface.errors import InvalidArgument
from polyface.media import acoustics
from polyface.types.speech import SpeechResponse

TEXT = "The quick brown fox jumps over the lazy dog near the river bank."
WORDS = len(TEXT.split())


def _plausible(seconds: float, words: int, wpm: float = 175.0) -> bool:
    """Within half to twice the time ``words`` take at ``wpm``."""
    expected = words / wpm * 60
    return 0.5 * expected < seconds < 2.0 * expected


@pytest.mark.parametrize("rate", [16000, 22050, 24000])
def test_speak_gives_a_valid_wav_at_each_rate(local: Any, rate: int) -> None:
    speech = local.audio.speak(model="espeak-ng", text=TEXT, voice="alex", sample_rate=rate)
    assert isinstance(speech, SpeechResponse)
    assert speech.format == "wav" and speech.provider == "local" and speech.cost == 0.0
    decoded = acoustics.read_wav(speech.audio)  # a real RIFF/WAVE file, 16-bit mono
    assert decoded.sample_rate == rate == speech.sample_rate
    assert speech.duration_seconds == pytest.approx(decoded.duration, abs=1e-3)
    assert _plausible(decoded.duration, WORDS), decoded.duration
    assert float(abs(decoded.samples).max()) > 0.1  # there is sound in it


def test_rates_carry_the_same_speech(local: Any) -> None:
    low = local.audio.speak(text=TEXT, voice="alex", sample_rate=16000)
    high = local.audio.speak(text=TEXT, voice="alex", sample_rate=24000)
    assert low.duration_seconds == pytest.approx(high.duration_seconds, abs=0.01)
    pitch_low = acoustics.measure(low.audio).pitch_hz
    pitch_high = acoustics.measure(high.audio).pitch_hz
    assert pitch_low is not None and pitch_high is not None
    assert pitch_low == pytest.approx(pitch_high, rel=0.05)  # resampling keeps the pitch


def test_pcm_is_headerless_16_bit(local: Any) -> None:
    wav = local.audio.speak(text=TEXT, voice="sam", sample_rate=16000)
    pcm = local.audio.speak(text=TEXT, voice="sam", sample_rate=16000, response_format="pcm")
    assert pcm.format == "pcm" and pcm.encoding == "pcm_s16le" and pcm.sample_rate == 16000
    assert pcm.audio[:4] != b"RIFF"
    assert pcm.duration_seconds == pytest.approx(len(pcm.audio) / 2 / 16000)
    assert pcm.duration_seconds == pytest.approx(wav.duration_seconds, abs=0.01)


def test_speed_shortens_the_speech(local: Any) -> None:
    normal = local.audio.speak(text=TEXT, voice="alex").duration_seconds
    fast = local.audio.speak(text=TEXT, voice="alex", speed=2.0).duration_seconds
    assert fast < 0.75 * normal


def test_preset_voices_differ_in_measured_pitch(local: Any) -> None:
    high = acoustics.measure(local.audio.speak(text=TEXT, voice="ivy").audio).pitch_hz
    low = acoustics.measure(local.audio.speak(text=TEXT, voice="leo").audio).pitch_hz
    assert high is not None and low is not None
    assert high > 1.4 * low, (high, low)
    # An eSpeak NG voice name works too, and sounds like the preset built on it.
    same = acoustics.measure(local.audio.speak(text=TEXT, voice="en-us+f5").audio).pitch_hz
    assert same == pytest.approx(high, rel=0.02)


def test_stream_yields_sentences_that_join_into_a_wav(local: Any) -> None:
    text = "Hello there. How are you today? I am fine, thank you."
    stream = local.audio.stream(text=text, voice="maya", sample_rate=16000)
    chunks = list(stream)
    assert [c.index for c in chunks] == [0, 1, 2, 3]
    assert chunks[-1].final and chunks[-1].audio == b"" and chunks[-1].usage is not None
    assert all(c.audio for c in chunks[:-1])
    joined = stream.response()
    whole = local.audio.speak(text=text, voice="maya", sample_rate=16000)
    assert joined.sample_rate == 16000
    assert joined.duration_seconds == pytest.approx(whole.duration_seconds, rel=0.25)
    assert chunks[-1].usage.audio_seconds == pytest.approx(joined.duration_seconds, abs=0.01)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"text": "   "}, "text is empty"),
        ({"voice": "nobody"}, "not a local voice"),
        ({"voice": "en-us+nosuchvariant"}, "no voice variant"),
        ({"voice": "espeak-ng:missing"}, "not a local voice"),
        ({"sample_rate": 44100}, "16000, 22050, 24000"),
        ({"format": "mp3"}, "wav or pcm"),
        ({"speed": 9.0}, "speed must be"),
        ({"model": "tts-1"}, "espeak-ng"),
        ({"emotion": "happy"}, "does not take 'emotion'"),
    ],
)
def test_bad_speech_input_says_what_to_do(local: Any, kwargs: dict[str, Any], words: str) -> None:
    args: dict[str, Any] = {"model": "espeak-ng", "text": "Hello.", "voice": "alex", **kwargs}
    with pytest.raises(InvalidArgument, match=words):
        local.audio.speak(**args)


async def test_async_twins(local: Any) -> None:
    speech = await local.audio.aspeak(model="espeak-ng", text="Good morning.", voice="zoe", sample_rate=24000)
    assert speech.sample_rate == 24000 and speech.duration_seconds and speech.duration_seconds > 0.3
    stream = local.audio.astream(text="One. Two.", voice="zoe", format="pcm")
    chunks = [c async for c in stream]
    assert len(chunks) == 3 and chunks[-1].final
    assert (await stream.response()).duration_seconds == pytest.approx(
        sum(len(c.audio) for c in chunks) / 2 / 22050, abs=1e-3
    )
