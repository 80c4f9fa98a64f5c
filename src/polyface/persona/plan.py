"""Planning an avatar: per modality, which provider trains it, on which data, for how much.

``persona.avatar.plan(text="together:meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", voice="openai",
image="local", video="local", audio="local")``. A choice is a provider name (its default base model) or
``provider:base_model``. Nothing is submitted; the plan is checked (the provider trains that modality, the
persona has samples for it) and priced: ``local`` costs nothing; text on Together or OpenAI is estimated
from the dataset's tokens, the epochs and the catalog's training price (the vendor's own estimate is
checked against the budget again when the run is submitted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from polyface.errors import BudgetExceeded, CapabilityNotSupported, InvalidArgument
from polyface.persona.views import MODALITIES
from polyface.types._base import PolyfaceModel

if TYPE_CHECKING:
    from rich.table import Table

    from polyface.persona.studio import PersonaHandle

DEFAULT_BASE_MODELS: dict[str, dict[str, str]] = {
    "text": {
        "local": "smollm2-135m-instruct",
        "together": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        "openai": "gpt-4o-mini-2024-07-18",
    },
    "voice": {"local": "espeak-ng", "openai": "gpt-4o-mini-tts"},
    "audio": {"local": "pocketsphinx-en-us"},
    "image": {"local": "portrait"},
    "video": {"local": "talking-head"},
}
"""The base model each provider trains per modality when the plan names only the provider."""

SAMPLES_FOR: dict[str, str] = {
    "text": "text",
    "voice": "audio",
    "audio": "text",
    "image": "image",
    "video": "video",
}
"""Which samples each modality trains on (the recognizer learns the persona's words from its dialogue)."""

DEFAULT_EPOCHS = 3


class PlanItem(PolyfaceModel):
    modality: str
    provider: str
    base_model: str
    samples: int
    seconds: float | None = None
    """Seconds of audio or video the samples hold (voice, video)."""
    estimated_cost_usd: float | None = None
    """None when the price is known only once the vendor prices the job."""
    note: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class AvatarPlan(PolyfaceModel):
    persona: str
    items: list[PlanItem]

    @property
    def total_usd(self) -> float:
        return sum(i.estimated_cost_usd or 0.0 for i in self.items)

    @property
    def modalities(self) -> list[str]:
        return [i.modality for i in self.items]

    def item(self, modality: str) -> PlanItem:
        for item in self.items:
            if item.modality == modality:
                return item
        raise InvalidArgument(f"the plan has no {modality} step (it has {', '.join(self.modalities)}).")

    def check_budget(self, budget_usd: float | None) -> None:
        if budget_usd is not None and self.total_usd > budget_usd:
            raise BudgetExceeded(self.total_usd, budget_usd, f"training {self.persona}'s avatar")

    def table(self) -> Table:
        from rich.table import Table

        table = Table(title=f"avatar plan for {self.persona}")
        for column in ("modality", "provider", "base model", "samples", "estimated cost", "note"):
            table.add_column(column, justify="right" if column in ("samples", "estimated cost") else "left")
        for i in self.items:
            seconds = f" ({i.seconds:.0f} s)" if i.seconds else ""
            cost = "unknown" if i.estimated_cost_usd is None else f"${i.estimated_cost_usd:.2f}"
            table.add_row(i.modality, i.provider, i.base_model, f"{i.samples}{seconds}", cost, i.note)
        table.add_row("total", "", "", "", f"${self.total_usd:.2f}", "", style="bold")
        return table

    def __str__(self) -> str:
        lines = [f"avatar plan for {self.persona}:"]
        for i in self.items:
            cost = "unknown until priced" if i.estimated_cost_usd is None else f"${i.estimated_cost_usd:.2f}"
            seconds = f", {i.seconds:.0f} s" if i.seconds else ""
            lines.append(
                f"  {i.modality:<6} {i.provider}:{i.base_model}  {i.samples} samples{seconds}  {cost}"
                + (f"  ({i.note})" if i.note else "")
            )
        lines.append(f"  total  ${self.total_usd:.2f}")
        return "\n".join(lines)


def _offers(provider: str, modality: str) -> bool:
    from polyface.providers.registry import PROVIDERS, adapter_class

    if provider not in PROVIDERS:
        return False
    return bool(adapter_class(provider).capabilities().get(f"fine_tuning.{modality}", False))


def _who_trains(modality: str) -> tuple[str, ...]:
    from polyface.providers.registry import PROVIDERS

    return tuple(p for p in PROVIDERS if _offers(p, modality))


def _text_estimate(
    persona: PersonaHandle, provider: str, base_model: str, epochs: int
) -> tuple[float | None, str]:
    """(USD, how) for a text run on a vendor: dataset tokens x epochs x the catalog's training price."""
    from polyface.persona import datasets
    from polyface.training.text_dataset import row_tokens

    rows = datasets.text_rows(persona.studio, persona.id)
    tokens = sum(row_tokens(r) for r in rows)
    try:
        adapter = persona.studio.adapter(provider)
        pricing = adapter.config.catalog.pricing(base_model)
    except Exception:
        pricing = None
    if pricing is None or not pricing.finetune_per_mtok:
        return None, f"~{tokens} tokens x {epochs} epochs; priced by {provider} at submission"
    cost = tokens * epochs * pricing.finetune_per_mtok / 1_000_000
    return cost, f"~{tokens} tokens x {epochs} epochs at ${pricing.finetune_per_mtok:.2f}/Mtok"


def make_plan(persona: PersonaHandle, choices: dict[str, Any]) -> AvatarPlan:
    from polyface.persona import datasets

    parameters: dict[str, dict[str, Any]] = dict(choices.pop("parameters", None) or {})
    unknown = sorted(set(choices) - set(MODALITIES))
    if unknown:
        raise InvalidArgument(f"unknown modality {', '.join(unknown)}; plan takes {', '.join(MODALITIES)}.")
    chosen = {m: c for m, c in choices.items() if c}
    if not chosen:
        raise InvalidArgument(
            "the plan is empty: name a provider per modality, e.g. plan(text='local', voice='local')."
        )
    summary = datasets.summary(persona.studio, persona.id)
    items: list[PlanItem] = []
    for modality in MODALITIES:
        choice = chosen.get(modality)
        if choice is None:
            continue
        provider, _, base_model = str(choice).partition(":")
        if not _offers(provider, modality):
            raise CapabilityNotSupported(
                provider, f"fine_tuning.{modality}", offered_by=_who_trains(modality)
            )
        base_model = base_model or DEFAULT_BASE_MODELS.get(modality, {}).get(provider, "")
        if not base_model:
            raise InvalidArgument(
                f"{modality}={choice!r}: name the base model too, e.g. '{provider}:<model>'."
            )
        source = SAMPLES_FOR[modality]
        held = summary.get(source, {})
        count = int(held.get("count", 0))
        if count == 0:
            adder = {"text": "add_text", "audio": "add_audio", "image": "add_images", "video": "add_video"}[
                source
            ]
            raise InvalidArgument(
                f"{persona.name!r} has no {source} samples to train {modality} on: add some with "
                f"persona.samples.{adder}(...) or `polyface samples add {persona.name} --{source} ...`."
            )
        params = dict(parameters.get(modality, {}))
        cost: float | None = 0.0
        note = "runs on this machine" if provider == "local" else ""
        if provider != "local" and modality == "text":
            cost, note = _text_estimate(
                persona, provider, base_model, int(params.get("n_epochs", DEFAULT_EPOCHS))
            )
        elif provider != "local":
            note = f"priced by {provider} at submission"
        items.append(
            PlanItem(
                modality=modality,
                provider=provider,
                base_model=base_model,
                samples=count,
                seconds=held.get("seconds") if source in ("audio", "video") else None,
                estimated_cost_usd=cost,
                note=note,
                parameters=params,
            )
        )
    return AvatarPlan(persona=persona.name, items=items)
