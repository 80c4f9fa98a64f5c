"""Errors of the persona layer (beside :mod:`polyface.errors`)."""

from __future__ import annotations

from polyface.errors import PolyfaceError


class PersonaNotFound(PolyfaceError, LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        listed = ", ".join(known) if known else "none yet"
        super().__init__(
            f"no persona called {name!r} (personas: {listed}); create it with "
            f"studio.personas.create({name!r}) or `polyface persona create {name}`."
        )


class PersonaExists(PolyfaceError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"a persona called {name!r} already exists; use studio.personas.get({name!r}), "
            "or pick another name."
        )


class RunNotFound(PolyfaceError, LookupError):
    pass


class NoAvatar(PolyfaceError):
    """The persona has no active avatar (or lacks a model for the asked modality)."""
