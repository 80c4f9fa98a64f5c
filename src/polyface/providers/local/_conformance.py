"""Type-checked only (mypy): every local capability satisfies polyface's capability Protocols."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyface import capabilities as cap
    from polyface.providers.local import LocalAdapter
    from polyface.providers.local.fine_tuning.audio import LocalAudioTraining
    from polyface.providers.local.fine_tuning.image import LocalImageTraining
    from polyface.providers.local.fine_tuning.text import LocalTextTraining
    from polyface.providers.local.fine_tuning.video import LocalVideoTraining
    from polyface.providers.local.fine_tuning.voice import LocalVoiceTraining
    from polyface.providers.local.jobs import LocalFineTuneJob
    from polyface.providers.local.video import LocalVideoJob
    from polyface.providers.local.voice import LocalVoice

    def _conforms(local: LocalAdapter, voice: LocalVoice, job: LocalFineTuneJob, vjob: LocalVideoJob) -> None:
        config = local.config
        text: cap.TextGeneration = local.text
        embeddings: cap.Embeddings = local.embeddings
        image: cap.ImageGeneration = local.image
        speech: cap.Speech = local.audio
        transcription: cap.Transcription = local.audio
        video: cap.VideoGeneration = local.video
        voices: cap.Voices = voice
        ft_text: cap.FineTuning = LocalTextTraining(config)
        ft_voice: cap.FineTuning = LocalVoiceTraining(config)
        ft_image: cap.FineTuning = LocalImageTraining(config)
        ft_audio: cap.FineTuning = LocalAudioTraining(config)
        ft_video: cap.FineTuning = LocalVideoTraining(config)
        fjob: cap.FineTuneJob = job
        video_job: cap.VideoJob = vjob
        del text, embeddings, image, speech, transcription, video, voices
        del ft_text, ft_voice, ft_image, ft_audio, ft_video, fjob, video_job
