"""OpenAI text fine-tuning: validate, price, upload, train (supervised or DPO), follow, pause, resume.

``train()`` runs, in this order, and stops at the first failure:

1. the dataset is read, converted to OpenAI's JSONL and validated locally (:mod:`polyface.training`):
   chat models train on conversations (``{"messages": [...]}``; user messages may hold ``image_url`` parts
   for vision fine-tuning; ``prompt``/``completion`` rows are turned into conversations), ``babbage-002`` and
   ``davinci-002`` on ``prompt``/``completion`` rows, DPO on preference rows (``input``,
   ``preferred_output``, ``non_preferred_output``; polyface's ``prompt``/``chosen``/``rejected`` rows are
   converted). Every bad line raises :class:`~polyface.errors.DatasetError` at once, and nothing is sent;
2. the price is estimated locally: the dataset's tokens (about 4 characters a token, an image ~765) times the
   epochs (OpenAI's ``auto`` rule when not given) times the training price per 1M tokens in the shipped
   price table (``finetune_per_mtok``; override with ``pricing=``). Over ``budget_usd`` raises
   :class:`~polyface.errors.BudgetExceeded` before anything is uploaded. OpenAI has no estimate endpoint,
   so this is polyface's estimate (``exact=False``); OpenAI bills the ``trained_tokens`` the job reports;
3. the files are uploaded (purpose ``fine-tune``; an identical earlier upload is reused);
4. ``POST /fine_tuning/jobs`` creates the job with ``method: {type: supervised|dpo, <type>:
   {hyperparameters}}`` (never retried once it may have reached OpenAI).

The job handle (:class:`OpenAIFineTuneJob`) has the same interface as Together's (wait, events, checkpoints,
cancel, re-attach by id) plus ``pause()``/``resume()``.
"""

from __future__ import annotations

import builtins
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from polyface.errors import DatasetError, InvalidArgument, ProviderError
from polyface.providers._base.catalog import fine_tuned_base, price_for
from polyface.providers._base.config import ProviderConfig
from polyface.providers._base.fine_tune_job import FineTuneJobHandle
from polyface.training.text_dataset import (
    DatasetSource,
    TextDataset,
    read_rows,
    row_tokens,
    validate_rows,
)
from polyface.types.fine_tuning import (
    FineTuneCheckpoint,
    FineTuneEvent,
    FineTuneJobInfo,
    Hyperparameters,
    PriceEstimate,
)

if TYPE_CHECKING:
    from polyface.providers._base.uploads import UploadProgress
    from polyface.providers.openai.files import OpenAIFile, OpenAIFiles

PROVIDER = "openai"
MIN_EXAMPLES = 10
"""OpenAI refuses a training file with fewer examples."""
MAX_IMAGES_PER_EXAMPLE = 10
IMAGE_TOKENS = {"low": 85, "high": 765, "auto": 765}
"""Tokens an image is estimated at (a 1024x1024 image at high detail: 85 + 4 tiles x 170)."""
COMPLETION_MODELS = ("babbage-002", "davinci-002")
"""Base models trained on ``prompt``/``completion`` rows rather than conversations."""
PASSTHROUGH_OPTIONS: frozenset[str] = frozenset({"integrations", "metadata"})
PAGE = 100
_IMAGE_URL = re.compile(r"^(https?://\S+|data:image/(jpeg|jpg|png|webp);base64,[A-Za-z0-9+/=\s]+)$", re.I)
_PLACEHOLDER = "\x00polyface-vision-content:{}"
_LOSS = re.compile(r"\bloss[\s:=]+(-?\d+(?:\.\d+)?(?:e-?\d+)?)", re.IGNORECASE)


# ---- datasets (pure apart from reading the file) ----------------------------------------------------------


def _content_problems(content: list[Any], role: Any, where: str) -> list[tuple[str, str]]:
    """What is wrong with a list of content parts (text and, in user messages, image_url parts)."""
    problems: list[tuple[str, str]] = []
    if role != "user":
        problems.append((where, "only user messages may hold a list of content parts (images)"))
        return problems
    if not content:
        problems.append((where, "must not be an empty list"))
    images = 0
    for index, part in enumerate(content):
        at = f"{where}[{index}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str) or not text.strip():
                problems.append((f"{at}.text", "must be a non-empty string"))
        elif kind == "image_url":
            images += 1
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else None
            if not isinstance(url, str) or not _IMAGE_URL.match(url):
                problems.append(
                    (
                        f"{at}.image_url.url",
                        "must be an https URL or a data:image/(jpeg|png|webp);base64,... URL",
                    )
                )
            detail = image.get("detail") if isinstance(image, Mapping) else None
            if detail is not None and (not isinstance(detail, str) or detail not in IMAGE_TOKENS):
                problems.append((f"{at}.image_url.detail", "must be low, high or auto"))
        else:
            problems.append((at, "must be {type: text, text} or {type: image_url, image_url: {url}}"))
    if images > MAX_IMAGES_PER_EXAMPLE:
        problems.append((where, f"holds {images} images; OpenAI takes at most {MAX_IMAGES_PER_EXAMPLE}"))
    return problems


def _hide_parts(
    row: Any, number: int, problems: list[tuple[int, str, str]], hidden: dict[str, list[Any]]
) -> Any:
    """``row`` with every list ``content`` checked and swapped for a placeholder string (kept in ``hidden``),
    so that the shared text validation checks the rest of the row."""
    if not isinstance(row, Mapping):
        return row
    row = dict(row)
    places: list[tuple[str, Any]] = [("messages", row.get("messages"))]
    source = row.get("input")
    if isinstance(source, Mapping):
        row["input"] = source = dict(source)
        places.append(("input.messages", source.get("messages")))
    for where, messages in places:
        if not isinstance(messages, list):
            continue
        copied = []
        for index, message in enumerate(messages):
            if isinstance(message, Mapping) and isinstance(message.get("content"), list):
                at = f"{where}[{index}].content"
                problems.extend(
                    (number, f, m) for f, m in _content_problems(message["content"], message.get("role"), at)
                )
                key = _PLACEHOLDER.format(len(hidden))
                hidden[key] = message["content"]
                message = dict(message, content=key)
            copied.append(message)
        if where == "messages":
            row["messages"] = copied
        else:
            source["messages"] = copied
    return row


def _restore_parts(value: Any, hidden: Mapping[str, list[Any]]) -> Any:
    if isinstance(value, str):
        return hidden.get(value, value)
    if isinstance(value, list):
        return [_restore_parts(item, hidden) for item in value]
    if isinstance(value, Mapping):
        return {key: _restore_parts(item, hidden) for key, item in value.items()}
    return value


def _as_conversation(row: Mapping[str, Any], system: str | None) -> dict[str, Any]:
    messages = [
        {"role": "user", "content": row["prompt"]},
        {"role": "assistant", "content": row["completion"]},
    ]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    return {"messages": messages}


def is_completion_model(model: str) -> bool:
    from polyface.providers.openai.config import base_model

    name = base_model(model)
    return any(name == m or name.startswith(m + "-") for m in COMPLETION_MODELS)


def load_openai_dataset(
    source: DatasetSource | TextDataset,
    *,
    method: str,
    base_model: str,
    system: str | None = None,
    minimum: int = 0,
) -> TextDataset:
    """Read, convert and validate a dataset for an OpenAI fine-tune of ``base_model`` (see the module doc).
    Raises :class:`DatasetError` with every bad line (image parts included) or :class:`InvalidArgument`."""
    if method not in ("sft", "dpo"):
        raise InvalidArgument(f"method must be 'sft' or 'dpo' (got {method!r}).")
    if isinstance(source, TextDataset):
        name = source.source
        numbers = source.line_numbers or list(range(1, len(source.rows) + 1))
        raw: builtins.list[tuple[int, Any]] = list(zip(numbers, source.rows, strict=False))
    else:
        name, raw = read_rows(source)
    problems: list[tuple[int, str, str]] = []
    hidden: dict[str, list[Any]] = {}
    rows = [(number, _hide_parts(row, number, problems, hidden)) for number, row in raw]
    try:
        dataset = validate_rows(rows, source=name, system=system, method=method)
    except DatasetError as exc:
        raise DatasetError(name, sorted(problems + exc.problems, key=lambda p: p[0])) from None
    if problems:
        raise DatasetError(name, sorted(problems, key=lambda p: p[0]))
    dataset.rows = [_restore_parts(row, hidden) for row in dataset.rows]
    completion = is_completion_model(base_model)
    if method == "sft" and completion and dataset.format != "instruction":
        raise InvalidArgument(
            f"{base_model} trains on prompt/completion rows, but {name} holds {dataset.format} rows."
        )
    if method == "sft" and not completion:
        if dataset.format == "text":
            raise InvalidArgument(
                f"OpenAI chat models train on conversations ({{'messages': [...]}}), but {name} holds plain "
                "text rows; turn each into a user/assistant exchange."
            )
        if dataset.format == "instruction":
            dataset.rows = [_as_conversation(row, system) for row in dataset.rows]
            dataset.format = "conversation"
    if len(dataset) < minimum:
        raise DatasetError(
            name,
            [
                (
                    0,
                    "(file)",
                    f"OpenAI needs at least {minimum} training examples; this dataset has {len(dataset)}",
                )
            ],
        )
    return dataset


def openai_row_tokens(row: Mapping[str, Any]) -> int:
    """Rough tokens in one OpenAI row: text at ~4 characters a token, each image at :data:`IMAGE_TOKENS`."""
    images = 0

    def text_of(messages: Any) -> Any:
        nonlocal images
        if not isinstance(messages, list):
            return messages
        out = []
        for message in messages:
            content = message.get("content") if isinstance(message, Mapping) else None
            if isinstance(content, list):
                texts = []
                for part in content:
                    if isinstance(part, Mapping) and part.get("type") == "image_url":
                        image = part.get("image_url")
                        detail = image.get("detail") if isinstance(image, Mapping) else None
                        images += IMAGE_TOKENS.get(str(detail or "auto"), IMAGE_TOKENS["auto"])
                    elif isinstance(part, Mapping):
                        texts.append(str(part.get("text") or ""))
                message = dict(message, content=" ".join(texts))
            out.append(message)
        return out

    flat = dict(row)
    if "messages" in flat:
        flat["messages"] = text_of(flat["messages"])
    source = flat.get("input")
    if isinstance(source, Mapping):
        flat["input"] = dict(source, messages=text_of(source.get("messages")))
        images *= 2  # the prompt is read once per output
    return row_tokens(flat) + images


# ---- price (pure) ---------------------------------------------------------------------------------------


def auto_epochs(examples: int) -> int:
    """The epochs OpenAI picks for ``n_epochs="auto"``: 3, more for small datasets (aiming at ~100 examples
    seen, at most 25 epochs), fewer for large ones (aiming at ~25,000)."""
    if examples * 3 < 100:
        return min(25, math.ceil(100 / max(examples, 1)))
    if examples * 3 > 25_000:
        return max(1, 25_000 // examples)
    return 3


def estimate_price(
    dataset: TextDataset, base_model: str, n_epochs: int | None, price_per_mtok: float
) -> PriceEstimate:
    """What training ``dataset`` on ``base_model`` should cost: tokens x epochs x the training price."""
    per_epoch = sum(openai_row_tokens(row) for row in dataset.rows)
    epochs = n_epochs or auto_epochs(len(dataset))
    tokens = per_epoch * epochs
    shown = f"{tokens / 1e6:.3g}M" if tokens >= 100_000 else str(tokens)
    return PriceEstimate(
        provider=PROVIDER,
        total_usd=tokens * price_per_mtok / 1e6,
        train_tokens=tokens,
        exact=False,
        note=(
            f"~{shown} training tokens ({per_epoch} x {epochs} epoch(s){'' if n_epochs else ', auto'}) at "
            f"${price_per_mtok:.2f}/Mtok for {base_model}, polyface's estimate (OpenAI bills trained tokens)"
        ),
    )


# ---- requests (pure) ------------------------------------------------------------------------------------


def build_method(
    method: str,
    *,
    n_epochs: int | None = None,
    learning_rate_multiplier: float | None = None,
    batch_size: int | Literal["auto"] | None = None,
    beta: float | None = None,
) -> dict[str, Any]:
    """OpenAI's ``method``: ``{"type": "supervised"|"dpo", <type>: {"hyperparameters": {...}}}`` (only
    what was set; OpenAI picks the rest, "auto")."""
    if method not in ("sft", "dpo"):
        raise InvalidArgument(f"method must be 'sft' or 'dpo' (got {method!r}).")
    if n_epochs is not None and (
        not isinstance(n_epochs, int) or isinstance(n_epochs, bool) or not 1 <= n_epochs <= 50
    ):
        raise InvalidArgument(f"n_epochs must be a whole number from 1 to 50 (got {n_epochs!r}).")
    if learning_rate_multiplier is not None and not learning_rate_multiplier > 0:
        raise InvalidArgument(f"learning_rate_multiplier must be > 0 (got {learning_rate_multiplier!r}).")
    if (
        batch_size is not None
        and batch_size != "auto"
        and (not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= 256)
    ):
        raise InvalidArgument(
            f"batch_size must be a whole number from 1 to 256 or 'auto' (got {batch_size!r})."
        )
    if beta is not None:
        if method != "dpo":
            raise InvalidArgument("beta only applies to method='dpo'.")
        if not 0 < beta <= 2:
            raise InvalidArgument(f"beta must be in (0, 2] (got {beta!r}).")
    settings = {
        "n_epochs": n_epochs,
        "learning_rate_multiplier": learning_rate_multiplier,
        "batch_size": batch_size,
        "beta": beta,
    }
    hyperparameters = {key: value for key, value in settings.items() if value is not None}
    kind = "supervised" if method == "sft" else "dpo"
    return {"type": kind, kind: {"hyperparameters": hyperparameters} if hyperparameters else {}}


def build_job_request(
    *,
    training_file: str,
    model: str,
    method: dict[str, Any],
    validation_file: str | None = None,
    suffix: str | None = None,
    seed: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of ``POST /fine_tuning/jobs``."""
    if not model:
        raise InvalidArgument("base_model is required, e.g. 'gpt-4o-mini-2024-07-18'.")
    if suffix is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", suffix):
        raise InvalidArgument(f"suffix takes 1 to 64 letters, digits, '.', '_' and '-' (got {suffix!r}).")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise InvalidArgument(f"seed must be a whole number (got {seed!r}).")
    extra = dict(options or {})
    if "learning_rate" in extra:
        raise InvalidArgument(
            "OpenAI takes a relative learning_rate_multiplier, not an absolute learning_rate."
        )
    unknown = set(extra) - PASSTHROUGH_OPTIONS
    if unknown:
        raise InvalidArgument(
            f"OpenAI fine-tuning does not take {', '.join(sorted(unknown))}; besides the named settings it "
            f"takes {', '.join(sorted(PASSTHROUGH_OPTIONS))}."
        )
    body: dict[str, Any] = {"model": model, "training_file": training_file, "method": method}
    optional = {"validation_file": validation_file, "suffix": suffix, "seed": seed}
    body.update({key: value for key, value in optional.items() if value is not None})
    body.update({key: value for key, value in extra.items() if value is not None})
    return body


# ---- responses (pure) -----------------------------------------------------------------------------------


def _time(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_event(data: Mapping[str, Any]) -> FineTuneEvent:
    """One ``fine_tuning.job.event``; a ``metrics`` event's ``data`` fills step, loss and friends."""
    details = data.get("data") if isinstance(data.get("data"), dict) else {}
    assert isinstance(details, dict)
    message = str(data.get("message") or "")
    loss = _number(details.get("train_loss"))
    if loss is None and (found := _LOSS.search(message)):
        loss = float(found[1])
    step, total = details.get("step"), details.get("total_steps")
    known = {"step", "total_steps", "train_loss", "valid_loss", "full_valid_loss"}
    return FineTuneEvent(
        id=data.get("id"),
        time=_time(data.get("created_at")),
        level=data.get("level"),
        message=message,
        type=data.get("type"),
        step=int(step) if isinstance(step, int | float) else None,
        total_steps=int(total) if isinstance(total, int | float) else None,
        loss=loss,
        eval_loss=_number(details.get("full_valid_loss", details.get("valid_loss"))),
        data={key: value for key, value in details.items() if key not in known},
    )


def parse_checkpoint(data: Mapping[str, Any]) -> FineTuneCheckpoint:
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    assert isinstance(metrics, dict)
    return FineTuneCheckpoint(
        id=data.get("id"),
        step=data.get("step_number"),
        path=data.get("fine_tuned_model_checkpoint"),
        type="checkpoint",
        created_at=_time(data.get("created_at")),
        metrics={k: float(v) for k, v in metrics.items() if _number(v) is not None},
    )


def _hyperparameters(data: Mapping[str, Any]) -> Hyperparameters:
    method = data.get("method") if isinstance(data.get("method"), dict) else {}
    assert isinstance(method, dict)
    kind = method.get("type")
    section = method.get(kind) if isinstance(kind, str) and isinstance(method.get(kind), dict) else {}
    values = section.get("hyperparameters") if isinstance(section, dict) else None
    if not isinstance(values, dict):
        values = data.get("hyperparameters") if isinstance(data.get("hyperparameters"), dict) else {}
    assert isinstance(values, dict)
    epochs, batch = values.get("n_epochs"), values.get("batch_size")
    seed = data.get("seed")
    return Hyperparameters(
        method="dpo" if kind == "dpo" else "sft",
        n_epochs=epochs if isinstance(epochs, int) and epochs > 0 else None,
        batch_size=batch if (isinstance(batch, int) and batch > 0) or batch == "auto" else None,
        learning_rate_multiplier=_number(values.get("learning_rate_multiplier")) or None,
        dpo_beta=_number(values.get("beta")),
        seed=seed if isinstance(seed, int) else None,
        extra={
            k: v
            for k, v in values.items()
            if k not in ("n_epochs", "batch_size", "learning_rate_multiplier", "beta")
        },
    )


def progress_of(status: str, events: builtins.list[FineTuneEvent]) -> float | None:
    if status == "succeeded":
        return 1.0
    for event in reversed(events):
        if event.step is not None and event.total_steps:
            return max(0.0, min(1.0, event.step / event.total_steps))
    return None


def parse_job(
    data: Any,
    estimate: PriceEstimate | None = None,
    *,
    events: builtins.list[FineTuneEvent] | None = None,
    price_per_mtok: float | None = None,
) -> FineTuneJobInfo:
    """A ``fine_tuning.job`` as a :class:`FineTuneJobInfo` (``events``: those fetched so far, oldest first;
    ``price_per_mtok``: the training price, to put a ``cost`` on the ``trained_tokens`` once known)."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise ProviderError("OpenAI answered a fine-tuning request without a job id", provider="OpenAI")
    error = data.get("error") if isinstance(data.get("error"), dict) else None
    trained = data.get("trained_tokens")
    events = list(events or ())
    info = FineTuneJobInfo.model_validate(
        {
            "id": data["id"],
            "provider": PROVIDER,
            "modality": "text",
            "base_model": data.get("model"),
            "status": data.get("status"),
            "created_at": _time(data.get("created_at")),
            "finished_at": _time(data.get("finished_at")),
            "estimated_finish": _time(data.get("estimated_finish")),
            "training_file": data.get("training_file"),
            "validation_file": data.get("validation_file"),
            "hyperparameters": _hyperparameters(data),
            "events": events,
            "trained_tokens": trained if isinstance(trained, int) else None,
            "estimate": estimate,
            "error": str(error.get("message") or "") or None if error else None,
            "error_code": error.get("code") if error else None,
            "raw": data,
        }
    )
    updates: dict[str, Any] = {"progress": progress_of(info.status, events)}
    if info.succeeded:
        updates["result_model"] = data.get("fine_tuned_model")
    if info.status == "failed" and not info.error:
        errors = [e.message for e in events if e.level == "error"]
        updates["error"] = errors[-1] if errors else f"the job ended with status {data.get('status')!r}"
    if info.trained_tokens and price_per_mtok:
        updates["cost"] = info.trained_tokens * price_per_mtok / 1e6
    return info.model_copy(update=updates)


def _check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not job_id or "/" in job_id:
        raise InvalidArgument(f"an OpenAI fine-tuning job id looks like 'ftjob-...' (got {job_id!r}).")
    return job_id


def _page(data: Any) -> tuple[builtins.list[dict[str, Any]], bool]:
    if not isinstance(data, dict):
        return [], False
    items = [item for item in data.get("data") or () if isinstance(item, dict)]
    return items, bool(data.get("has_more")) and bool(items)


# ---- the job handle -------------------------------------------------------------------------------------


class OpenAIFineTuneJob(FineTuneJobHandle):
    """An OpenAI fine-tuning job. ``wait()``/``async_wait()`` poll it (fetching new events each time, so that
    ``info.events`` and ``info.progress`` follow the training); ``pause()``/``resume()`` hold and continue it.
    Every method has an ``a``-prefixed async twin."""

    poll_interval = 5.0
    max_poll_interval = 30.0

    def __init__(
        self,
        owner: OpenAITextFineTuning,
        job_id: str,
        info: FineTuneJobInfo | None = None,
        *,
        estimate: PriceEstimate | None = None,
        training_file: OpenAIFile | None = None,
    ) -> None:
        super().__init__(PROVIDER, owner, job_id, info, estimate=estimate)
        self._openai = owner
        self.training_file = training_file
        """The uploaded training file (when this handle started the job)."""
        self._log: builtins.list[FineTuneEvent] = []

    def _merge(self, info: FineTuneJobInfo, new: builtins.list[FineTuneEvent]) -> FineTuneJobInfo:
        self._log.extend(new)
        events = list(self._log)
        update: dict[str, Any] = {"events": events, "progress": progress_of(info.status, events)}
        if info.status == "failed" and not info.error:
            errors = [e.message for e in events if e.level == "error"]
            update["error"] = errors[-1] if errors else None
        return info.model_copy(update=update)

    def _fetch(self) -> FineTuneJobInfo:
        info = self._openai._retrieve(self.id, self.estimate)
        return self._merge(info, self._openai._new_events(self.id, {e.id for e in self._log}))

    async def _afetch(self) -> FineTuneJobInfo:
        info = await self._openai._aretrieve(self.id, self.estimate)
        return self._merge(info, await self._openai._anew_events(self.id, {e.id for e in self._log}))

    def pause(self) -> FineTuneJobInfo:
        """Hold a running job (``status == "paused"``); ``resume()`` continues it."""
        self.info = self._openai.pause(self.id)
        return self.info

    async def apause(self) -> FineTuneJobInfo:
        self.info = await self._openai.apause(self.id)
        return self.info

    def resume(self) -> FineTuneJobInfo:
        self.info = self._openai.resume(self.id)
        return self.info

    async def aresume(self) -> FineTuneJobInfo:
        self.info = await self._openai.aresume(self.id)
        return self.info


# ---- the capability ---------------------------------------------------------------------------------------


class OpenAITextFineTuning:
    """``adapter.fine_tuning.text``: supervised (images allowed) or DPO fine-tuning of OpenAI models."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    @property
    def files(self) -> OpenAIFiles:
        from polyface.providers.openai.files import OpenAIFiles

        files: OpenAIFiles | None = getattr(self, "_files", None)
        if files is None:
            files = self._files = OpenAIFiles(self.config)
        return files

    # ---- planning (no network) --------------------------------------------------------------------------
    def training_price(self, base_model: str) -> float | None:
        """USD per 1M training tokens for ``base_model`` (a user's ``pricing=`` first, then the shipped
        table; dated and ``ft:`` names find their family's entry); None when unknown."""
        catalog = self.config.catalog
        # training more on a fine-tuned model costs what training its base model does
        base = fine_tuned_base(base_model)
        for table in (catalog.overrides, catalog.price_table):
            price = price_for(table, base)
            if price is not None and price.finetune_per_mtok > 0:
                return price.finetune_per_mtok
        return None

    def estimate(
        self,
        dataset: DatasetSource | TextDataset,
        base_model: str,
        *,
        method: Literal["sft", "dpo"] = "sft",
        n_epochs: int | None = None,
        system: str | None = None,
    ) -> PriceEstimate:
        """What :meth:`train` would estimate, without training (the dataset is validated too)."""
        data = load_openai_dataset(dataset, method=method, base_model=base_model, system=system)
        price = self.training_price(base_model)
        if price is None:
            raise InvalidArgument(self._no_price(base_model))
        return estimate_price(data, base_model, n_epochs, price)

    @staticmethod
    def _no_price(base_model: str) -> str:
        return (
            f"polyface has no training price for {base_model!r}, so it cannot check a budget; pass "
            f"pricing={{{base_model!r}: Pricing(finetune_per_mtok=...)}} to OpenAIAdapter, or train without "
            "budget_usd."
        )

    def _plan(
        self,
        dataset: DatasetSource | TextDataset,
        validation_dataset: DatasetSource | TextDataset | None,
        base_model: str,
        settings: dict[str, Any],
    ) -> tuple[TextDataset, TextDataset | None, dict[str, Any], PriceEstimate | None]:
        """Everything checked and priced before anything is sent."""
        method, system = settings["method"], settings["system"]
        body_method = build_method(
            method,
            n_epochs=settings["n_epochs"],
            learning_rate_multiplier=settings["learning_rate_multiplier"],
            batch_size=settings["batch_size"],
            beta=settings["beta"],
        )
        fields = {
            "model": base_model,
            "method": body_method,
            "suffix": settings["suffix"],
            "seed": settings["seed"],
            "options": settings["options"],
        }
        build_job_request(  # validate now (placeholder ids) so that a bad setting fails before any upload
            training_file="file-pending",
            validation_file="file-pending" if validation_dataset is not None else None,
            **fields,
        )
        train = load_openai_dataset(
            dataset, method=method, base_model=base_model, system=system, minimum=MIN_EXAMPLES
        )
        valid = None
        if validation_dataset is not None:
            valid = load_openai_dataset(
                validation_dataset, method=method, base_model=base_model, system=system
            )
        price = self.training_price(base_model)
        estimate = (
            estimate_price(train, base_model, settings["n_epochs"], price) if price is not None else None
        )
        budget = settings["budget_usd"]
        if estimate is None and budget is not None:
            raise InvalidArgument(self._no_price(base_model))
        if estimate is not None:
            estimate.check_budget(budget, f"fine-tuning {base_model} on {train.source}")
        else:
            self.config.telemetry.log.warning(
                "no training price known for %s: the fine-tune's cost is not estimated", base_model
            )
        return train, valid, fields, estimate

    @staticmethod
    def _settings(local: dict[str, Any]) -> dict[str, Any]:
        keys = (
            "method", "n_epochs", "learning_rate_multiplier", "batch_size", "beta", "suffix", "system",
            "seed", "budget_usd", "options",
        )  # fmt: skip
        return {key: local[key] for key in keys}

    @staticmethod
    def _dataset_name(data: TextDataset, role: str) -> str:
        from pathlib import Path

        stem = Path(data.source).stem if data.source != "<rows>" else "polyface"
        return f"{stem or 'polyface'}-{role}.jsonl"

    # ---- train ----------------------------------------------------------------------------------------
    def train(
        self,
        dataset: DatasetSource | TextDataset,
        base_model: str,
        *,
        method: Literal["sft", "dpo"] = "sft",
        n_epochs: int | None = None,
        learning_rate_multiplier: float | None = None,
        batch_size: int | Literal["auto"] | None = None,
        beta: float | None = None,
        suffix: str | None = None,
        validation_dataset: DatasetSource | TextDataset | None = None,
        system: str | None = None,
        seed: int | None = None,
        budget_usd: float | None = None,
        upload_progress: bool | UploadProgress = False,
        **options: Any,
    ) -> OpenAIFineTuneJob:
        """Fine-tune ``base_model`` (e.g. ``"gpt-4o-mini-2024-07-18"``) on ``dataset`` (a .jsonl/.json/.csv
        path, rows, or a TextDataset).

        ``method="dpo"`` trains on preference rows (``beta`` sets DPO's beta). Unset hyperparameters are
        OpenAI's "auto". ``system`` is the system prompt given to persona dialogue rows. ``budget_usd`` caps
        polyface's estimate (raises :class:`BudgetExceeded` before anything is uploaded). ``integrations``
        and ``metadata`` pass through ``**options``. Returns at once with the job handle:
        ``job.wait(progress=True)`` follows it.
        """
        settings = self._settings({**locals(), "options": options})
        train, valid, fields, estimate = self._plan(dataset, validation_dataset, base_model, settings)
        training_file = self.files.upload(
            train.to_jsonl(), purpose="fine-tune", progress=upload_progress, **self._name(train, "train")
        )
        validation_file = None
        if valid is not None:
            validation_file = self.files.upload(
                valid.to_jsonl(), purpose="fine-tune", **self._name(valid, "validation")
            )
        body = build_job_request(
            training_file=training_file.id,
            validation_file=validation_file.id if validation_file else None,
            **fields,
        )
        with self.config.telemetry.call("fine_tune", base_model) as call:
            data = self.config.http.request("POST", "/fine_tuning/jobs", json=body, idempotent=False).json()
            info = parse_job(data, estimate)
            call.finish(response_id=info.id, cost=estimate.total_usd if estimate else None)
        return OpenAIFineTuneJob(self, info.id, info, estimate=estimate, training_file=training_file)

    async def atrain(
        self,
        dataset: DatasetSource | TextDataset,
        base_model: str,
        *,
        method: Literal["sft", "dpo"] = "sft",
        n_epochs: int | None = None,
        learning_rate_multiplier: float | None = None,
        batch_size: int | Literal["auto"] | None = None,
        beta: float | None = None,
        suffix: str | None = None,
        validation_dataset: DatasetSource | TextDataset | None = None,
        system: str | None = None,
        seed: int | None = None,
        budget_usd: float | None = None,
        upload_progress: bool | UploadProgress = False,
        **options: Any,
    ) -> OpenAIFineTuneJob:
        """The async twin of :meth:`train`; follow the job with ``await job.async_wait()``."""
        settings = self._settings({**locals(), "options": options})
        train, valid, fields, estimate = self._plan(dataset, validation_dataset, base_model, settings)
        training_file = await self.files.aupload(
            train.to_jsonl(), purpose="fine-tune", progress=upload_progress, **self._name(train, "train")
        )
        validation_file = None
        if valid is not None:
            validation_file = await self.files.aupload(
                valid.to_jsonl(), purpose="fine-tune", **self._name(valid, "validation")
            )
        body = build_job_request(
            training_file=training_file.id,
            validation_file=validation_file.id if validation_file else None,
            **fields,
        )
        with self.config.telemetry.call("fine_tune", base_model) as call:
            response = await self.config.http.arequest(
                "POST", "/fine_tuning/jobs", json=body, idempotent=False
            )
            info = parse_job(response.json(), estimate)
            call.finish(response_id=info.id, cost=estimate.total_usd if estimate else None)
        return OpenAIFineTuneJob(self, info.id, info, estimate=estimate, training_file=training_file)

    def _name(self, data: TextDataset, role: str) -> dict[str, Any]:
        """The upload's natural name: content addressing (``files.upload``) makes it unique per content."""
        import hashlib

        from polyface.providers._base.uploads import upload_name

        digest = hashlib.sha256(data.to_jsonl()).hexdigest()
        return {"filename": upload_name(self._dataset_name(data, role), digest, ".jsonl")}

    # ---- jobs -------------------------------------------------------------------------------------------
    def _price_of(self, data: Any) -> float | None:
        model = data.get("model") if isinstance(data, dict) else None
        return self.training_price(model) if isinstance(model, str) and model else None

    def _retrieve(self, job_id: str, estimate: PriceEstimate | None = None) -> FineTuneJobInfo:
        data = self.config.http.request("GET", f"/fine_tuning/jobs/{_check_job_id(job_id)}").json()
        return parse_job(data, estimate, price_per_mtok=self._price_of(data))

    async def _aretrieve(self, job_id: str, estimate: PriceEstimate | None = None) -> FineTuneJobInfo:
        data = (await self.config.http.arequest("GET", f"/fine_tuning/jobs/{_check_job_id(job_id)}")).json()
        return parse_job(data, estimate, price_per_mtok=self._price_of(data))

    def get(self, job_id: str) -> OpenAIFineTuneJob:
        """Re-attach to a job started earlier (in this process or another): fetches its state now."""
        job = OpenAIFineTuneJob(self, _check_job_id(job_id))
        job.refresh()
        return job

    async def aget(self, job_id: str) -> OpenAIFineTuneJob:
        job = OpenAIFineTuneJob(self, _check_job_id(job_id))
        await job.arefresh()
        return job

    def list(self, *, limit: int | None = None) -> builtins.list[FineTuneJobInfo]:
        """The account's fine-tuning jobs, newest first (at most ``limit``; OpenAI's pages are followed)."""
        if limit is not None and limit < 1:
            raise InvalidArgument(f"limit must be 1 or more (got {limit}).")
        jobs: builtins.list[FineTuneJobInfo] = []
        after: str | None = None
        while limit is None or len(jobs) < limit:
            params: dict[str, Any] = {"limit": min(PAGE, limit - len(jobs)) if limit else PAGE}
            if after:
                params["after"] = after
            items, more = _page(self.config.http.request("GET", "/fine_tuning/jobs", params=params).json())
            jobs.extend(parse_job(item) for item in items)
            if not more:
                break
            after = items[-1]["id"]
        return jobs[:limit] if limit else jobs

    async def alist(self, *, limit: int | None = None) -> builtins.list[FineTuneJobInfo]:
        if limit is not None and limit < 1:
            raise InvalidArgument(f"limit must be 1 or more (got {limit}).")
        jobs: builtins.list[FineTuneJobInfo] = []
        after: str | None = None
        while limit is None or len(jobs) < limit:
            params: dict[str, Any] = {"limit": min(PAGE, limit - len(jobs)) if limit else PAGE}
            if after:
                params["after"] = after
            response = await self.config.http.arequest("GET", "/fine_tuning/jobs", params=params)
            items, more = _page(response.json())
            jobs.extend(parse_job(item) for item in items)
            if not more:
                break
            after = items[-1]["id"]
        return jobs[:limit] if limit else jobs

    def _action(self, job_id: str, action: str) -> FineTuneJobInfo:
        data = self.config.http.request("POST", f"/fine_tuning/jobs/{_check_job_id(job_id)}/{action}").json()
        return parse_job(data)

    async def _aaction(self, job_id: str, action: str) -> FineTuneJobInfo:
        path = f"/fine_tuning/jobs/{_check_job_id(job_id)}/{action}"
        return parse_job((await self.config.http.arequest("POST", path)).json())

    def cancel(self, job_id: str) -> FineTuneJobInfo:
        """Stop a job for good (``status == "cancelled"``)."""
        return self._action(job_id, "cancel")

    async def acancel(self, job_id: str) -> FineTuneJobInfo:
        return await self._aaction(job_id, "cancel")

    def pause(self, job_id: str) -> FineTuneJobInfo:
        """Hold a running job; :meth:`resume` continues it."""
        return self._action(job_id, "pause")

    async def apause(self, job_id: str) -> FineTuneJobInfo:
        return await self._aaction(job_id, "pause")

    def resume(self, job_id: str) -> FineTuneJobInfo:
        return self._action(job_id, "resume")

    async def aresume(self, job_id: str) -> FineTuneJobInfo:
        return await self._aaction(job_id, "resume")

    # ---- events and checkpoints (OpenAI pages them newest first) ------------------------------------------
    def _new_events(self, job_id: str, known: set[str | None]) -> builtins.list[FineTuneEvent]:
        """Events not in ``known``, oldest first: pages are fetched newest first until a known one shows."""
        path = f"/fine_tuning/jobs/{_check_job_id(job_id)}/events"
        fresh: builtins.list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": PAGE}
        while True:
            items, more = _page(self.config.http.request("GET", path, params=params).json())
            new = [item for item in items if item.get("id") not in known]
            fresh.extend(new)
            if not more or len(new) < len(items):
                return [parse_event(item) for item in reversed(fresh)]
            params = {"limit": PAGE, "after": items[-1]["id"]}

    async def _anew_events(self, job_id: str, known: set[str | None]) -> builtins.list[FineTuneEvent]:
        path = f"/fine_tuning/jobs/{_check_job_id(job_id)}/events"
        fresh: builtins.list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": PAGE}
        while True:
            items, more = _page((await self.config.http.arequest("GET", path, params=params)).json())
            new = [item for item in items if item.get("id") not in known]
            fresh.extend(new)
            if not more or len(new) < len(items):
                return [parse_event(item) for item in reversed(fresh)]
            params = {"limit": PAGE, "after": items[-1]["id"]}

    def _events(self, job_id: str) -> builtins.list[FineTuneEvent]:
        return self._new_events(job_id, set())

    async def _aevents(self, job_id: str) -> builtins.list[FineTuneEvent]:
        return await self._anew_events(job_id, set())

    def _checkpoints(self, job_id: str) -> builtins.list[FineTuneCheckpoint]:
        path = f"/fine_tuning/jobs/{_check_job_id(job_id)}/checkpoints"
        found: builtins.list[FineTuneCheckpoint] = []
        params: dict[str, Any] = {"limit": PAGE}
        while True:
            items, more = _page(self.config.http.request("GET", path, params=params).json())
            found.extend(parse_checkpoint(item) for item in items)
            if not more:
                return found
            params = {"limit": PAGE, "after": items[-1]["id"]}

    async def _acheckpoints(self, job_id: str) -> builtins.list[FineTuneCheckpoint]:
        path = f"/fine_tuning/jobs/{_check_job_id(job_id)}/checkpoints"
        found: builtins.list[FineTuneCheckpoint] = []
        params: dict[str, Any] = {"limit": PAGE}
        while True:
            items, more = _page((await self.config.http.arequest("GET", path, params=params)).json())
            found.extend(parse_checkpoint(item) for item in items)
            if not more:
                return found
            params = {"limit": PAGE, "after": items[-1]["id"]}


__all__ = [
    "OpenAIFineTuneJob",
    "OpenAITextFineTuning",
    "auto_epochs",
    "build_job_request",
    "build_method",
    "estimate_price",
    "load_openai_dataset",
    "parse_event",
    "parse_job",
]
