"""Together AI: where it lives, how it authenticates, how its catalog and errors read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polyface.providers._base.config import ProviderConfig, ProviderInfo

if TYPE_CHECKING:
    from polyface.types.models import Modality, ModelInfo

TOGETHER = ProviderInfo(
    name="together",
    display_name="Together AI",
    default_base_url="https://api.together.xyz/v1",
    api_key_env="TOGETHER_API_KEY",
    base_url_env="TOGETHER_BASE_URL",
    request_id_headers=("x-request-id", "x-together-request-id", "request-id"),
)

MODALITIES: dict[str, Modality] = {
    "chat": "text",
    "language": "text",
    "code": "text",
    "image": "image",
    "embedding": "embeddings",
    "rerank": "rerank",
    "moderation": "moderation",
    "audio": "speech",
    "transcribe": "transcription",
    "video": "video",
}


class TogetherConfig(ProviderConfig):
    info = TOGETHER

    def parse_models(self, data: Any) -> list[ModelInfo]:
        from polyface.types.models import ModelInfo, Pricing

        items = data.get("data", []) if isinstance(data, dict) else data
        models: list[ModelInfo] = []
        for item in items or ():
            if not isinstance(item, dict) or "id" not in item:
                continue
            price = item.get("pricing") or None
            models.append(
                ModelInfo(
                    id=str(item["id"]),
                    provider=self.info.name,
                    modality=MODALITIES.get(str(item.get("type")), "other"),
                    display_name=item.get("display_name"),
                    owned_by=item.get("organization"),
                    context_length=item.get("context_length"),
                    pricing=Pricing(
                        input_per_mtok=float(price.get("input") or 0),
                        output_per_mtok=float(price.get("output") or 0),
                        hourly=float(price.get("hourly") or 0),
                        finetune_per_mtok=float(price.get("finetune") or 0),
                    )
                    if isinstance(price, dict)
                    else None,
                    raw=item,
                )
            )
        return models
