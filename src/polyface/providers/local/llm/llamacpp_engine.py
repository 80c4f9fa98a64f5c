"""SmolLM2 on llama.cpp (``llama-cpp-python``, extra ``polyface[local-fast]``): the fast engine.

One ``Llama`` per model (the base, or the base with one LoRA adapter converted to GGUF, loaded with
``lora_path``): a context holds one adapter, so adapters never share a prompt cache. Each instance is
used by one thread at a time.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from polyface.providers.local import assets
from polyface.providers.local.llm.engine import Piece, Sampling
from polyface.providers.local.llm.transformers_engine import hold
from polyface.providers.local.runtime import shared

N_CTX = 8192


class LlamaRuntime:
    def __init__(self, threads: int, lora: Path | None) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llm = Llama(
            model_path=str(assets.smollm2_gguf()),
            n_ctx=N_CTX,
            n_threads=threads,
            n_threads_batch=threads,
            lora_path=str(lora) if lora else None,
            verbose=False,
        )
        meta = self.llm.metadata
        template = meta.get("tokenizer.chat_template")
        if not template:
            raise RuntimeError("the SmolLM2 GGUF file carries no chat template")

        def token(key: str) -> str:
            index = meta.get(key)
            return self.llm.detokenize([int(index)], special=True).decode() if index is not None else ""

        self.formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=token("tokenizer.ggml.eos_token_id"),
            bos_token=token("tokenizer.ggml.bos_token_id"),
        )
        self.lock = threading.Lock()
        # Free the model while the interpreter is still whole (llama-cpp-python's __del__ fails at exit),
        # without the exit hook keeping a forgotten model alive.
        weakref.finalize(self, self.llm.close)


def runtime(model_id: str, threads: int, lora: Path | None) -> LlamaRuntime:
    return shared((model_id, "llama.cpp"), lambda: LlamaRuntime(threads, lora))


class LlamaCppEngine:
    name = "llama.cpp"

    def __init__(self, rt: LlamaRuntime) -> None:
        self.rt = rt

    def format(self, messages: Sequence[dict[str, Any]]) -> tuple[str, list[str]]:
        """The chat template applied to ``messages``, and the template's own stop strings."""
        response = self.rt.formatter(messages=list(messages))
        stop = response.stop
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        return response.prompt, stops

    def chat(self, messages: Sequence[dict[str, Any]], sampling: Sampling) -> Iterator[Piece]:
        prompt, stops = self.format(messages)
        return self._run(prompt, sampling, stops)

    def complete(self, prompt: str, sampling: Sampling) -> Iterator[Piece]:
        return self._run(prompt, sampling, [])

    def _run(self, prompt: str, sampling: Sampling, template_stops: list[str]) -> Iterator[Piece]:
        llm = self.rt.llm
        with hold(self.rt.lock, self.rt):
            prompt_tokens = len(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
            stream = llm.create_completion(
                prompt=prompt,
                max_tokens=sampling.max_tokens,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                top_k=sampling.top_k,
                repeat_penalty=sampling.repetition_penalty or 1.0,
                stop=[*template_stops, *sampling.stop] or None,
                seed=sampling.seed if sampling.seed is not None else -1,
                stream=True,
            )
            text: list[str] = []
            finish = "length"
            for chunk in stream:
                choice = chunk["choices"][0]
                piece = choice.get("text") or ""
                if piece:
                    text.append(piece)
                    yield Piece(piece)
                if choice.get("finish_reason"):
                    finish = "stop" if choice["finish_reason"] == "stop" else "length"
            completion = len(llm.tokenize("".join(text).encode("utf-8"), add_bos=False, special=False))
        yield Piece("", finish_reason=finish, prompt_tokens=prompt_tokens, completion_tokens=completion)
