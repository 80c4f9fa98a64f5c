"""``LocalAdapter().fine_tuning.text``: LoRA adapters for SmolLM2, trained on this machine.

``train(dataset=..., name="rex")`` checks the dataset now (every bad line listed), holds some rows out,
and trains in the background; ``job.wait(progress=True)`` shows the loss per step. The adapter becomes
the model ``smollm2-135m-instruct:rex``, which ``text.generate`` runs on either engine (the adapter is
saved in PEFT's format for transformers and as a GGUF LoRA for llama.cpp). Its metrics say whether it
learned: held-out loss before and after.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from polyface.errors import InvalidArgument
from polyface.providers.local.jobs import LocalFineTuneJob, LocalFineTuningBase, TrainingContext
from polyface.providers.local.store import LocalModel, check_name
from polyface.training.text_dataset import DatasetSource, TextDataset, load_text_dataset
from polyface.types.fine_tuning import FineTuneModality, Hyperparameters, LoRAConfig

BASE = "smollm2-135m-instruct"
MIN_ROWS_FOR_SPLIT = 5


class LocalTextTraining(LocalFineTuningBase):
    modality: ClassVar[FineTuneModality] = "text"

    def train(
        self,
        *,
        dataset: DatasetSource | TextDataset,
        base_model: str = BASE,
        name: str | None = None,
        suffix: str | None = None,
        validation_dataset: DatasetSource | TextDataset | None = None,
        validation_split: float = 0.1,
        system: str | None = None,
        n_epochs: int = 3,
        batch_size: int = 4,
        learning_rate: float = 1e-3,
        lora: LoRAConfig | None = None,
        max_length: int = 384,
        seed: int = 0,
        budget_usd: float | None = None,
        **options: Any,
    ) -> LocalFineTuneJob:
        """Train a LoRA adapter on ``dataset`` (JSONL/JSON/CSV path or rows: conversations,
        prompt/completion, text, or persona dialogue rows). Returns the job at once."""
        if options:
            raise InvalidArgument(
                f"unknown option(s) for local text training: {', '.join(sorted(options))}; it takes "
                "dataset, base_model, name, validation_dataset, validation_split, system, n_epochs, "
                "batch_size, learning_rate, lora, max_length, seed, budget_usd."
            )
        if base_model != BASE:
            raise InvalidArgument(
                f"the local provider trains adapters on {BASE} (got base_model={base_model!r}); to refine an "
                "adapter, train a new one on the combined dataset."
            )
        self.config.store.get(base_model, modality="text")
        base = base_model.split(":", 1)[0]
        model_name = check_name(name or suffix or "custom")
        for label, value, low in (
            ("n_epochs", n_epochs, 1),
            ("batch_size", batch_size, 1),
            ("max_length", max_length, 16),
        ):
            if not isinstance(value, int) or value < low:
                raise InvalidArgument(f"{label} must be an integer >= {low} (got {value!r}).")
        if not 0 < learning_rate < 1:
            raise InvalidArgument(f"learning_rate must be between 0 and 1 (got {learning_rate}).")
        data = load_text_dataset(dataset, system=system, method="sft")
        rows = list(data.rows)
        if validation_dataset is not None:
            held = list(load_text_dataset(validation_dataset, system=system, method="sft").rows)
            train_rows = rows
        else:
            if not 0 < validation_split < 1:
                raise InvalidArgument(f"validation_split must be between 0 and 1 (got {validation_split}).")
            if len(rows) < MIN_ROWS_FOR_SPLIT:
                raise InvalidArgument(
                    f"{data.source} has {len(rows)} example(s); training holds some out to measure "
                    f"it, so give at least {MIN_ROWS_FOR_SPLIT}, or pass validation_dataset=."
                )
            shuffled = rows[:]
            random.Random(seed).shuffle(shuffled)
            n_held = max(1, round(len(rows) * validation_split))
            held, train_rows = shuffled[:n_held], shuffled[n_held:]
        lora = lora or LoRAConfig(r=16, alpha=32, dropout=0.05)
        from polyface.providers.local.llm.lora import LoraSettings

        settings = LoraSettings(
            r=lora.r,
            alpha=lora.alpha,
            dropout=lora.dropout,
            target_modules=lora.trainable_modules
            if isinstance(lora.trainable_modules, list) or lora.trainable_modules == "all-linear"
            else [m.strip() for m in lora.trainable_modules.split(",")],
            n_epochs=n_epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            max_length=max_length,
            seed=seed,
        )
        hyper = Hyperparameters(
            n_epochs=n_epochs, batch_size=batch_size, learning_rate=learning_rate, lora=lora, seed=seed
        )
        config = self.config

        def trainer(ctx: TrainingContext) -> LocalModel:
            from polyface.providers.local.llm import gguf_lora
            from polyface.providers.local.llm.lora import train_lora
            from polyface.providers.local.llm.transformers_engine import load_base
            from polyface.providers.local.runtime import torch_threads

            torch_threads(config.threads)
            ctx.event(f"loading {base} for training ({len(train_rows)} examples, {len(held)} held out)")
            model, tokenizer = load_base(config.cache_dir, config.dtype, trainable=True)
            result = train_lora(
                model,
                tokenizer,
                train_rows,
                held,
                settings,
                ctx.staging / "adapter",
                lambda message, **f: ctx.event(message, **f),
                ctx.check_cancelled,
            )
            ctx.event("writing the adapter as GGUF for llama.cpp")
            gguf_lora.convert(
                ctx.staging / "adapter",
                ctx.staging / "adapter.gguf",
                n_head=result.n_head,
                n_head_kv=result.n_head_kv,
            )
            return LocalModel(
                id=f"{base}:{model_name}",
                modality="text",
                kind="lora",
                base_model=base_model,
                description=f"LoRA adapter on {base} trained on {data.source}",
                metrics={
                    "eval_loss_before": result.eval_loss_before,
                    "eval_loss_after": result.eval_loss_after,
                    "train_loss_first": result.train_losses[0] if result.train_losses else float("nan"),
                    "train_loss_last": result.train_losses[-1] if result.train_losses else float("nan"),
                    "seconds_per_step": result.seconds_per_step,
                    "steps": float(result.steps),
                    "train_examples": float(len(train_rows)),
                    "eval_examples": float(len(held)),
                },
                params={
                    "context_length": 8192,
                    "lora": lora.model_dump(),
                    "n_epochs": n_epochs,
                    "batch_size": batch_size,
                    "learning_rate": learning_rate,
                    "dataset": data.source,
                },
            )

        return self._start(
            base_model=base_model,
            trainer=trainer,
            hyperparameters=hyper,
            training_file=data.source,
            budget_usd=budget_usd,
            name=model_name,
        )
