"""Together text fine-tuning (the seed's ``trainLoRA``): validate, upload, price, train, follow, download.

``train()`` runs, in this order, and stops at the first failure:

1. the dataset is read, converted to Together's JSONL and validated locally (:mod:`polyface.training`);
   a bad dataset raises :class:`~polyface.errors.DatasetError` listing every bad line, and nothing is sent;
2. the file is uploaded (``adapter.files``; an identical earlier upload is reused, not sent again);
3. ``POST /fine-tunes/estimate-price`` prices the job. Together's estimate needs the ``training_file`` id,
   so the upload must come first; uploading costs nothing. Over ``budget_usd`` raises
   :class:`~polyface.errors.BudgetExceeded` and no job is created;
4. ``POST /fine-tunes`` creates the job (never retried once it may have reached Together).

The job handle (:class:`TogetherFineTuneJob`) polls, shows progress, cancels, lists events and checkpoints,
downloads the weights, and names the model to call with ``adapter.text.generate(model=job.result_model)``.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from polyface.errors import InvalidArgument, ProviderError
from polyface.providers._base.config import ProviderConfig
from polyface.providers._base.download import (
    CHUNK,
    adownload_url,
    awrite_atomically,
    download_url,
    write_atomically,
)
from polyface.providers._base.fine_tune_job import FineTuneJobHandle
from polyface.providers._base.secrets import register as register_secret
from polyface.training.text_dataset import DatasetSource, TextDataset, load_text_dataset
from polyface.types.fine_tuning import (
    FineTuneCheckpoint,
    FineTuneEvent,
    FineTuneJobInfo,
    Hyperparameters,
    LoRAConfig,
    PriceEstimate,
)

if TYPE_CHECKING:
    from polyface.providers._base.uploads import UploadProgress
    from polyface.providers.together.files import TogetherFile, TogetherFiles

PROVIDER = "together"
CheckpointKind = Literal["adapter", "merged"]

#: Request fields of POST /fine-tunes that ``train(**options)`` passes through as given.
PASSTHROUGH_OPTIONS: frozenset[str] = frozenset(
    {
        "packing",
        "max_seq_length",
        "n_checkpoints",
        "n_evals",
        "lr_scheduler",
        "warmup_ratio",
        "max_grad_norm",
        "weight_decay",
        "wandb_base_url",
        "wandb_entity",
        "multimodal_params",
        "from_checkpoint",
        "from_hf_model",
        "hf_model_revision",
        "hf_api_token",
        "hf_output_repo_name",
    }
)
#: Of the DPO method's settings, those ``train(**options)`` accepts.
DPO_OPTIONS: frozenset[str] = frozenset(
    {"rpo_alpha", "dpo_normalize_logratios_by_length", "dpo_reference_free", "simpo_gamma"}
)
ESTIMATE_FIELDS = (
    "training_file",
    "validation_file",
    "model",
    "n_epochs",
    "n_evals",
    "training_method",
    "training_type",
    "from_checkpoint",
)
_LOSS = re.compile(r"\bloss[\s:=]+(-?\d+(?:\.\d+)?(?:e-?\d+)?)", re.IGNORECASE)
_STEP = re.compile(r"\bstep\s+(\d+)(?:\s*/\s*(\d+))?", re.IGNORECASE)


# ---- requests (pure) ----------------------------------------------------------------------------------


def build_training_type(
    lora: bool, r: int, alpha: int | float | None, dropout: float, trainable_modules: str | builtins.list[str]
) -> dict[str, Any]:
    """Together's ``training_type``: ``{"type": "Full"}`` or the LoRA settings."""
    if not lora:
        return {"type": "Full"}
    alpha = 2 * r if alpha is None else alpha
    config = LoRAConfig(r=r, alpha=alpha, dropout=dropout, trainable_modules=trainable_modules)
    if float(config.alpha) != int(config.alpha):
        raise InvalidArgument(f"Together takes a whole-number lora_alpha (got {alpha}).")
    modules = config.trainable_modules
    return {
        "type": "Lora",
        "lora_r": config.r,
        "lora_alpha": int(config.alpha),
        "lora_dropout": config.dropout,
        "lora_trainable_modules": modules if isinstance(modules, str) else ",".join(modules),
    }


def build_training_method(
    method: str,
    train_on_inputs: bool | Literal["auto"],
    dpo_beta: float | None,
    dpo_options: Mapping[str, Any],
) -> dict[str, Any]:
    """Together's ``training_method``: SFT needs ``train_on_inputs``; DPO takes its beta and friends."""
    if method == "sft":
        if dpo_beta is not None or dpo_options:
            raise InvalidArgument("dpo_beta and the other DPO settings only apply to method='dpo'.")
        return {"method": "sft", "train_on_inputs": train_on_inputs}
    if method == "dpo":
        body: dict[str, Any] = {"method": "dpo"}
        if dpo_beta is not None:
            body["dpo_beta"] = dpo_beta
        body.update(dpo_options)
        return body
    raise InvalidArgument(f"method must be 'sft' or 'dpo' (got {method!r}).")


def build_fine_tune_request(
    *,
    training_file: str,
    model: str,
    training_type: dict[str, Any],
    training_method: dict[str, Any],
    validation_file: str | None = None,
    n_epochs: int | None = None,
    learning_rate: float | None = None,
    batch_size: int | Literal["max"] | None = None,
    suffix: str | None = None,
    seed: int | None = None,
    wandb_api_key: str | None = None,
    wandb_project_name: str | None = None,
    wandb_name: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of ``POST /fine-tunes`` (only what was set; Together fills in its defaults)."""
    if not model:
        raise InvalidArgument(
            "base_model is required, e.g. 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference'."
        )
    if n_epochs is not None and (not isinstance(n_epochs, int) or n_epochs < 1):
        raise InvalidArgument(f"n_epochs must be a whole number >= 1 (got {n_epochs!r}).")
    if learning_rate is not None and not learning_rate > 0:
        raise InvalidArgument(f"learning_rate must be > 0 (got {learning_rate!r}).")
    if batch_size is not None and batch_size != "max" and (not isinstance(batch_size, int) or batch_size < 1):
        raise InvalidArgument(f"batch_size must be a whole number >= 1 or 'max' (got {batch_size!r}).")
    if suffix is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", suffix):
        raise InvalidArgument(f"suffix may hold letters, digits, '.', '_' and '-' only (got {suffix!r}).")
    extra = dict(options or {})
    unknown = set(extra) - PASSTHROUGH_OPTIONS
    if unknown:
        known = ", ".join(sorted(PASSTHROUGH_OPTIONS))
        raise InvalidArgument(
            f"Together fine-tuning does not take {', '.join(sorted(unknown))}; it takes {known}."
        )
    if extra.get("n_evals") and validation_file is None:
        raise InvalidArgument("n_evals needs a validation_dataset to evaluate on.")
    body: dict[str, Any] = {
        "training_file": training_file,
        "model": model,
        "training_type": training_type,
        "training_method": training_method,
    }
    optional = {
        "validation_file": validation_file,
        "n_epochs": n_epochs,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
        "suffix": suffix,
        "random_seed": seed,
        "wandb_api_key": wandb_api_key,
        "wandb_project_name": wandb_project_name,
        "wandb_name": wandb_name,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    body.update({key: value for key, value in extra.items() if value is not None})
    for key in SECRET_FIELDS:
        if isinstance(body.get(key), str):
            register_secret(body[key])  # scrubbed from any log line or error that echoes the request
    return body


SECRET_FIELDS = ("wandb_api_key", "hf_api_token")


def build_estimate_request(create_body: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``POST /fine-tunes/estimate-price`` for a job about to be created."""
    return {key: create_body[key] for key in ESTIMATE_FIELDS if create_body.get(key) is not None}


# ---- responses (pure) -----------------------------------------------------------------------------------


def parse_estimate(data: Any) -> PriceEstimate:
    data = data if isinstance(data, dict) else {}
    train = data.get("estimated_train_token_count")
    evals = data.get("estimated_eval_token_count")
    return PriceEstimate(
        provider=PROVIDER,
        total_usd=float(data.get("estimated_total_price") or 0.0),
        train_tokens=int(train) if train is not None else None,
        eval_tokens=int(evals) if evals is not None else None,
        allowed_to_proceed=data.get("allowed_to_proceed"),
        user_limit_usd=data.get("user_limit"),
        exact=True,
        note="priced by Together (POST /fine-tunes/estimate-price)",
    )


def parse_event(data: Mapping[str, Any]) -> FineTuneEvent:
    """One Together event; the step comes from ``step``/``total_steps``, a loss from the message."""
    message = str(data.get("message") or "")
    step = data.get("step") or None
    total = data.get("total_steps") or None
    found = _STEP.search(message)
    if step is None and found:
        step = int(found[1])
    if total is None and found and found[2]:
        total = int(found[2])
    loss = _LOSS.search(message)
    checkpoint = data.get("checkpoint_path") or data.get("model_path") or None
    details = {k: data[k] for k in ("param_count", "token_count", "wandb_url", "hash") if data.get(k)}
    return FineTuneEvent(
        time=data.get("created_at") or None,
        level=data.get("level"),
        message=message,
        type=data.get("type"),
        step=step,
        total_steps=total,
        loss=float(loss[1]) if loss else None,
        checkpoint=checkpoint,
        data=details,
    )


def parse_checkpoint(data: Mapping[str, Any]) -> FineTuneCheckpoint:
    return FineTuneCheckpoint(
        id=str(data["path"]) if data.get("path") else None,
        step=data.get("step"),
        path=data.get("path"),
        type=data.get("checkpoint_type"),
        created_at=data.get("created_at") or None,
    )


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _hyperparameters(data: Mapping[str, Any]) -> Hyperparameters:
    raw_method, raw_kind = data.get("training_method"), data.get("training_type")
    method: dict[str, Any] = raw_method if isinstance(raw_method, dict) else {}
    kind: dict[str, Any] = raw_kind if isinstance(raw_kind, dict) else {}
    lora = None
    if kind.get("type") == "Lora":
        lora = LoRAConfig(
            r=kind.get("lora_r") or 8,
            alpha=kind.get("lora_alpha") or 16,
            dropout=kind.get("lora_dropout") or 0.0,
            trainable_modules=kind.get("lora_trainable_modules") or "all-linear",
        )
    batch = data.get("batch_size")
    return Hyperparameters(
        method="dpo" if method.get("method") == "dpo" else "sft",
        n_epochs=data.get("n_epochs") or None,
        batch_size=batch if (isinstance(batch, int) and batch > 0) or batch == "max" else None,
        learning_rate=data.get("learning_rate") or None,
        warmup_ratio=data.get("warmup_ratio"),
        weight_decay=data.get("weight_decay"),
        max_grad_norm=data.get("max_grad_norm"),
        lora=lora,
        n_checkpoints=data.get("n_checkpoints"),
        n_evals=data.get("n_evals"),
        train_on_inputs=method.get("train_on_inputs"),
        dpo_beta=method.get("dpo_beta"),
        seed=data.get("random_seed"),
    )


def parse_job(data: Any, estimate: PriceEstimate | None = None) -> FineTuneJobInfo:
    """A Together job (``FinetuneResponse`` or its truncated form) as a :class:`FineTuneJobInfo`."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise ProviderError(
            "Together AI answered a fine-tuning request without a job id", provider="Together AI"
        )
    events = [parse_event(e) for e in data.get("events") or () if isinstance(e, dict)]
    status = data.get("status")
    info = FineTuneJobInfo.model_validate(
        {
            "id": data["id"],
            "provider": PROVIDER,
            "modality": "text",
            "base_model": data.get("model"),
            "status": status,
            "created_at": _time(data.get("created_at")),
            "updated_at": _time(data.get("updated_at")),
            "started_at": _time(data.get("started_at")),
            "training_file": data.get("training_file"),
            "validation_file": data.get("validation_file"),
            "hyperparameters": _hyperparameters(data),
            "events": events,
            "trained_tokens": data.get("token_count") or None,
            "estimate": estimate,
            "raw": data,
        }
    )
    updates: dict[str, Any] = {"progress": _progress(info)}
    if info.succeeded:
        updates["result_model"] = data.get("model_output_name") or data.get("output_name")
        updates["finished_at"] = info.updated_at
    if info.status == "failed":
        errors = [e.message for e in events if e.level == "error" or e.type == "job_error"]
        updates["error"] = errors[-1] if errors else f"the job ended with status {status!r}"
        updates["error_code"] = status
    if info.status == "cancelled":
        updates["finished_at"] = info.updated_at
    return info.model_copy(update=updates)


def _progress(info: FineTuneJobInfo) -> float | None:
    if info.status == "succeeded":
        return 1.0
    for event in reversed(info.events):
        if event.step is not None and event.total_steps:
            return max(0.0, min(1.0, event.step / event.total_steps))
    return None


def _check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not job_id or "/" in job_id:
        raise InvalidArgument(f"a Together fine-tune id looks like 'ft-...' (got {job_id!r}).")
    return job_id


# ---- the job handle -------------------------------------------------------------------------------------


class TogetherFineTuneJob(FineTuneJobHandle):
    """A Together fine-tuning job. ``wait()``/``async_wait()`` poll it; the rest have ``a``-prefixed twins.

    Status, progress, events, checkpoints and cancel come from :class:`FineTuneJobHandle`; Together adds the
    weight download and the output name known from the start."""

    def __init__(
        self,
        owner: TogetherTextFineTuning,
        job_id: str,
        info: FineTuneJobInfo | None = None,
        *,
        estimate: PriceEstimate | None = None,
        training_file: TogetherFile | None = None,
    ) -> None:
        super().__init__(PROVIDER, owner, job_id, info, estimate=estimate)
        self._together = owner
        self.training_file = training_file
        """The uploaded training file (when this handle started the job)."""

    @property
    def output_name(self) -> str | None:
        """The name Together gives the model from the start (usable only once the job completed)."""
        name = self._info().raw.get("model_output_name")
        return str(name) if name else None

    def download(self, path: str | os.PathLike[str], *, checkpoint: CheckpointKind = "merged") -> Path:
        """Save the trained weights (a ``.tar.zst`` archive) to ``path`` (a file, or a folder to put it in).
        ``checkpoint="adapter"`` gets only the LoRA adapter, ``"merged"`` the full merged model."""
        return self._together.download(self.id, path, checkpoint=checkpoint)

    async def adownload(self, path: str | os.PathLike[str], *, checkpoint: CheckpointKind = "merged") -> Path:
        return await self._together.adownload(self.id, path, checkpoint=checkpoint)


# ---- the capability ----------------------------------------------------------------------------------------


class TogetherTextFineTuning:
    """``adapter.fine_tuning.text``: LoRA or full fine-tuning of a language model, SFT or DPO."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    @property
    def files(self) -> TogetherFiles:
        from polyface.providers.together.files import TogetherFiles

        files: TogetherFiles | None = getattr(self, "_files", None)
        if files is None:
            files = self._files = TogetherFiles(self.config)
        return files

    # ---- preparing a job (pure apart from reading the dataset) -------------------------------------------
    @staticmethod
    def _datasets(
        dataset: DatasetSource | TextDataset,
        validation_dataset: DatasetSource | TextDataset | None,
        method: str,
        system: str | None,
    ) -> tuple[TextDataset, TextDataset | None]:
        if method not in ("sft", "dpo"):
            raise InvalidArgument(f"method must be 'sft' or 'dpo' (got {method!r}).")
        train = load_text_dataset(dataset, system=system, method=method)
        valid = None
        if validation_dataset is not None:
            valid = load_text_dataset(validation_dataset, system=system, method=method)
            if valid.format != train.format:
                raise InvalidArgument(
                    f"the validation dataset holds {valid.format} rows but the training dataset "
                    f"{train.format} rows."
                )
        return train, valid

    def _plan(self, base_model: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Everything but the file ids, checked before anything is sent."""
        options = dict(settings.pop("options"))
        dpo_options = {k: options.pop(k) for k in list(options) if k in DPO_OPTIONS}
        training_type = build_training_type(
            settings["lora"],
            settings["lora_r"],
            settings["lora_alpha"],
            settings["lora_dropout"],
            settings["lora_trainable_modules"],
        )
        training_method = build_training_method(
            settings["method"], settings["train_on_inputs"], settings["dpo_beta"], dpo_options
        )
        fields = {
            "model": base_model,
            "training_type": training_type,
            "training_method": training_method,
            "n_epochs": settings["n_epochs"],
            "learning_rate": settings["learning_rate"],
            "batch_size": settings["batch_size"],
            "suffix": settings["suffix"],
            "seed": settings["seed"],
            "wandb_api_key": settings["wandb_api_key"],
            "wandb_project_name": settings["wandb_project_name"],
            "wandb_name": settings["wandb_name"],
            "options": options,
        }
        # Validate now (with placeholder ids) so that a bad setting fails before the upload.
        build_fine_tune_request(
            training_file="file-pending",
            validation_file="file-pending" if settings["has_validation"] else None,
            **fields,
        )
        return fields

    @staticmethod
    def _settings(local: dict[str, Any], has_validation: bool) -> dict[str, Any]:
        keys = (
            "method", "lora", "lora_r", "lora_alpha", "lora_dropout", "lora_trainable_modules", "n_epochs",
            "learning_rate", "batch_size", "suffix", "train_on_inputs", "dpo_beta", "seed", "wandb_api_key",
            "wandb_project_name", "wandb_name", "options",
        )  # fmt: skip
        settings = {key: local[key] for key in keys}
        settings["has_validation"] = has_validation
        return settings

    @staticmethod
    def _dataset_name(data: TextDataset, role: str, content: bytes) -> str:
        """``<source stem>-<role>-<sha256[:16]>.jsonl``: the same rows always get the same name, so an
        identical earlier upload is found and reused (Together answers 409 for a taken name)."""
        from polyface.providers.together.files import upload_name

        stem = Path(data.source).stem if data.source != "<rows>" else "polyface"
        return upload_name(f"{stem or 'polyface'}-{role}.jsonl", hashlib.sha256(content).hexdigest(), "jsonl")

    # ---- train ---------------------------------------------------------------------------------------
    def train(
        self,
        dataset: DatasetSource | TextDataset,
        base_model: str,
        *,
        method: Literal["sft", "dpo"] = "sft",
        lora: bool = True,
        lora_r: int = 8,
        lora_alpha: int | None = None,
        lora_dropout: float = 0.0,
        lora_trainable_modules: str | builtins.list[str] = "all-linear",
        n_epochs: int | None = None,
        learning_rate: float | None = None,
        batch_size: int | Literal["max"] | None = None,
        suffix: str | None = None,
        validation_dataset: DatasetSource | TextDataset | None = None,
        system: str | None = None,
        train_on_inputs: bool | Literal["auto"] = "auto",
        dpo_beta: float | None = None,
        seed: int | None = None,
        budget_usd: float | None = None,
        wandb_api_key: str | None = None,
        wandb_project_name: str | None = None,
        wandb_name: str | None = None,
        upload_progress: bool | UploadProgress = False,
        **options: Any,
    ) -> TogetherFineTuneJob:
        """Fine-tune ``base_model`` on ``dataset`` (a .jsonl/.json/.csv path, rows, or a TextDataset).

        LoRA by default (``lora_r``, ``lora_alpha`` (default ``2 * lora_r``), ``lora_dropout``,
        ``lora_trainable_modules``); ``lora=False`` trains the full model. ``method="dpo"`` trains on
        preference rows. ``system`` is the system prompt given to persona dialogue rows
        (``{"user", "assistant"}`` or ``{"input", "output"}``). ``budget_usd`` caps Together's price estimate.
        Other Together settings (``n_checkpoints``, ``n_evals``, ``warmup_ratio``, ``lr_scheduler``,
        ``from_checkpoint``, ``dpo``'s ``rpo_alpha``...) pass through ``**options``.
        Returns at once with the job handle: ``job.wait(progress=True)`` follows it.
        """
        train, valid = self._datasets(dataset, validation_dataset, method, system)
        fields = self._plan(base_model, self._settings(locals(), valid is not None))
        content = train.to_jsonl()
        name = self._dataset_name(train, "train", content)
        training_file = self.files.upload(content, filename=name, progress=upload_progress)
        validation_file = None
        if valid is not None:
            content = valid.to_jsonl()
            name = self._dataset_name(valid, "validation", content)
            validation_file = self.files.upload(content, filename=name)
        body = build_fine_tune_request(
            training_file=training_file.id,
            validation_file=validation_file.id if validation_file else None,
            **fields,
        )
        estimate = self._estimate(body)
        estimate.check_budget(budget_usd, f"fine-tuning {base_model} on {train.source}")
        with self.config.telemetry.call("fine_tune", base_model) as call:
            data = self.config.http.request("POST", "/fine-tunes", json=body, idempotent=False).json()
            info = parse_job(data, estimate)
            call.finish(response_id=info.id, cost=estimate.total_usd)
        return TogetherFineTuneJob(self, info.id, info, estimate=estimate, training_file=training_file)

    async def atrain(
        self,
        dataset: DatasetSource | TextDataset,
        base_model: str,
        *,
        method: Literal["sft", "dpo"] = "sft",
        lora: bool = True,
        lora_r: int = 8,
        lora_alpha: int | None = None,
        lora_dropout: float = 0.0,
        lora_trainable_modules: str | builtins.list[str] = "all-linear",
        n_epochs: int | None = None,
        learning_rate: float | None = None,
        batch_size: int | Literal["max"] | None = None,
        suffix: str | None = None,
        validation_dataset: DatasetSource | TextDataset | None = None,
        system: str | None = None,
        train_on_inputs: bool | Literal["auto"] = "auto",
        dpo_beta: float | None = None,
        seed: int | None = None,
        budget_usd: float | None = None,
        wandb_api_key: str | None = None,
        wandb_project_name: str | None = None,
        wandb_name: str | None = None,
        upload_progress: bool | UploadProgress = False,
        **options: Any,
    ) -> TogetherFineTuneJob:
        """The async twin of :meth:`train`; follow the job with ``await job.async_wait()``."""
        train, valid = self._datasets(dataset, validation_dataset, method, system)
        fields = self._plan(base_model, self._settings(locals(), valid is not None))
        content = train.to_jsonl()
        name = self._dataset_name(train, "train", content)
        training_file = await self.files.aupload(content, filename=name, progress=upload_progress)
        validation_file = None
        if valid is not None:
            content = valid.to_jsonl()
            name = self._dataset_name(valid, "validation", content)
            validation_file = await self.files.aupload(content, filename=name)
        body = build_fine_tune_request(
            training_file=training_file.id,
            validation_file=validation_file.id if validation_file else None,
            **fields,
        )
        estimate = await self._aestimate(body)
        estimate.check_budget(budget_usd, f"fine-tuning {base_model} on {train.source}")
        with self.config.telemetry.call("fine_tune", base_model) as call:
            response = await self.config.http.arequest("POST", "/fine-tunes", json=body, idempotent=False)
            info = parse_job(response.json(), estimate)
            call.finish(response_id=info.id, cost=estimate.total_usd)
        return TogetherFineTuneJob(self, info.id, info, estimate=estimate, training_file=training_file)

    # ---- price -----------------------------------------------------------------------------------------
    def _estimate(self, body: Mapping[str, Any]) -> PriceEstimate:
        data = self.config.http.request(
            "POST", "/fine-tunes/estimate-price", json=build_estimate_request(body)
        )
        return self._checked(parse_estimate(data.json()))

    async def _aestimate(self, body: Mapping[str, Any]) -> PriceEstimate:
        data = await self.config.http.arequest(
            "POST", "/fine-tunes/estimate-price", json=build_estimate_request(body)
        )
        return self._checked(parse_estimate(data.json()))

    def _checked(self, estimate: PriceEstimate) -> PriceEstimate:
        if estimate.allowed_to_proceed is False:
            self.config.telemetry.log.warning(
                "Together says this fine-tune ($%.2f) is over the account's limit ($%s); it may not start",
                estimate.total_usd,
                estimate.user_limit_usd,
            )
        return estimate

    # ---- jobs ---------------------------------------------------------------------------------------
    def _retrieve(self, job_id: str, estimate: PriceEstimate | None = None) -> FineTuneJobInfo:
        data = self.config.http.request("GET", f"/fine-tunes/{_check_job_id(job_id)}").json()
        return parse_job(data, estimate)

    async def _aretrieve(self, job_id: str, estimate: PriceEstimate | None = None) -> FineTuneJobInfo:
        data = (await self.config.http.arequest("GET", f"/fine-tunes/{_check_job_id(job_id)}")).json()
        return parse_job(data, estimate)

    def get(self, job_id: str) -> TogetherFineTuneJob:
        """Re-attach to a job started earlier (in this process or another): fetches its state now."""
        info = self._retrieve(job_id)
        return TogetherFineTuneJob(self, info.id, info)

    async def aget(self, job_id: str) -> TogetherFineTuneJob:
        info = await self._aretrieve(job_id)
        return TogetherFineTuneJob(self, info.id, info)

    def list(self, *, limit: int | None = None) -> builtins.list[FineTuneJobInfo]:
        """The account's fine-tuning jobs, newest first (at most ``limit``)."""
        data = self.config.http.request("GET", "/fine-tunes").json()
        return _newest(data, limit)

    async def alist(self, *, limit: int | None = None) -> builtins.list[FineTuneJobInfo]:
        data = (await self.config.http.arequest("GET", "/fine-tunes")).json()
        return _newest(data, limit)

    def cancel(self, job_id: str) -> FineTuneJobInfo:
        data = self.config.http.request("POST", f"/fine-tunes/{_check_job_id(job_id)}/cancel").json()
        return parse_job(data)

    async def acancel(self, job_id: str) -> FineTuneJobInfo:
        data = (await self.config.http.arequest("POST", f"/fine-tunes/{_check_job_id(job_id)}/cancel")).json()
        return parse_job(data)

    def _events(self, job_id: str) -> builtins.list[FineTuneEvent]:
        data = self.config.http.request("GET", f"/fine-tunes/{_check_job_id(job_id)}/events").json()
        return [parse_event(e) for e in data.get("data") or () if isinstance(e, dict)]

    async def _aevents(self, job_id: str) -> builtins.list[FineTuneEvent]:
        data = (await self.config.http.arequest("GET", f"/fine-tunes/{_check_job_id(job_id)}/events")).json()
        return [parse_event(e) for e in data.get("data") or () if isinstance(e, dict)]

    def _checkpoints(self, job_id: str) -> builtins.list[FineTuneCheckpoint]:
        data = self.config.http.request("GET", f"/fine-tunes/{_check_job_id(job_id)}/checkpoints").json()
        return [parse_checkpoint(c) for c in data.get("data") or () if isinstance(c, dict)]

    async def _acheckpoints(self, job_id: str) -> builtins.list[FineTuneCheckpoint]:
        response = await self.config.http.arequest("GET", f"/fine-tunes/{_check_job_id(job_id)}/checkpoints")
        return [parse_checkpoint(c) for c in response.json().get("data") or () if isinstance(c, dict)]

    # ---- download -------------------------------------------------------------------------------------
    @staticmethod
    def _download_target(job_id: str, path: str | os.PathLike[str], checkpoint: str) -> tuple[str, Path]:
        if checkpoint not in ("adapter", "merged"):
            raise InvalidArgument(f"checkpoint must be 'adapter' or 'merged' (got {checkpoint!r}).")
        query = urlencode({"ft_id": _check_job_id(job_id), "checkpoint": checkpoint})
        target = Path(path)
        if target.is_dir():
            target = target / f"{job_id}-{checkpoint}.tar.zst"
        target.parent.mkdir(parents=True, exist_ok=True)
        return f"/finetune/download?{query}", target

    def download(
        self, job_id: str, path: str | os.PathLike[str], *, checkpoint: CheckpointKind = "merged"
    ) -> Path:
        """Stream a completed job's weights to ``path`` (written to ``<path>.part`` first, then renamed).

        A redirect to storage is followed without the Together key."""
        url, target = self._download_target(job_id, path, checkpoint)
        provider = self.config.info.display_name
        with self.config.http.stream("GET", url, expect_redirect=True) as response:
            if response.is_redirect:
                location = response.headers.get("location", "")
                return download_url(location, target, provider=provider, what="the weights")
            return write_atomically(response.iter_bytes(CHUNK), target)

    async def adownload(
        self, job_id: str, path: str | os.PathLike[str], *, checkpoint: CheckpointKind = "merged"
    ) -> Path:
        url, target = self._download_target(job_id, path, checkpoint)
        provider = self.config.info.display_name
        async with self.config.http.astream("GET", url, expect_redirect=True) as response:
            if response.is_redirect:
                location = response.headers.get("location", "")
                return await adownload_url(location, target, provider=provider, what="the weights")
            return await awrite_atomically(response.aiter_bytes(CHUNK), target)


def _newest(data: Any, limit: int | None) -> builtins.list[FineTuneJobInfo]:
    if limit is not None and limit < 1:
        raise InvalidArgument(f"limit must be 1 or more (got {limit}).")
    items = data.get("data", []) if isinstance(data, dict) else data
    jobs = [parse_job(item) for item in items or () if isinstance(item, dict)]
    jobs.sort(key=lambda job: job.created_at.timestamp() if job.created_at else 0.0, reverse=True)
    return jobs[:limit] if limit is not None else jobs
