"""Fine-tuning in any modality: the job, its status and events, its settings and its price."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast, get_args

from pydantic import Field, field_validator

from polyface.errors import BudgetExceeded
from polyface.types._base import JobSnapshot, PolyfaceModel, normalize_word

TrainingMethod = Literal["sft", "dpo"]
"""Supervised fine-tuning on examples, or direct preference optimisation on chosen/rejected pairs."""

FineTuneModality = Literal["text", "voice", "image", "audio", "video"]
"""What a job trains: ``voice`` is speech synthesis in a voice, ``audio`` is recognition (speech to text)."""

FineTuneStatus = Literal[
    "pending",
    "validating_files",
    "queued",
    "running",
    "paused",
    "compressing",
    "uploading",
    "cancel_requested",
    "succeeded",
    "failed",
    "cancelled",
    "unknown",
]
"""Where a job stands. Vendor synonyms are mapped by :func:`normalize_fine_tune_status`; a status
polyface does not know becomes ``unknown`` (the vendor's word is kept in ``raw_status``)."""

FINE_TUNE_TERMINAL_STATUSES: frozenset[FineTuneStatus] = frozenset({"succeeded", "failed", "cancelled"})

_FINE_TUNE_SYNONYMS: dict[str, FineTuneStatus] = {
    "created": "pending",
    "validating": "validating_files",
    "in_progress": "running",
    "training": "running",
    "started": "running",
    "compressing_model": "compressing",
    "uploading_model": "uploading",
    "completed": "succeeded",
    "complete": "succeeded",
    "success": "succeeded",
    "done": "succeeded",
    "finished": "succeeded",
    "error": "failed",
    "errored": "failed",
    "user_error": "failed",
    "canceled": "cancelled",
    "cancelling": "cancel_requested",
    "canceling": "cancel_requested",
    "stopped": "cancelled",
}


def normalize_fine_tune_status(raw: str | None) -> FineTuneStatus:
    """A vendor's job status in polyface's words: Together's ``completed`` and OpenAI's ``succeeded``
    are both ``"succeeded"``, Together's ``error`` is ``"failed"``.

    Matching ignores case, spaces and hyphens; anything unrecognised is ``"unknown"``, never an error.
    """
    return cast(FineTuneStatus, normalize_word(raw, get_args(FineTuneStatus), _FINE_TUNE_SYNONYMS))


EventLevel = Literal["debug", "info", "warning", "error"]

_LEVELS: dict[str, EventLevel] = {
    "debug": "debug",
    "info": "info",
    "legacy_info": "info",
    "warn": "warning",
    "warning": "warning",
    "legacy_iwarning": "warning",
    "error": "error",
    "legacy_ierror": "error",
}


class LoRAConfig(PolyfaceModel):
    """Low-rank adapter settings. The defaults match Together's and PEFT's usual choices."""

    r: int = Field(default=8, gt=0)
    alpha: float = Field(default=16, gt=0)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    trainable_modules: str | list[str] = "all-linear"
    """``"all-linear"``, or module names (a list, or Together's comma-separated string)."""


class Hyperparameters(PolyfaceModel):
    """The settings a job trains with. Unset means the vendor's default ("auto")."""

    method: TrainingMethod = "sft"
    n_epochs: int | None = Field(default=None, gt=0)
    batch_size: int | Literal["auto", "max"] | None = None
    learning_rate: float | None = Field(default=None, gt=0)
    learning_rate_multiplier: float | None = Field(default=None, gt=0)
    """OpenAI's relative learning rate (it does not take an absolute one)."""
    warmup_ratio: float | None = Field(default=None, ge=0, le=1)
    weight_decay: float | None = Field(default=None, ge=0)
    max_grad_norm: float | None = Field(default=None, ge=0)
    lora: LoRAConfig | None = None
    """Train an adapter with these settings; None trains the full model (or whatever the vendor does)."""
    n_checkpoints: int | None = Field(default=None, ge=0)
    n_evals: int | None = Field(default=None, ge=0)
    train_on_inputs: bool | Literal["auto"] | None = None
    dpo_beta: float | None = None
    seed: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    """Vendor-specific settings polyface has no field for, passed through as given."""


class FineTuneEvent(PolyfaceModel):
    """One line of a job's log; a metrics event also fills ``step``, ``loss`` and friends."""

    time: datetime | None = None
    level: EventLevel = "info"
    message: str = ""
    type: str | None = None
    """The vendor's event type (Together: ``epoch_complete``, ``checkpoint_save``...; OpenAI: ``metrics``)."""
    id: str | None = None
    step: int | None = None
    total_steps: int | None = None
    epoch: float | None = None
    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    checkpoint: str | None = None
    """A checkpoint's path or id, on events that saved one."""
    data: dict[str, Any] = Field(default_factory=dict)
    """Other numbers or details the vendor attached to the event."""

    @field_validator("level", mode="before")
    @classmethod
    def _normalise_level(cls, value: Any) -> Any:
        if value is None:
            return "info"
        if isinstance(value, str):
            return _LEVELS.get(value.strip().lower(), "info")
        return value


class FineTuneCheckpoint(PolyfaceModel):
    """A saved state of a job, usable as a model or to resume training from."""

    id: str | None = None
    step: int | None = None
    path: str | None = None
    """The model name or location to use it by."""
    type: str | None = None
    created_at: datetime | None = None
    metrics: dict[str, float] = Field(default_factory=dict)


class PriceEstimate(PolyfaceModel):
    """What a job is expected to cost before it starts, in USD."""

    provider: str
    total_usd: float = Field(ge=0)
    train_tokens: int | None = None
    eval_tokens: int | None = None
    allowed_to_proceed: bool | None = None
    """Whether the vendor says the account may start it (Together checks credit limits)."""
    user_limit_usd: float | None = None
    exact: bool = False
    """True when the vendor priced it; False when polyface estimated it from catalog prices."""
    note: str | None = None
    """How the estimate was reached, e.g. "4.1M tokens x 3 epochs at $3.00/Mtok"."""

    def check_budget(self, budget_usd: float | None, what: str = "this job") -> None:
        """Raise :class:`~polyface.errors.BudgetExceeded` when the estimate is over ``budget_usd``."""
        if budget_usd is not None and self.total_usd > budget_usd:
            raise BudgetExceeded(self.total_usd, budget_usd, what)


class FineTuneJobInfo(JobSnapshot):
    """A snapshot of a fine-tuning job. Build it from a vendor's status word: it is normalised for you."""

    @staticmethod
    def status_normalizer(raw: str | None) -> str:
        return normalize_fine_tune_status(raw)

    terminal_statuses = FINE_TUNE_TERMINAL_STATUSES
    success_status = "succeeded"

    id: str
    provider: str
    modality: FineTuneModality = "text"
    base_model: str | None = None
    status: FineTuneStatus
    raw_status: str | None = None
    """The vendor's status exactly as sent (``status`` is its normalised form)."""
    result_model: str | None = None
    """The model to call once the job succeeded (a vendor model name, or a local path)."""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    estimated_finish: datetime | None = None
    progress: float | None = Field(default=None, ge=0.0, le=1.0)
    """Fraction done, 0.0 to 1.0, when the vendor reports it (or it can be derived from steps)."""
    training_file: str | None = None
    validation_file: str | None = None
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    events: list[FineTuneEvent] = Field(default_factory=list)
    checkpoints: list[FineTuneCheckpoint] = Field(default_factory=list)
    trained_tokens: int | None = None
    estimate: PriceEstimate | None = None
    cost: float | None = None
    """USD charged, when the vendor reports it."""
    error: str | None = None
    """Why the job failed, in the vendor's words."""
    error_code: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)

    @property
    def last_loss(self) -> float | None:
        """The most recent training loss among the events, if any reported one."""
        for event in reversed(self.events):
            if event.loss is not None:
                return event.loss
        return None
