"""Type-checked only (mypy): every Together capability satisfies polyface's capability Protocols."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyface import capabilities as cap
    from polyface.providers.together import TogetherAdapter
    from polyface.providers.together.fine_tuning.text import TogetherFineTuneJob
    from polyface.providers.together.video import TogetherVideoJob

    def _conforms(t: TogetherAdapter, video_job: TogetherVideoJob, ft_job: TogetherFineTuneJob) -> None:
        text: cap.TextGeneration = t.text
        embeddings: cap.Embeddings = t.embeddings
        image: cap.ImageGeneration = t.image
        speech: cap.Speech = t.audio
        transcription: cap.Transcription = t.audio
        video: cap.VideoGeneration = t.video
        voices: cap.Voices = t.voice
        fine_tuning: cap.FineTuning = t.fine_tuning.text
        vjob: cap.VideoJob = video_job
        fjob: cap.FineTuneJob = ft_job
        del text, embeddings, image, speech, transcription, video, voices, fine_tuning, vjob, fjob
