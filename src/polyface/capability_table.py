"""The provider x capability table, read from the adapters' classes (for the CLI and README)."""

from __future__ import annotations

from polyface.providers.registry import PROVIDERS, adapter_class


def capability_rows() -> list[dict[str, object]]:
    """One row per capability: {"capability": name, <provider>: offered, ...}."""
    offered = {name: adapter_class(name).capabilities() for name in PROVIDERS}
    caps: list[str] = []
    for table in offered.values():
        caps += [c for c in table if c not in caps]
    from polyface.capabilities import CAPABILITY_ATTRIBUTES

    order = list(dict.fromkeys(CAPABILITY_ATTRIBUTES.values()))
    caps.sort(key=lambda c: (order.index(c) if c in order else len(order), c))
    return [{"capability": c, **{p: offered[p].get(c, False) for p in PROVIDERS}} for c in caps]


def markdown() -> str:
    rows = capability_rows()
    names = list(PROVIDERS)
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
