"""OpenAI-compatible servers: one row of data each (name, base URL, key variable, what it offers).

Adding a vendor that speaks OpenAI's chat/embeddings wire format is one row here, or, at run time,
``polyface.providers.openai_compatible.register(CompatibleServer(...))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from polyface.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class CompatibleServer:
    """One OpenAI-compatible server or gateway."""

    name: str
    display_name: str
    base_url: str
    """The default base URL, ``/v1`` included (override per adapter with ``base_url=``)."""
    api_key_env: str | None = None
    """The environment variable holding the key; None when the server takes none."""
    key_required: bool = False
    offers: frozenset[str] = field(default_factory=lambda: frozenset({"text", "embeddings"}))
    """Capabilities the server offers: ``text``, ``embeddings``."""
    docs: str = ""

    def __post_init__(self) -> None:
        unknown = self.offers - {"text", "embeddings"}
        if unknown:
            raise ConfigurationError(
                f"{self.name}: OpenAI-compatible servers offer text and embeddings in polyface, not "
                f"{', '.join(sorted(unknown))}."
            )
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"{self.name}: base_url must be an http(s) URL (got {self.base_url!r}).")


SERVERS: dict[str, CompatibleServer] = {
    row.name: row
    for row in (
        CompatibleServer("vllm", "vLLM", "http://127.0.0.1:8000/v1", "VLLM_API_KEY", docs="docs.vllm.ai"),
        CompatibleServer("ollama", "Ollama", "http://127.0.0.1:11434/v1", None, docs="ollama.com"),
        CompatibleServer(
            "llamacpp", "llama.cpp server", "http://127.0.0.1:8080/v1", "LLAMACPP_API_KEY", docs="llama.cpp"
        ),
        CompatibleServer("lmstudio", "LM Studio", "http://127.0.0.1:1234/v1", None, docs="lmstudio.ai"),
        CompatibleServer(
            "openrouter",
            "OpenRouter",
            "https://openrouter.ai/api/v1",
            "OPENROUTER_API_KEY",
            key_required=True,
            offers=frozenset({"text"}),
            docs="openrouter.ai/docs",
        ),
        CompatibleServer(
            "groq",
            "Groq",
            "https://api.groq.com/openai/v1",
            "GROQ_API_KEY",
            key_required=True,
            offers=frozenset({"text"}),
        ),
        CompatibleServer(
            "deepseek",
            "DeepSeek",
            "https://api.deepseek.com/v1",
            "DEEPSEEK_API_KEY",
            key_required=True,
            offers=frozenset({"text"}),
        ),
        CompatibleServer(
            "fireworks",
            "Fireworks AI",
            "https://api.fireworks.ai/inference/v1",
            "FIREWORKS_API_KEY",
            key_required=True,
        ),
        CompatibleServer(
            "mistral", "Mistral AI", "https://api.mistral.ai/v1", "MISTRAL_API_KEY", key_required=True
        ),
    )
}


def register(row: CompatibleServer) -> CompatibleServer:
    """Add (or replace) a server row; ``polyface.provider(row.name)`` then builds its adapter."""
    SERVERS[row.name] = row
    return row
