"""The provider x capability table, read from the adapters' classes (for the CLI and README)."""

from __future__ import annotations

from polyface.providers.registry import PROVIDERS, adapter_class


def capability_rows() -> list[dict[str, object]]:
    """One row per capability: {"capability": name, <provider>: offered, ...}."""
    offered = {name: adapter_class(name).capabilities() for name in PROVIDERS}
    caps: list[str] = []
    for table in offered.values():
        caps += [c for c in table if c not in caps]
    caps.sort(key=lambda c: (c.startswith("fine_tuning"), c))
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


if __name__ == "__main__":
    print(markdown())
