"""The typed values polyface hands out and accepts, one module per modality.

Import from the module that holds a type (``from polyface.types.text import TextResponse``);
this package imports nothing itself, so ``import polyface.types`` stays free.

- ``_base``: :class:`PolyfaceModel`, the base of every model (unknown fields are refused).
- ``usage``: :class:`Usage`, what a call used. ``models``: :class:`ModelInfo`, :class:`Pricing`.
- ``text``, ``embeddings``, ``image``, ``speech``, ``transcription``, ``video``, ``voice``:
  requests' results per modality.
- ``fine_tuning``: training jobs, their statuses, events and price estimates.
"""
