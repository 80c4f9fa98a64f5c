"""The clients the peer benchmark compares, each making the same chat call against the Together fake.

Every client answers the same four calls: ``call`` (one chat reply, sync), ``acall`` (async), ``stream``
and ``astream`` (a streamed reply read to its end; they return the seconds to the first token). Their
libraries are imported when a client is made, never when this module is, so that a probe can time a
cold import.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from typing import Any

# LiteLLM fetches its model cost map from the network at import unless told not to; the benchmark is offline.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
MESSAGES = [{"role": "user", "content": "Say hi like an action hero."}]
BODY: dict[str, Any] = {"model": MODEL, "messages": MESSAGES}
STREAM_BODY: dict[str, Any] = {**BODY, "stream": True}
EXPECTED = "Echo: Say hi like an action hero."


class Client:
    name = ""
    label = ""
    module = ""
    """The package that must be installed."""
    import_code = ""
    """What a program imports to make one call (the cold-import probe times it)."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url, self.api_key = base_url, api_key

    @classmethod
    def installed(cls) -> bool:
        return importlib.util.find_spec(cls.module) is not None

    @classmethod
    def version(cls) -> str:
        from importlib.metadata import version

        return version(cls.module)

    def call(self) -> str:
        raise NotImplementedError

    def stream(self) -> float:
        raise NotImplementedError

    async def astart(self) -> None:
        """Make the async client (in the running event loop)."""

    async def acall(self) -> str:
        raise NotImplementedError

    async def astream(self) -> float:
        raise NotImplementedError

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def _content(line: str) -> str:
    """The text of one SSE line of a chat stream ("" for anything else)."""
    if not line.startswith("data: ") or line == "data: [DONE]":
        return ""
    choices = json.loads(line[6:])["choices"]
    return (choices[0]["delta"].get("content") or "") if choices else ""


class Floor(Client):
    """A bare httpx client: POST the body, check the status, parse the JSON (the floor)."""

    name, label, module, import_code = "floor", "bare httpx (floor)", "httpx", "import httpx"

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        import httpx

        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.client = httpx.Client(base_url=base_url, headers=self.headers)

    def call(self) -> str:
        response = self.client.post("/chat/completions", json=BODY)
        response.raise_for_status()
        text: str = response.json()["choices"][0]["message"]["content"]
        return text

    def stream(self) -> float:
        start, first = time.perf_counter(), 0.0
        with self.client.stream("POST", "/chat/completions", json=STREAM_BODY) as response:
            response.raise_for_status()
            for line in response.iter_lines():  # to the end: the connection goes back to the pool
                if _content(line) and not first:
                    first = time.perf_counter()
        return first - start

    async def astart(self) -> None:
        import httpx

        limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
        self.aclient = httpx.AsyncClient(base_url=self.base_url, headers=self.headers, limits=limits)

    async def acall(self) -> str:
        response = await self.aclient.post("/chat/completions", json=BODY)
        response.raise_for_status()
        text: str = response.json()["choices"][0]["message"]["content"]
        return text

    async def astream(self) -> float:
        start, first = time.perf_counter(), 0.0
        async with self.aclient.stream("POST", "/chat/completions", json=STREAM_BODY) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if _content(line) and not first:
                    first = time.perf_counter()
        return first - start

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        await self.aclient.aclose()


class Polyface(Client):
    name, label, module = "polyface", "polyface", "polyface"
    import_code = "from polyface import TogetherAdapter"

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        from polyface import TogetherAdapter

        self.together = TogetherAdapter(api_key=api_key, base_url=base_url)

    def call(self) -> str:
        return self.together.text.generate(model=MODEL, messages=MESSAGES).text

    def stream(self) -> float:
        start, first = time.perf_counter(), 0.0
        for delta in self.together.text.stream(model=MODEL, messages=MESSAGES):
            if not first and delta.text:
                first = time.perf_counter()
        return first - start

    async def acall(self) -> str:
        return (await self.together.text.agenerate(model=MODEL, messages=MESSAGES)).text

    async def astream(self) -> float:
        start, first = time.perf_counter(), 0.0
        async for delta in self.together.text.astream(model=MODEL, messages=MESSAGES):
            if not first and delta.text:
                first = time.perf_counter()
        return first - start

    def close(self) -> None:
        self.together.close()

    async def aclose(self) -> None:
        await self.together.aclose()


class OpenAI(Client):
    """The official ``openai`` package, pointed at the fake's OpenAI-compatible ``/v1``."""

    name, label, module, import_code = "openai", "openai", "openai", "from openai import OpenAI"

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        import openai

        self.client = openai.OpenAI(api_key=api_key, base_url=base_url)

    def call(self) -> str:
        reply = self.client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
        return reply.choices[0].message.content or ""

    def stream(self) -> float:
        start, first = time.perf_counter(), 0.0
        chunks = self.client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        for chunk in chunks:
            if not first and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter()
        return first - start

    async def astart(self) -> None:
        import openai

        self.aclient = openai.AsyncOpenAI(api_key=self.api_key, base_url=self.base_url)

    async def acall(self) -> str:
        reply = await self.aclient.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
        return reply.choices[0].message.content or ""

    async def astream(self) -> float:
        start, first = time.perf_counter(), 0.0
        chunks = await self.aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        async for chunk in chunks:
            if not first and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter()
        return first - start

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        await self.aclient.close()


class LiteLLM(Client):
    """``litellm.completion`` / ``acompletion``: the ``openai/`` route with ``api_base`` at the fake (its
    ``together_ai/`` route fetches a Hugging Face tokenizer from the network to count a stream's tokens)."""

    name, label, module, import_code = "litellm", "litellm", "litellm", "import litellm"

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        self.litellm = litellm
        self.options = {"model": "openai/" + MODEL, "api_base": base_url, "api_key": api_key}

    def call(self) -> str:
        reply = self.litellm.completion(messages=MESSAGES, **self.options)
        return str(reply.choices[0].message.content)

    def stream(self) -> float:
        start, first = time.perf_counter(), 0.0
        for chunk in self.litellm.completion(messages=MESSAGES, stream=True, **self.options):
            if not first and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter()
        return first - start

    async def acall(self) -> str:
        reply = await self.litellm.acompletion(messages=MESSAGES, **self.options)
        return str(reply.choices[0].message.content)

    async def astream(self) -> float:
        start, first = time.perf_counter(), 0.0
        chunks = await self.litellm.acompletion(messages=MESSAGES, stream=True, **self.options)
        async for chunk in chunks:
            if not first and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter()
        return first - start


CLIENTS: list[type[Client]] = [Floor, Polyface, OpenAI, LiteLLM]
BY_NAME = {client.name: client for client in CLIENTS}
