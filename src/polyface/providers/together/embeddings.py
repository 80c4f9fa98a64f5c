"""Together embeddings (``POST /embeddings``, OpenAI-style) and reranking (``POST /rerank``).

``embed`` (from :class:`~polyface.providers._base.embeddings.OpenAIStyleEmbeddings`) sends all inputs in one
request unless ``batch_size=`` asks for smaller ones (Together's spec sets no limit of inputs per request);
batches are merged back in input order. ``rerank`` takes texts or JSON objects (ranked by ``rank_fields``)
and returns results most relevant first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polyface.errors import InvalidArgument
from polyface.providers._base.embeddings import OpenAIStyleEmbeddings, check_options
from polyface.types.embeddings import RerankResponse, RerankResult
from polyface.types.usage import Usage
from polyface.wire import openai_embeddings as wire

Document = str | Mapping[str, Any]
"""A document to rerank: its text, or a JSON object (Together ranks the fields named by ``rank_fields``)."""


# ---- pure: requests ---------------------------------------------------------------------------------------
def rerank_body(
    model: str,
    query: str,
    documents: Sequence[Document],
    *,
    top_n: int | None = None,
    return_documents: bool | None = None,
    rank_fields: Sequence[str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``POST /rerank`` body, checked against what Together's spec accepts."""
    if not isinstance(model, str) or not model.strip():
        raise InvalidArgument("model must be a rerank model name, e.g. model='Salesforce/Llama-Rank-v1'.")
    if not isinstance(query, str) or not query.strip():
        raise InvalidArgument("rerank needs a non-empty query string to rank the documents against.")
    if isinstance(documents, str | bytes) or not isinstance(documents, Sequence):
        raise InvalidArgument("documents must be a list of strings (or of dicts), not a single value.")
    docs = list(documents)
    if not docs:
        raise InvalidArgument("rerank needs at least one document; pass documents=['text', ...].")
    as_text = all(isinstance(d, str) for d in docs)
    as_objects = all(isinstance(d, Mapping) for d in docs)
    if not (as_text or as_objects):
        raise InvalidArgument(
            "documents must be all strings or all dicts (Together does not take a mix); "
            "turn strings into {'text': ...} or dicts into their text."
        )
    if as_text:
        for position, doc in enumerate(docs):
            if not str(doc).strip():
                raise InvalidArgument(f"document #{position} is empty; drop it or give it some text.")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise InvalidArgument(f"top_n must be a whole number of at least 1 (got {top_n!r}).")
    body: dict[str, Any] = dict(extra_body or {})
    body.update(model=model, query=query, documents=[d if isinstance(d, str) else dict(d) for d in docs])
    if top_n is not None:
        body["top_n"] = top_n
    if return_documents is not None:
        body["return_documents"] = bool(return_documents)
    if rank_fields is not None:
        if as_text:
            raise InvalidArgument(
                "rank_fields only applies to documents given as dicts; drop it for strings."
            )
        if isinstance(rank_fields, str) or not all(isinstance(f, str) for f in rank_fields):
            raise InvalidArgument("rank_fields must be a list of field names, e.g. ['title', 'text'].")
        body["rank_fields"] = list(rank_fields)
    return body


# ---- pure: responses --------------------------------------------------------------------------------------
def parse_rerank_response(data: Any, *, provider: str, model: str, documents: int) -> RerankResponse:
    """A :class:`RerankResponse` (results most relevant first) from Together's answer."""
    if not isinstance(data, Mapping) or not isinstance(data.get("results"), list):
        raise wire.EmbeddingsFormatError("the answer has no 'results' list")
    results: list[RerankResult] = []
    for position, item in enumerate(data["results"]):
        if not isinstance(item, Mapping):
            raise wire.EmbeddingsFormatError(f"results[{position}] is not an object")
        index, score = item.get("index"), item.get("relevance_score")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < documents:
            raise wire.EmbeddingsFormatError(
                f"results[{position}] points at document {index!r}, but {documents} were sent"
            )
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise wire.EmbeddingsFormatError(f"results[{position}] has no numeric relevance_score")
        document = item.get("document")
        text = document.get("text") if isinstance(document, Mapping) else document
        results.append(
            RerankResult(
                index=index, relevance_score=float(score), document=text if isinstance(text, str) else None
            )
        )
    results.sort(key=lambda r: r.relevance_score, reverse=True)
    usage = wire.parse_usage(data.get("usage"))
    return RerankResponse(
        id=str(data["id"]) if data.get("id") is not None else None,
        provider=provider,
        model=str(data.get("model") or model),
        results=results,
        usage=usage or Usage(),
        raw={key: value for key, value in data.items() if key != "results"},
    )


# ---- the capability -------------------------------------------------------------------------------------


class TogetherEmbeddings(OpenAIStyleEmbeddings):
    """``adapter.embeddings``: vectors for texts (``embed``) and documents ranked by a query (``rerank``)."""

    rerank_path = "/rerank"

    # ---- rerank --------------------------------------------------------------------------------------
    def _rerank_body(
        self,
        model: str,
        query: str,
        documents: Sequence[Document],
        top_n: int | None,
        return_documents: bool | None,
        rank_fields: Sequence[str] | None,
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        extra = check_options(options, provider=self._display, what="rerank")
        return rerank_body(
            model,
            query,
            documents,
            top_n=top_n,
            return_documents=return_documents,
            rank_fields=rank_fields,
            extra_body=extra,
        )

    def _parse_rerank(self, data: Any, body: Mapping[str, Any]) -> RerankResponse:
        try:
            return parse_rerank_response(
                data, provider=self._provider, model=body["model"], documents=len(body["documents"])
            )
        except wire.EmbeddingsFormatError as exc:
            raise self._format_error(exc) from None

    def _rerank_tokens(self, body: Mapping[str, Any]) -> int:
        if not self.config.limiter.enabled:
            return 0
        docs = [d if isinstance(d, str) else str(d) for d in body["documents"]]
        return wire.estimate_tokens([body["query"], *docs])

    def rerank(
        self,
        *,
        model: str,
        query: str,
        documents: Sequence[Document],
        top_n: int | None = None,
        return_documents: bool | None = None,
        rank_fields: Sequence[str] | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> RerankResponse:
        """``documents`` ranked by relevance to ``query``, most relevant first (``.indices`` gives their
        original positions). ``top_n`` keeps the best n; ``return_documents=True`` echoes their text;
        ``rank_fields`` names the fields of dict documents to rank by."""
        body = self._rerank_body(model, query, documents, top_n, return_documents, rank_fields, options)
        with self.config.telemetry.call("rerank", model) as call:
            response = self.config.http.request(
                "POST", self.rerank_path, json=body, timeout=timeout, tokens=self._rerank_tokens(body)
            )
            reply = self._parse_rerank(self._json(response), body)
            if wire.usage_reported(reply.raw):
                reply.cost = self.config.catalog.cost(model, reply.usage)
            self._finish(call, reply)
        return reply

    async def arerank(
        self,
        *,
        model: str,
        query: str,
        documents: Sequence[Document],
        top_n: int | None = None,
        return_documents: bool | None = None,
        rank_fields: Sequence[str] | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> RerankResponse:
        body = self._rerank_body(model, query, documents, top_n, return_documents, rank_fields, options)
        with self.config.telemetry.call("rerank", model) as call:
            response = await self.config.http.arequest(
                "POST", self.rerank_path, json=body, timeout=timeout, tokens=self._rerank_tokens(body)
            )
            reply = self._parse_rerank(self._json(response), body)
            if wire.usage_reported(reply.raw):
                reply.cost = await self.config.catalog.acost(model, reply.usage)
            self._finish(call, reply)
        return reply


__all__ = ["Document", "TogetherEmbeddings", "parse_rerank_response", "rerank_body"]
