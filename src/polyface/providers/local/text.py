"""``LocalText``: chat and completion with SmolLM2 (and the LoRA adapters trained here), offline.

``model`` is ``smollm2-135m-instruct`` or a trained ``smollm2-135m-instruct:<name>``. The engine is
llama.cpp when ``llama-cpp-python`` is installed (``polyface[local-fast]``), else transformers; pass
``engine="transformers"`` or ``"llama.cpp"`` to the adapter or to one call to choose. Both apply the
model's own chat template and give the same kind of answer; llama.cpp is about 3x faster here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from polyface.errors import ConfigurationError, InvalidArgument
from polyface.providers.local import assets
from polyface.providers.local.llm.engine import Piece, Sampling, TextEngine
from polyface.providers.local.runtime import aiterate, to_thread
from polyface.types.text import Message, TextDelta, TextResponse
from polyface.types.usage import Usage

if TYPE_CHECKING:
    from polyface.providers.local.config import LocalConfig
    from polyface.providers.local.store import LocalModel

OPTIONS = frozenset(
    {
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",
        "repetition_penalty",
        "stop",
        "seed",
        "engine",
        "n",
        "user",
    }
)
UNSUPPORTED = {
    "tools": "the local model has no tool calling; use together/openai/anthropic for tools",
    "tool_choice": "the local model has no tool calling; use together/openai/anthropic for tools",
    "response_format": "the local model cannot be held to a JSON schema; ask for JSON in the prompt instead",
    "logprobs": "the local provider does not return log probabilities",
}


def _content(message: Mapping[str, Any], index: int) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for part in content:
        if isinstance(part, Mapping) and part.get("type") == "text":
            texts.append(str(part.get("text") or ""))
        else:
            kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
            raise InvalidArgument(
                f"messages[{index}] has a {kind!r} part: the local model reads text only "
                "(use together or openai for images)."
            )
    return "".join(texts)


def chat_messages(messages: Sequence[Message | Mapping[str, Any]]) -> list[dict[str, str]]:
    """Messages as the chat template wants them (``developer`` becomes ``system``); checked."""
    if not messages:
        raise InvalidArgument("messages is empty: pass at least one {'role': 'user', 'content': '...'}.")
    out: list[dict[str, str]] = []
    for i, raw in enumerate(messages):
        message = raw.model_dump(exclude_none=True) if isinstance(raw, Message) else raw
        if not isinstance(message, Mapping):
            raise InvalidArgument(f"messages[{i}] must be a dict or Message (got {type(raw).__name__}).")
        role = message.get("role")
        if role == "developer":
            role = "system"
        if role not in ("system", "user", "assistant"):
            raise InvalidArgument(
                f"messages[{i}] has role {role!r}; the local model takes system, user and assistant messages."
            )
        out.append({"role": str(role), "content": _content(message, i)})
    return out


class LocalText:
    """Text generation on this machine (the TextGeneration protocol)."""

    def __init__(self, config: LocalConfig) -> None:
        self.config = config

    # ---- choosing the model and engine -------------------------------------------------------------
    def _engine(self, model: str, engine: str | None) -> TextEngine:
        record = self.config.store.get(model, modality="text")
        wanted = engine or self.config.engine
        if wanted not in ("auto", "llama.cpp", "transformers"):
            raise InvalidArgument(f"engine must be 'auto', 'llama.cpp' or 'transformers' (got {wanted!r}).")
        if wanted == "auto":
            wanted = "llama.cpp" if assets.llama_cpp_available() else "transformers"
        if wanted == "llama.cpp":
            return self._llama(record)
        return self._transformers(record)

    def _llama(self, record: LocalModel) -> TextEngine:
        if not assets.llama_cpp_available():
            raise ConfigurationError(
                "engine='llama.cpp' needs llama-cpp-python: run `pip install 'polyface[local-fast]'` "
                "(it compiles llama.cpp, a few minutes), or use engine='transformers'."
            )
        from polyface.providers.local.llm.llamacpp_engine import LlamaCppEngine, runtime

        lora = None
        if record.kind == "lora":
            lora = record.folder / "adapter.gguf"
            if not lora.is_file():
                raise ConfigurationError(
                    f"{record.id} has no GGUF copy of its adapter ({lora} is missing); "
                    "use engine='transformers' or train it again."
                )
        stamp = record.created_at.timestamp() if record.created_at else 0
        return LlamaCppEngine(runtime(f"{record.id}@{stamp:.0f}", self.config.threads, lora))

    def _transformers(self, record: LocalModel) -> TextEngine:
        from polyface.providers.local.llm.transformers_engine import TransformersEngine, runtime

        rt = runtime(self.config.cache_dir, self.config.dtype, self.config.threads)
        stamp = record.created_at.timestamp() if record.created_at else 0
        adapter = (f"{record.id}@{stamp:.0f}", record.folder / "adapter") if record.kind == "lora" else None
        return TransformersEngine(rt, adapter)

    @staticmethod
    def _sampling(options: dict[str, Any]) -> tuple[Sampling, str | None]:
        for name, why in UNSUPPORTED.items():
            if options.get(name) is not None:
                raise InvalidArgument(f"{name}: {why}.")
        unknown = sorted(set(options) - OPTIONS - set(UNSUPPORTED))
        if unknown:
            raise InvalidArgument(
                f"unknown option(s) for local text: {', '.join(unknown)}; "
                f"it takes {', '.join(sorted(OPTIONS))}."
            )
        if options.get("n") not in (None, 1):
            raise InvalidArgument("the local provider makes one choice per call (n=1); call again for more.")
        sampling = Sampling()
        max_tokens = options.get("max_tokens", options.get("max_completion_tokens"))
        if max_tokens is not None:
            if not isinstance(max_tokens, int) or max_tokens < 1:
                raise InvalidArgument(f"max_tokens must be a positive integer (got {max_tokens!r}).")
            sampling.max_tokens = max_tokens
        for name in ("temperature", "top_p", "repetition_penalty"):
            value = options.get(name)
            if value is not None:
                if not isinstance(value, int | float) or value < 0:
                    raise InvalidArgument(f"{name} must be a number >= 0 (got {value!r}).")
                setattr(sampling, name, float(value))
        if options.get("top_k") is not None:
            sampling.top_k = int(options["top_k"])
        if options.get("seed") is not None:
            sampling.seed = int(options["seed"])
        stop = options.get("stop")
        if stop is not None:
            sampling.stop = [stop] if isinstance(stop, str) else [str(s) for s in stop]
        return sampling, options.get("engine")

    # ---- running ------------------------------------------------------------------------------------
    def _pieces(self, model: str, options: dict[str, Any], run: Any) -> tuple[Iterator[Piece], Sampling]:
        sampling, engine = self._sampling(options)
        return run(self._engine(model, engine), sampling), sampling

    def _respond(
        self, model: str, pieces: Iterator[Piece], operation: str, sampling: Sampling
    ) -> TextResponse:
        with self.config.telemetry.call(
            operation, model, max_tokens=sampling.max_tokens, temperature=sampling.temperature
        ) as call:
            text: list[str] = []
            last = Piece()
            for piece in pieces:
                text.append(piece.text)
                last = piece
            usage = _usage(last)
            response = TextResponse(
                id=f"local-{uuid.uuid4().hex[:24]}",
                provider="local",
                model=model,
                text="".join(text),
                finish_reason="length" if last.finish_reason == "length" else "stop",
                usage=usage,
                cost=0.0,
            )
            call.finish(
                response_model=model,
                response_id=response.id,
                finish_reason=response.finish_reason,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost=0.0,
            )
        return response

    def generate(
        self, *, model: str, messages: Sequence[Message | Mapping[str, Any]], **options: Any
    ) -> TextResponse:
        """The model's whole reply to ``messages`` (the model's chat template applied)."""
        chat = chat_messages(messages)
        pieces, sampling = self._pieces(model, options, lambda e, s: e.chat(chat, s))
        return self._respond(model, pieces, "chat", sampling)

    async def agenerate(
        self, *, model: str, messages: Sequence[Message | Mapping[str, Any]], **options: Any
    ) -> TextResponse:
        return await to_thread(self.generate, model=model, messages=messages, **options)

    def complete(self, *, model: str, prompt: str, **options: Any) -> TextResponse:
        """The continuation of a raw ``prompt`` (no chat template)."""
        if not isinstance(prompt, str) or not prompt:
            raise InvalidArgument("prompt must be a non-empty string.")
        pieces, sampling = self._pieces(model, options, lambda e, s: e.complete(prompt, s))
        return self._respond(model, pieces, "text_completion", sampling)

    async def acomplete(self, *, model: str, prompt: str, **options: Any) -> TextResponse:
        return await to_thread(self.complete, model=model, prompt=prompt, **options)

    def stream(
        self, *, model: str, messages: Sequence[Message | Mapping[str, Any]], **options: Any
    ) -> Iterator[TextDelta]:
        """The reply piece by piece as it is decoded; the last delta carries finish_reason and usage."""
        chat = chat_messages(messages)
        pieces, sampling = self._pieces(model, options, lambda e, s: e.chat(chat, s))
        return self._deltas(model, pieces, sampling)

    def _deltas(self, model: str, pieces: Iterator[Piece], sampling: Sampling) -> Iterator[TextDelta]:
        response_id = f"local-{uuid.uuid4().hex[:24]}"
        with self.config.telemetry.call("chat", model, current=False, max_tokens=sampling.max_tokens) as call:
            for piece in pieces:
                if piece.finish_reason is None:
                    if piece.text:
                        yield TextDelta(text=piece.text, model=model, id=response_id)
                    continue
                usage = _usage(piece)
                finish = "length" if piece.finish_reason == "length" else "stop"
                call.finish(
                    response_model=model,
                    response_id=response_id,
                    finish_reason=finish,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cost=0.0,
                )
                yield TextDelta(
                    text=piece.text, finish_reason=finish, usage=usage, cost=0.0, model=model, id=response_id
                )

    def astream(
        self, *, model: str, messages: Sequence[Message | Mapping[str, Any]], **options: Any
    ) -> AsyncIterator[TextDelta]:
        chat = chat_messages(messages)  # bad input raises here, before the first await
        self._sampling(dict(options))
        return aiterate(lambda: self.stream(model=model, messages=chat, **options))


def _usage(piece: Piece) -> Usage:
    prompt = piece.prompt_tokens or 0
    completion = piece.completion_tokens or 0
    return Usage(input_tokens=prompt, output_tokens=completion, total_tokens=prompt + completion)
