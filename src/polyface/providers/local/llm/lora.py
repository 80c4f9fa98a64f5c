"""LoRA training of SmolLM2 with PEFT on the CPU: tokenise with loss on the assistant's turns only,
train with AdamW and a linear schedule, measure held-out loss before and after, report every step."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IGNORE = -100


@dataclass
class LoraSettings:
    r: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"
    n_epochs: int = 3
    batch_size: int = 4
    learning_rate: float = 1e-3
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_length: int = 384
    seed: int = 0


@dataclass
class LoraResult:
    eval_loss_before: float
    eval_loss_after: float
    train_losses: list[float] = field(default_factory=list)
    seconds_per_step: float = 0.0
    steps: int = 0
    n_head: int = 0
    n_head_kv: int = 0


def encode(tokenizer: Any, row: dict[str, Any], max_length: int) -> tuple[list[int], list[int]]:
    """(input ids, labels) for one dataset row; labels are ``IGNORE`` except on what the model should say."""
    if "messages" not in row:
        if "prompt" in row:
            row = {
                "messages": [
                    {"role": "user", "content": row["prompt"]},
                    {"role": "assistant", "content": row["completion"]},
                ]
            }
        else:
            ids = [*list(tokenizer(row["text"])["input_ids"]), tokenizer.eos_token_id]
            return ids[:max_length], ids[:max_length]
    messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]

    def ids_of(msgs: list[dict[str, Any]], generation_prompt: bool) -> list[int]:
        out = tokenizer.apply_chat_template(msgs, add_generation_prompt=generation_prompt, tokenize=True)
        if isinstance(out, dict) or hasattr(out, "input_ids"):
            out = out["input_ids"]
        return list(out)

    full = ids_of(messages, False)
    labels = [IGNORE] * len(full)
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(ids_of(messages[:i], True))
        end = len(ids_of(messages[: i + 1], False))
        labels[start:end] = full[start:end]
    return full[:max_length], labels[:max_length]


def _with_targets(
    examples: list[tuple[list[int], list[int]]], which: str
) -> list[tuple[list[int], list[int]]]:
    """The examples that still have something to learn after truncation (a long system prompt can push
    every assistant token past ``max_length``); none left is an error that says what to change."""
    kept = [e for e in examples if any(label != IGNORE for label in e[1][1:])]
    if not kept:
        raise ValueError(
            f"no {which} example keeps an assistant reply within max_length tokens: shorten the system "
            "prompt or raise max_length"
        )
    return kept


def _batches(
    examples: Sequence[tuple[list[int], list[int]]], size: int, pad: int, shuffle: random.Random | None
) -> list[Any]:
    import torch

    order = list(range(len(examples)))
    if shuffle is not None:
        shuffle.shuffle(order)
    out = []
    for i in range(0, len(order), size):
        chunk = [examples[j] for j in order[i : i + size]]
        width = max(len(ids) for ids, _ in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        labels = torch.full((len(chunk), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, (x, y) in enumerate(chunk):
            ids[row, : len(x)] = torch.tensor(x)
            labels[row, : len(y)] = torch.tensor(y)
            mask[row, : len(x)] = 1
        out.append((ids, labels, mask))
    return out


def _eval_loss(model: Any, batches: list[Any]) -> float:
    """Mean loss per target token over ``batches``."""
    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for ids, labels, mask in batches:
            n = int((labels[:, 1:] != IGNORE).sum())
            if n == 0:
                continue
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            total += float(loss) * n
            count += n
    model.train()
    return total / count if count else math.nan


def train_lora(
    model: Any,
    tokenizer: Any,
    train_rows: Sequence[dict[str, Any]],
    eval_rows: Sequence[dict[str, Any]],
    settings: LoraSettings,
    out_dir: Path,
    report: Callable[..., None],
    check_cancelled: Callable[[], None],
) -> LoraResult:
    """Train an adapter on ``model`` (float32, trainable) and save it (PEFT format) in ``out_dir``."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(settings.seed)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train = _with_targets([encode(tokenizer, r, settings.max_length) for r in train_rows], "training")
    held = _with_targets([encode(tokenizer, r, settings.max_length) for r in eval_rows], "held-out")
    peft_model = get_peft_model(
        model,
        LoraConfig(
            r=settings.r,
            lora_alpha=settings.alpha,
            lora_dropout=settings.dropout,
            target_modules=settings.target_modules,
            task_type="CAUSAL_LM",
        ),
    )
    eval_batches = _batches(held, settings.batch_size, pad, None)
    before = _eval_loss(peft_model, eval_batches)
    report(f"held-out loss before training {before:.4f}", eval_loss=before, step=0)
    steps_per_epoch = math.ceil(len(train) / settings.batch_size)
    total = steps_per_epoch * settings.n_epochs
    warmup = int(total * settings.warmup_ratio)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (s + 1) / max(1, warmup) if s < warmup else max(0.0, (total - s) / max(1, total - warmup)),
    )
    rng = random.Random(settings.seed)
    losses: list[float] = []
    step = 0
    step_time = 0.0
    peft_model.train()
    after = before
    for epoch in range(settings.n_epochs):
        for ids, labels, mask in _batches(train, settings.batch_size, pad, rng):
            check_cancelled()
            step_started = time.perf_counter()
            loss = peft_model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                raise RuntimeError(
                    f"the training loss became {losses[-1]} at step {step}: lower learning_rate and train "
                    "again"
                )
            step_time += time.perf_counter() - step_started
            report(
                f"step {step}/{total} loss {losses[-1]:.4f}",
                step=step,
                total_steps=total,
                epoch=epoch + 1,
                loss=losses[-1],
                learning_rate=float(scheduler.get_last_lr()[0]),
            )
        after = _eval_loss(peft_model, eval_batches)
        report(
            f"epoch {epoch + 1}/{settings.n_epochs}: held-out loss {after:.4f}",
            eval_loss=after,
            epoch=epoch + 1,
            step=step,
            total_steps=total,
        )
    peft_model.save_pretrained(out_dir)
    config = model.config
    return LoraResult(
        eval_loss_before=before,
        eval_loss_after=after,
        train_losses=losses,
        seconds_per_step=step_time / max(1, step),
        steps=step,
        n_head=int(config.num_attention_heads),
        n_head_kv=int(getattr(config, "num_key_value_heads", config.num_attention_heads)),
    )
