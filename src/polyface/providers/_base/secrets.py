"""API keys: held so they never print, and scrubbed from any text polyface emits."""

from __future__ import annotations

import re
import threading

_known: set[str] = set()
_lock = threading.Lock()
# Key-shaped strings polyface redacts even when it never saw the key itself.
_PATTERNS = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}"
    r"|\b(sk|pk|tgp|key|pf)[-_][A-Za-z0-9._\-]{12,}"
)
MASK = "***"


class Secret:
    """A secret string. ``str()``/``repr()`` show ``***``; ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


def register(value: str) -> None:
    """Remember ``value`` so that :func:`redact` removes it from any text."""
    if value and len(value) >= 4:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """``text`` with every known secret and every key-shaped token replaced by ``***``."""
    if not text:
        return text
    for value in tuple(_known):
        if value in text:
            text = text.replace(value, MASK)
    return _PATTERNS.sub(lambda m: (m.group(1) or "") + MASK, text)
