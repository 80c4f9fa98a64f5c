"""Child process of ``test_crash_safety``: one step of the persona workflow, to be SIGKILLed by the parent.

``python _crash_child.py '<json>'`` with ``{"job": "train" | "import", ...}``. Every committed database
transaction prints ``commit <n>`` (flushed), so that the parent can kill it at a chosen point; ``"die_at"``
names a point where the child SIGKILLs itself (``media-written``: a sample's file is in the store but its
row is not committed; ``media-half-written``: a file is half written under its temporary name).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
from typing import Any


def _report(line: str) -> None:
    print(line, flush=True)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _trace_commits() -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    counter = itertools.count(1)
    event.listen(Session, "after_commit", lambda _session: _report(f"commit {next(counter)}"))


def _install_death(point: str | None, after: int) -> None:
    """SIGKILL this process at the ``after``-th time it reaches ``point``."""
    if point is None:
        return
    from polyface.persona import media

    seen = itertools.count(1)
    put = media.MediaStore.put

    def put_then_die(self: media.MediaStore, data: bytes, mime_type: str) -> str:
        if point == "media-half-written" and next(seen) == after:
            import tempfile

            assert self.local_root is not None
            sha = media.sha256_of(data)
            folder = self.local_root / self.name_of(sha, mime_type).split("/")[0]
            folder.mkdir(parents=True, exist_ok=True)
            fd, _tmp = tempfile.mkstemp(prefix=".put-", dir=folder)
            os.write(fd, data[: len(data) // 2])
            _die()
        sha = put(self, data, mime_type)
        if point == "media-written" and next(seen) == after:
            _die()
        return sha

    media.MediaStore.put = put_then_die  # type: ignore[method-assign]


def _studio(config: dict[str, Any]) -> Any:
    from polyface import OpenAIAdapter, TogetherAdapter
    from polyface.persona.studio import Studio

    providers: dict[str, Any] = {}
    if "together" in config:
        providers["together"] = TogetherAdapter(**config["together"])
    if "openai" in config:
        providers["openai"] = OpenAIAdapter(**config["openai"])
    return Studio(config["database_url"], data_dir=config["data_dir"], providers=providers)


def main() -> None:
    config = json.loads(sys.argv[1])
    _trace_commits()
    _install_death(config.get("die_at"), int(config.get("die_after", 1)))
    studio = _studio(config)
    persona = studio.personas.get(config["persona"])
    _report("ready")
    if config["job"] == "train":
        plan = persona.avatar.plan(**config["plan"])
        runs = persona.avatar.train(plan, budget_usd=config.get("budget_usd"))
        _report("submitted")
        runs.wait(poll_interval=0.02, timeout=120)
    else:
        for modality, source in config["sources"]:
            getattr(persona.samples, f"add_{modality}")(source)
    _report("done")
    studio.close()


if __name__ == "__main__":
    main()
