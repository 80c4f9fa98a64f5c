"""Type-checked only (mypy): every OpenAI capability satisfies polyface's capability Protocols."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyface import capabilities as cap
    from polyface.providers.openai import OpenAIAdapter

    def _conforms(o: OpenAIAdapter) -> None:
        text: cap.TextGeneration = o.text
        embeddings: cap.Embeddings = o.embeddings
        del text, embeddings

    from polyface.providers.openai.fine_tuning.text import OpenAIFineTuneJob

    def _conforms_fine_tuning(o: OpenAIAdapter, ft_job: OpenAIFineTuneJob) -> None:
        fine_tuning: cap.FineTuning = o.fine_tuning.text
        fjob: cap.FineTuneJob = ft_job
        del fine_tuning, fjob

    from polyface.providers.openai.fine_tuning.voice import OpenAICustomVoiceJob
    from polyface.providers.openai.voice import OpenAIVoice

    def _conforms_media(o: OpenAIAdapter, voice: OpenAIVoice, voice_job: OpenAICustomVoiceJob) -> None:
        image: cap.ImageGeneration = o.image
        speech: cap.Speech = o.audio
        transcription: cap.Transcription = o.audio
        voices: cap.Voices = voice
        voice_training: cap.FineTuning = o.fine_tuning.voice
        vjob: cap.FineTuneJob = voice_job
        del image, speech, transcription, voices, voice_training, vjob
