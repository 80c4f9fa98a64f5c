"""Speech to text over OpenAI-style ``/audio/transcriptions`` and ``/audio/translations`` (multipart):
the request, the parse and the cost once, for every provider that speaks that format."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from polyface.errors import ProviderUnavailable
from polyface.providers._base.config import ProviderConfig
from polyface.types.models import Pricing
from polyface.types.transcription import Transcription
from polyface.types.usage import Usage
from polyface.wire.openai_audio import parse_transcription

Task = Literal["transcribe", "translate"]
Parts = tuple[Any, Any, float | None]
"""(form fields, httpx ``files``, the audio's duration when it could be read locally)."""


class TranscriptionRunner:
    """The I/O of a transcription; a provider's audio capability builds ``Parts`` and may price
    differently (:meth:`_transcription_cost`)."""

    config: ProviderConfig
    _provider: str
    _display: str
    transcriptions_path: ClassVar[str] = "/audio/transcriptions"
    translations_path: ClassVar[str] = "/audio/translations"

    def _transcription_cost(self, price: Pricing | None, usage: Usage) -> float | None:
        return price.cost(usage) if price is not None else None

    def _parsed(self, data: Any, model: str, task: Task, duration: float | None) -> Transcription:
        try:
            return parse_transcription(
                data, provider=self._provider, model=model, task=task, duration=duration, vendor=self._display
            )
        except ProviderUnavailable:
            raise
        except ValueError as exc:  # pydantic: a field of an unexpected type
            raise ProviderUnavailable(
                f"the {task} answer could not be read: {exc}", provider=self._display
            ) from None

    def _path(self, task: Task) -> str:
        return self.translations_path if task == "translate" else self.transcriptions_path

    def _run(self, task: Task, model: str, parts: Parts, timeout: float | None) -> Transcription:
        form, files, duration = parts
        with self.config.telemetry.call(
            "translate" if task == "translate" else "transcription", model
        ) as call:
            response = self.config.http.request(
                "POST", self._path(task), data=form, files=files, timeout=timeout
            )
            result = self._parsed(response.json(), model, task, duration)
            result.cost = self._transcription_cost(self.config.catalog.pricing(model), result.usage)
            call.finish(response_model=model, cost=result.cost)
        return result

    async def _arun(self, task: Task, model: str, parts: Parts, timeout: float | None) -> Transcription:
        form, files, duration = parts
        with self.config.telemetry.call(
            "translate" if task == "translate" else "transcription", model
        ) as call:
            response = await self.config.http.arequest(
                "POST", self._path(task), data=form, files=files, timeout=timeout
            )
            result = self._parsed(response.json(), model, task, duration)
            result.cost = self._transcription_cost(await self.config.catalog.apricing(model), result.usage)
            call.finish(response_model=model, cost=result.cost)
        return result
