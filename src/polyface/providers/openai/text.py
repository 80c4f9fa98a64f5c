"""OpenAI text: chat completions (``POST /chat/completions``) and the legacy ``POST /completions``.

On top of the shared OpenAI-style chat engine, OpenAI differs in a few ways handled here:

* the output limit is ``max_completion_tokens`` (``max_tokens`` is deprecated and refused by reasoning
  models), so polyface's ``max_tokens=`` is sent under that name;
* streams ask for ``stream_options: {"include_usage": true}``, or OpenAI sends no usage (it then comes in a
  last chunk whose ``choices`` is empty, which the shared stream assembler reads);
* a pydantic model class as ``response_format`` becomes a *strict* JSON schema, which OpenAI accepts only
  when every object lists all its properties as required and forbids others;
* OpenAI's own options (``reasoning_effort``, ``parallel_tool_calls``, ``store``, ``metadata``,
  ``service_tier``, ...) are known by name;
* ``complete()`` serves the models that still have the legacy endpoint (``gpt-3.5-turbo-instruct``,
  ``davinci-002``, ``babbage-002`` and their fine-tunes) and refuses chat models before sending.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from polyface.errors import InvalidArgument
from polyface.providers._base.chat import ChatText
from polyface.providers.openai.config import chat_only
from polyface.types.text import TextResponse
from polyface.wire import openai_chat as wire

CHAT_OPTIONS = frozenset(
    {
        "max_completion_tokens",
        "reasoning_effort",
        "verbosity",
        "parallel_tool_calls",
        "store",
        "metadata",
        "service_tier",
        "modalities",
        "audio",
        "prediction",
        "web_search_options",
        "top_logprobs",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
        "moderation",
        "stream_options",
    }
)
"""OpenAI's own fields of ``CreateChatCompletionRequest`` (besides the options every OpenAI-style server
takes, see :data:`polyface.wire.openai_chat.COMMON_OPTIONS`)."""

COMPLETION_OPTIONS = frozenset(
    {
        "max_tokens",
        "temperature",
        "top_p",
        "stop",
        "seed",
        "n",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "user",
        "best_of",
        "echo",
        "suffix",
        "stream_options",
    }
)
"""The fields of the legacy ``CreateCompletionRequest`` polyface passes through."""

INCLUDE_USAGE: dict[str, Any] = {"include_usage": True}


# ---- pure: request pieces ---------------------------------------------------------------------------------
def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON schema OpenAI's strict structured outputs accept: every object (nested ones and ``$defs``
    included) requires all of its properties and allows no others. The input is not changed."""
    out = copy.deepcopy(dict(schema))

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict) and node.get("type") == "object":
                node["additionalProperties"] = False
                node["required"] = list(properties)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(out)
    return out


def check_metadata(metadata: Any) -> dict[str, str]:
    """OpenAI's ``metadata``: at most 16 string keys (64 characters) with string values (512)."""
    if not isinstance(metadata, Mapping):
        raise InvalidArgument("metadata must be a dict of strings, e.g. metadata={'persona': 'rex'}.")
    if len(metadata) > 16:
        raise InvalidArgument(f"OpenAI takes at most 16 metadata entries (got {len(metadata)}).")
    for key, value in metadata.items():
        if not isinstance(key, str) or len(key) > 64:
            raise InvalidArgument(f"metadata key {key!r} must be a string of at most 64 characters.")
        if not isinstance(value, str) or len(value) > 512:
            raise InvalidArgument(
                f"metadata[{key!r}] must be a string of at most 512 characters; turn numbers into text."
            )
    return dict(metadata)


def openai_chat_fields(body: dict[str, Any], response_format: Any = None) -> dict[str, Any]:
    """A chat body built by the shared engine, made OpenAI's: ``max_tokens`` sent as
    ``max_completion_tokens``, metadata checked, a pydantic ``response_format`` made strict."""
    if "max_tokens" in body:
        if "max_completion_tokens" in body:
            raise InvalidArgument(
                "pass max_tokens or max_completion_tokens, not both (polyface sends max_tokens to OpenAI "
                "as max_completion_tokens)."
            )
        body["max_completion_tokens"] = body.pop("max_tokens")
    if "metadata" in body:
        body["metadata"] = check_metadata(body["metadata"])
    if len(body.get("stop") or ()) > 4:
        raise InvalidArgument(f"OpenAI takes at most 4 stop sequences (got {len(body['stop'])}).")
    logprobs = body.get("logprobs")
    if logprobs is not None and not isinstance(logprobs, bool):
        raise InvalidArgument(
            f"OpenAI takes logprobs=True or False (got {logprobs!r}); ask for the top N tokens with "
            "top_logprobs=N."
        )
    bias = body.get("logit_bias")
    if isinstance(bias, Mapping) and any(
        isinstance(v, bool) or not isinstance(v, int) or not -100 <= v <= 100 for v in bias.values()
    ):
        raise InvalidArgument("OpenAI takes logit_bias values as whole numbers from -100 to 100.")
    if isinstance(response_format, type) and callable(getattr(response_format, "model_json_schema", None)):
        spec = body["response_format"]["json_schema"]
        spec["schema"] = strict_schema(spec["schema"])
    return body


def _no_stream_options(body: Mapping[str, Any]) -> None:
    if "stream_options" in body:
        raise InvalidArgument(
            "stream_options applies to streams only (OpenAI refuses it otherwise); use text.stream(...) "
            "or drop it."
        )


# ---- the capability ---------------------------------------------------------------------------------------
class OpenAIText(ChatText):
    """``adapter.text`` for OpenAI: ``generate``/``stream`` (chat), ``complete``/``stream_complete``
    (the legacy completions endpoint), each with its ``a``-prefixed async twin."""

    extra_options: ClassVar[frozenset[str]] = CHAT_OPTIONS
    stream_options: ClassVar[dict[str, Any] | None] = INCLUDE_USAGE

    def _chat_body(
        self,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | None,
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        body = super()._chat_body(model, messages, system, options)
        return openai_chat_fields(body, options.get("response_format"))

    def _completion_body(self, model: str, prompt: str, options: Mapping[str, Any]) -> dict[str, Any]:
        if chat_only(model):
            raise InvalidArgument(
                f"{model} is a chat model: OpenAI serves it on chat completions only. Use "
                "text.generate(model=..., messages=prompt), or complete() with gpt-3.5-turbo-instruct, "
                "davinci-002 or babbage-002."
            )
        unknown = sorted(name for name in options if name != "extra_body" and name not in COMPLETION_OPTIONS)
        if unknown:
            raise InvalidArgument(
                f"OpenAI completions do not take {', '.join(repr(n) for n in unknown)}. Known options: "
                f"{', '.join(sorted(COMPLETION_OPTIONS))}; pass other fields with extra_body={{...}}."
            )
        body = wire.build_options(
            options, provider=self.config.info.display_name, extra_allowed=COMPLETION_OPTIONS
        )
        body["model"] = model
        body["prompt"] = prompt
        return body

    def _stream_body(self, body: dict[str, Any]) -> dict[str, Any]:
        requested = body.get("stream_options")
        body = super()._stream_body(body)
        if isinstance(requested, Mapping):  # the caller's stream options (include_obfuscation...), plus usage
            body["stream_options"] = {**requested, **INCLUDE_USAGE}
        return body

    def _post(self, op: str, path: str, body: dict[str, Any], timeout: float | None) -> TextResponse:
        _no_stream_options(body)
        return super()._post(op, path, body, timeout)

    async def _apost(self, op: str, path: str, body: dict[str, Any], timeout: float | None) -> TextResponse:
        _no_stream_options(body)
        return await super()._apost(op, path, body, timeout)

    @staticmethod
    def _span_args(body: Mapping[str, Any]) -> dict[str, Any]:
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        return {"max_tokens": limit, "temperature": body.get("temperature")}


__all__ = [
    "CHAT_OPTIONS",
    "COMPLETION_OPTIONS",
    "OpenAIText",
    "check_metadata",
    "openai_chat_fields",
    "strict_schema",
]
