"""The provider x capability table, read from the adapters' classes (for the CLI and README)."""

from __future__ import annotations

from typing import Any

from polyface.providers.registry import PROVIDERS, adapter_class


def _adapters() -> dict[str, Any]:
    """Each provider's adapter class, plus what any OpenAI-compatible server row offers."""
    from polyface.providers.openai_compatible import GENERIC, compatible_adapter

    return {**{name: adapter_class(name) for name in PROVIDERS}, GENERIC.name: compatible_adapter(GENERIC)}


def capability_rows() -> list[dict[str, object]]:
    """One row per capability: {"capability": name, <provider>: offered, ...}."""
    adapters = _adapters()
    offered = {name: cls.capabilities() for name, cls in adapters.items()}
    caps: list[str] = []
    for table in offered.values():
        caps += [c for c in table if c not in caps]
    from polyface.capabilities import CAPABILITY_ATTRIBUTES

    order = list(dict.fromkeys(CAPABILITY_ATTRIBUTES.values()))
    caps.sort(key=lambda c: (order.index(c) if c in order else len(order), c))
    return [{"capability": c, **{p: offered[p].get(c, False) for p in offered}} for c in caps]


def markdown() -> str:
    rows = capability_rows()
    names = [key for key in rows[0] if key != "capability"] if rows else []
    lines = ["| capability | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for row in rows:
        lines.append(
            f"| `{row['capability']}` | " + " | ".join("yes" if row[n] else "-" for n in names) + " |"
        )
    return "\n".join(lines)


START = "<!-- capability-table:start (generated: python -m polyface.capability_table --write README.md) -->"
END = "<!-- capability-table:end -->"


def render_into(text: str) -> str:
    """``text`` with the table between the markers replaced by the current one."""
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{markdown()}\n{END}{tail}"


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        from pathlib import Path

        path = Path(sys.argv[2])
        path.write_text(render_into(path.read_text()))
    else:
        print(markdown())
