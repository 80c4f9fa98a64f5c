"""The facade every provider exposes: lazily built capabilities sharing one config."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, overload

from polyface.errors import CapabilityNotSupported
from polyface.providers._base.config import ProviderConfig

if TYPE_CHECKING:
    from polyface.types.models import ModelInfo

T = TypeVar("T")


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


class Capability(Generic[T]):
    """A capability attribute: built on first access from ``"module:Class"``, then cached.

    With ``target=None`` the provider does not offer it: access raises
    :class:`CapabilityNotSupported` saying why and who does.
    """

    def __init__(
        self, target: str | None, *, reason: str | None = None, offered_by: tuple[str, ...] = ()
    ) -> None:
        self.target = target
        self.reason = reason
        self.offered_by = offered_by
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Capability[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> T: ...
    def __get__(self, obj: object | None, owner: type) -> Capability[T] | T:
        if obj is None:
            return self
        return obj._capability(self)  # type: ignore[attr-defined, no-any-return]

    @property
    def offered(self) -> bool:
        return self.target is not None


class Namespace:
    """A group of capabilities, e.g. ``adapter.fine_tuning.text``."""

    def __init__(self, owner: Adapter, prefix: str) -> None:
        self._owner = owner
        self._prefix = prefix

    def _capability(self, cap: Capability[Any]) -> Any:
        return self._owner._build(cap, f"{self._prefix}.{cap.name}")


class Adapter:
    """Base of ``TogetherAdapter`` and friends. Subclasses declare ``config_class`` and capabilities."""

    config_class: ClassVar[type[ProviderConfig]]
    fine_tuning_class: ClassVar[type[Namespace] | None] = None

    def __init__(self, api_key: str | None = None, base_url: str | None = None, **options: Any) -> None:
        self.config = self.config_class(api_key, base_url, **options)
        self._built: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return self.config.info.name

    def _capability(self, cap: Capability[Any]) -> Any:
        return self._build(cap, cap.name)

    def _build(self, cap: Capability[Any], path: str) -> Any:
        built = self._built.get(path)
        if built is None:
            if cap.target is None:
                raise CapabilityNotSupported(
                    self.config.info.display_name, path, offered_by=cap.offered_by, reason=cap.reason
                )
            built = self._built[path] = _load(cap.target)(self.config)
        return built

    @property
    def fine_tuning(self) -> Any:
        """Fine-tuning per modality: ``.fine_tuning.text``, ``.voice``, ``.image``, ``.audio``, ``.video``."""
        if self.fine_tuning_class is None:
            raise CapabilityNotSupported(self.config.info.display_name, "fine_tuning")
        ns = self._built.get("fine_tuning")
        if ns is None:
            ns = self._built["fine_tuning"] = self.fine_tuning_class(self, "fine_tuning")
        return ns

    @classmethod
    def capabilities(cls) -> dict[str, bool]:
        """Capability name -> offered, read from the class (no instance, no network)."""
        out: dict[str, bool] = {}
        for name in dir(cls):
            attr = cls.__dict__.get(name) or next(
                (k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None
            )
            if isinstance(attr, Capability):
                out[name] = attr.offered
        if cls.fine_tuning_class is not None:
            for name, attr in vars(cls.fine_tuning_class).items():
                if isinstance(attr, Capability):
                    out[f"fine_tuning.{name}"] = attr.offered
        return out

    # ---- catalog ---------------------------------------------------------------
    _CAPABILITY_MODALITIES: ClassVar[dict[str, tuple[str, str]]] = {
        # capability asked -> (catalog modality, adapter attribute)
        "text": ("text", "text"),
        "embeddings": ("embeddings", "embeddings"),
        "rerank": ("rerank", "embeddings"),
        "image": ("image", "image"),
        "speech": ("speech", "audio"),
        "audio.speech": ("speech", "audio"),
        "transcription": ("transcription", "audio"),
        "audio.transcription": ("transcription", "audio"),
        "video": ("video", "video"),
    }

    def supports(self, model: str, capability: str) -> bool:
        """Whether ``model`` (per the provider's catalog) serves ``capability`` here.

        ``capability``: text, embeddings, rerank, image, speech, transcription, video. A model
        the catalog does not list (a fine-tuned one, say) answers False.
        """
        if capability not in self._CAPABILITY_MODALITIES:
            from polyface.errors import InvalidArgument

            known = ", ".join(sorted(self._CAPABILITY_MODALITIES))
            raise InvalidArgument(f"unknown capability {capability!r}; use one of {known}.")
        modality, attribute = self._CAPABILITY_MODALITIES[capability]
        if not self.capabilities().get(attribute, False):
            return False
        info = next((m for m in self.models() if m.id == model), None)
        return info is not None and info.modality == modality

    def models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """The provider's catalog with pricing (fetched once, cached with a TTL)."""
        return self.config.catalog.models(refresh=refresh)

    async def amodels(self, *, refresh: bool = False) -> list[ModelInfo]:
        return await self.config.catalog.amodels(refresh=refresh)

    # ---- lifecycle ---------------------------------------------------------------
    def close(self) -> None:
        self.config.close()

    async def aclose(self) -> None:
        await self.config.aclose()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r})"
