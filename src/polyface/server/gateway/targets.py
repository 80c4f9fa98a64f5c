"""What a gateway model name means, and the models the gateway lists.

``persona/<name>``: the persona answers (its active avatar's models, its system prompt).
``<provider>/<model>``: the call is forwarded to that provider (``local/smollm2-135m-instruct``,
``together/meta-llama/Llama-3.3-70B-Instruct-Turbo``). Blocking: call these from a worker thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from polyface.errors import MissingCredentials
from polyface.persona.avatar import model_for
from polyface.persona.respond import speech_arguments, system_prompt
from polyface.persona.tables import Persona
from polyface.providers._base.secrets import redact
from polyface.server.gateway.errors import OpenAIError, model_not_found

if TYPE_CHECKING:
    from polyface.persona.studio import Studio

log = logging.getLogger("polyface.server.gateway")

PERSONA = "persona"


@dataclass(frozen=True)
class Target:
    """Where a call goes: the provider, its model, and for a persona its name and system prompt."""

    provider: str
    model: str
    persona: str | None = None
    system_prompt: str | None = None
    voice: str | None = None
    """For a persona's voice: the voice the provider speaks with."""
    speech_format: str | None = None


def provider_names(studio: Studio) -> list[str]:
    """The providers the gateway knows: polyface's own and any adapter the studio was given."""
    from polyface.providers.registry import PROVIDERS

    given: dict[str, Any] = getattr(studio, "_adapters", {})
    return sorted(set(PROVIDERS) | set(given))


def split_model(model: str) -> tuple[str, str]:
    head, sep, rest = model.partition("/")
    if not sep or not head or not rest:
        raise model_not_found(
            model,
            "name a persona as 'persona/<name>' or a provider's model as '<provider>/<model>' "
            "(GET /v1/models lists them).",
        )
    return head, rest


def adapter(studio: Studio, provider: str, model: str) -> Any:
    """The provider's adapter; 404 for a provider the gateway does not know."""
    if provider not in provider_names(studio):
        raise model_not_found(
            f"{provider}/{model}",
            f"no provider {provider!r} (providers: {', '.join(provider_names(studio))}).",
        )
    return studio.adapter(provider)


def _persona(studio: Studio, name: str) -> tuple[Any, str]:
    """The persona's handle and system prompt."""
    from polyface.persona.errors import PersonaNotFound

    try:
        handle = studio.personas.get(name)
    except PersonaNotFound as exc:
        raise model_not_found(f"{PERSONA}/{name}", str(exc)) from None
    with studio.db.session() as session:
        row = session.get(Persona, handle.id)
        if row is None:
            raise model_not_found(f"{PERSONA}/{name}", "the persona was just deleted.")
        prompt = system_prompt(row)
    return handle, prompt


def text_target(studio: Studio, model: str) -> Target:
    """Where a chat goes: the persona's text model with its system prompt, or the named provider model."""
    head, rest = split_model(model)
    if head != PERSONA:
        adapter(studio, head, rest)
        return Target(provider=head, model=rest)
    handle, prompt = _persona(studio, rest)
    ref = model_for(handle.avatar.require_active(), "text")
    return Target(provider=str(ref["provider"]), model=str(ref["model"]), persona=rest, system_prompt=prompt)


def speech_target(studio: Studio, model: str, voice: str) -> Target:
    """Who speaks: a persona named by ``model`` or ``voice`` (its avatar's voice), else the provider's model
    with ``voice`` as the provider's voice."""
    persona = next((v.split("/", 1)[1] for v in (voice, model) if v.startswith(f"{PERSONA}/")), None)
    if persona is None:
        head, rest = split_model(model)
        adapter(studio, head, rest)
        return Target(provider=head, model=rest, voice=voice)
    handle, _ = _persona(studio, persona)
    ref = model_for(handle.avatar.require_active(), "voice")
    call = speech_arguments(ref)
    return Target(
        provider=str(ref["provider"]),
        model=str(call["model"]),
        persona=persona,
        voice=str(call["voice"]) if call.get("voice") else None,
        speech_format=str(call.get("format") or "wav"),
    )


def plain_target(studio: Studio, model: str, what: str) -> Target:
    """A provider's model (embeddings): personas do not do ``what``."""
    head, rest = split_model(model)
    if head == PERSONA:
        raise OpenAIError(
            400,
            f"personas do not make {what}; name a provider's model ('local/all-minilm-l6-v2', "
            "GET /v1/models lists them).",
            code="model_not_supported",
            param="model",
        )
    adapter(studio, head, rest)
    return Target(provider=head, model=rest)


# ---- listing ------------------------------------------------------------------------------------------


def _stamp(value: Any) -> int:
    try:
        return int(value.timestamp())
    except (AttributeError, TypeError, ValueError, OSError):
        return 0


def list_models(studio: Studio) -> list[dict[str, Any]]:
    """OpenAI model objects: the personas, then each configured provider's catalog. A provider without
    credentials, or whose catalog cannot be fetched now, is left out (logged), never an error."""
    found: list[dict[str, Any]] = [
        {
            "id": f"{PERSONA}/{info.name}",
            "object": "model",
            "created": _stamp(info.created_at),
            "owned_by": "polyface",
        }
        for info in studio.personas.list()
    ]
    for name in provider_names(studio):
        try:
            provider = studio.adapter(name)
            provider.config.api_key()  # MissingCredentials when the provider has no key here
            catalog = provider.models()
        except MissingCredentials:
            continue
        except Exception as exc:
            log.warning("gateway: %s's models are left out of /v1/models: %s", name, redact(str(exc))[:300])
            continue
        found += [
            {"id": f"{name}/{m.id}", "object": "model", "created": 0, "owned_by": m.owned_by or name}
            for m in sorted(catalog, key=lambda m: m.id)
        ]
    return found
