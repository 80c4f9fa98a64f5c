"""The OpenAI-compatible gateway at ``/v1``: models, chat completions (streaming too), speech, embeddings.

Every route needs a bearer key (``polyface keys create``) and counts against that key's requests per
minute; failures answer in OpenAI's error shape. Point any OpenAI client at it:

```python
client = openai.OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="pf-...")
client.chat.completions.create(model="persona/rex", messages=[{"role": "user", "content": "Hi"}])
```
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from polyface.server.auth import gateway_key
from polyface.server.gateway.chat import chat_completions
from polyface.server.gateway.embeddings import embeddings
from polyface.server.gateway.errors import OpenAIRoute
from polyface.server.gateway.models import model, models
from polyface.server.gateway.speech import speech


def router() -> APIRouter:
    api = APIRouter(
        prefix="/v1", route_class=OpenAIRoute, dependencies=[Depends(gateway_key)], tags=["gateway"]
    )
    api.add_api_route("/models", models, methods=["GET"], summary="Personas and providers' models")
    api.add_api_route("/models/{model_id:path}", model, methods=["GET"], summary="One model")
    api.add_api_route("/chat/completions", chat_completions, methods=["POST"], summary="Chat (streaming too)")
    api.add_api_route("/audio/speech", speech, methods=["POST"], summary="Speech in a persona's voice")
    api.add_api_route("/embeddings", embeddings, methods=["POST"], summary="Embeddings")
    return api


def register(app: FastAPI) -> None:
    app.include_router(router())
