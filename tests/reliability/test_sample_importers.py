"""Property tests of the sample importers (``persona.samples.add_text/add_audio/add_images/add_video``).

Whatever the input (dialogue JSONL, CSV and plain scripts made of random rows, junk lines and random bytes;
recordings, pictures and clips made of random bytes or of good files cut, flipped and mangled), an import:

* returns an :class:`ImportReport` (or, for a source that is no file, folder, glob, bytes or rows, raises
  :class:`InvalidArgument` saying what to pass): never another exception;
* lists every rejected file or line with its source (the file's path, ``path:line``) and a reason;
* keeps every good row and file even when bad ones sit beside them;
* stores nothing for what it rejects (no sample row, no media row, no file in the store).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import struct
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from polyface.errors import InvalidArgument
from polyface.persona import samples as importer
from polyface.persona.studio import PersonaHandle, Studio
from polyface.persona.tables import MediaBlob, Sample
from polyface.persona.views import ImportReport

pytestmark = pytest.mark.reliability

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
"""Examples per property: ~60 where an example costs milliseconds, ~15 where ffmpeg runs."""

_names = itertools.count()


POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def studio(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """One studio per database kind for the module (each example makes a persona of its own): what
    SQLite lets through and PostgreSQL refuses (NUL characters, lone surrogates) must be refused cleanly."""
    folder = tmp_path_factory.mktemp("importers")
    if request.param == "sqlite":
        with Studio(f"sqlite:///{folder / 'db.sqlite'}", data_dir=folder / "studio") as s:
            yield s
        return
    import uuid

    import psycopg

    name = f"pf_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with Studio(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", data_dir=folder / "studio") as s:
            yield s
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inputs")


def fresh(studio: Studio) -> PersonaHandle:
    """A persona of its own for one example (so that earlier examples' samples are not duplicates)."""
    return studio.personas.create(f"p{next(_names)}")


def stored(studio: Studio) -> tuple[int, int, int]:
    """(sample rows, media rows, files in the media store)."""
    with studio.db.session() as session:
        rows = session.scalar(select(func.count()).select_from(Sample)) or 0
        blobs = session.scalar(select(func.count()).select_from(MediaBlob)) or 0
    root = studio.media.local_root
    assert root is not None
    count = sum(1 for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0
    return int(rows), int(blobs), count


def check_report(report: ImportReport, sources: list[str]) -> None:
    """Every rejection names one of the sources and says why, in words (not a Python repr)."""
    for problem in report.rejected:
        assert any(problem.source == s or problem.source.startswith(f"{s}:") for s in sources), problem
        assert problem.reason.strip() and "Traceback" not in problem.reason, problem
        assert " object at 0x" not in problem.reason and "@ 0x" not in problem.reason, problem
        assert "polyface-sample-" not in problem.reason, problem  # no temporary path of ours


def new_file(work: Path, suffix: str, data: bytes) -> Path:
    path = work / f"in{next(_names)}{suffix}"
    path.write_bytes(data)
    return path


# ---- text ----------------------------------------------------------------------------------------------

words = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30)
good_words = words.filter(lambda t: t.strip() != "")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | words,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
    max_leaves=8,
)
roles = st.sampled_from(["user", "assistant", "system", "tool", "", "narrator"])
messages = st.lists(
    st.fixed_dictionaries({"role": roles, "content": st.one_of(good_words, st.none(), st.integers())}),
    max_size=4,
)
row_keys = st.sampled_from(
    ["user", "assistant", "messages", "prompt", "completion", "input", "output", "text"]
)
rows = st.one_of(
    st.dictionaries(row_keys, st.one_of(words, json_values, messages), max_size=4),
    st.builds(lambda m: {"messages": m}, messages),
    json_values,
)
good_rows = st.builds(lambda u, a: {"user": u, "assistant": a}, good_words, good_words)
junk_lines = st.one_of(
    rows.map(json.dumps),
    words,
    st.just('{"user": "lone \\ud800 surrogate", "assistant": "x"}'),
    st.just("[" * 5000),
)


def pairs(studio: Studio, persona: PersonaHandle) -> set[tuple[str, str]]:
    """(user, assistant) of every stored two-turn dialogue of the persona."""
    out = set()
    for info in persona.samples.list("text"):
        stored_messages = json.loads(info.text or "")["messages"]
        if [m["role"] for m in stored_messages] == ["user", "assistant"]:
            out.add((stored_messages[0]["content"], stored_messages[1]["content"]))
    return out


def check_stored_dialogue(persona: PersonaHandle) -> None:
    """What is stored is a conversation: roles of a chat, string contents, an assistant turn."""
    for info in persona.samples.list("text"):
        row = json.loads(info.text or "")
        assert set(row) == {"messages"}
        assert all(m["role"] in ("system", "user", "assistant") for m in row["messages"])
        assert all(isinstance(m["content"], str) for m in row["messages"])
        assert any(m["role"] == "assistant" for m in row["messages"])


@FAST
@given(
    lines=st.lists(st.one_of(good_rows.map(json.dumps), junk_lines), max_size=8),
    good=st.lists(good_rows, max_size=3),
)
def test_dialogue_jsonl_keeps_good_rows_and_names_each_bad_line(
    studio: Studio, work: Path, lines: list[str], good: list[dict[str, str]]
) -> None:
    persona = fresh(studio)
    mixed = [json.dumps(r) for r in good] + lines
    path = new_file(work, ".jsonl", "\n".join(mixed).encode())
    before = stored(studio)
    report = persona.samples.add_text(str(path))
    check_report(report, [str(path)])
    nonblank = sum(1 for line in mixed if line.strip())
    if report.rejected and report.rejected[0].source == str(path):  # the whole file refused
        assert report.added == [] and stored(studio) == before
    else:
        assert len(report.added) + len(report.duplicates) + len(report.rejected) == nonblank
        assert all(":" in p.source for p in report.rejected)
    assert stored(studio)[0] == before[0] + len(report.added)
    assert {(r["user"], r["assistant"]) for r in good} <= pairs(studio, persona)
    check_stored_dialogue(persona)


@FAST
@given(
    header=st.lists(st.one_of(row_keys, words), min_size=1, max_size=4),
    cells=st.lists(st.lists(st.one_of(words, json_values.map(json.dumps)), max_size=5), max_size=5),
    good=st.lists(good_rows, max_size=3),
)
def test_dialogue_csv_keeps_good_rows(
    studio: Studio, work: Path, header: list[str], cells: list[list[str]], good: list[dict[str, str]]
) -> None:
    persona = fresh(studio)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["user", "assistant"])
    for row in good:
        writer.writerow([row["user"], row["assistant"]])
    writer.writerow([])
    writer.writerow(header)
    writer.writerows(cells)
    path = new_file(work, ".csv", out.getvalue().encode())
    before = stored(studio)
    report = persona.samples.add_text(str(path))
    check_report(report, [str(path)])
    assert stored(studio)[0] == before[0] + len(report.added)
    check_stored_dialogue(persona)
    # the good rows come first, under the first header: all kept (unless the file itself is refused)
    if not (report.rejected and report.rejected[0].source == str(path)):
        assert {(r["user"], r["assistant"]) for r in good} <= pairs(studio, persona)


script_lines = st.one_of(
    st.builds(lambda n, t: f"{n}: {t}", st.sampled_from(["Rex", "Kid", "rex", "R_e-x", "Ma"]), words),
    words,
    st.just(""),
    st.just("# a comment"),
)


@FAST
@given(lines=st.lists(script_lines, max_size=12), speaker=st.sampled_from(["Rex", "Nobody", "kid"]))
def test_plain_scripts_import_or_name_the_file(
    studio: Studio, work: Path, lines: list[str], speaker: str
) -> None:
    persona = fresh(studio)
    path = new_file(work, ".txt", "\n".join(lines).encode())
    before = stored(studio)
    report = persona.samples.add_text(str(path), speaker=speaker)
    check_report(report, [str(path)])
    assert stored(studio)[0] == before[0] + len(report.added)
    check_stored_dialogue(persona)


@FAST
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".jsonl", ".json", ".csv", ".txt", ".md"]))
def test_random_bytes_as_dialogue_never_lose_the_good_file(
    studio: Studio, work: Path, data: bytes, suffix: str
) -> None:
    persona = fresh(studio)
    folder = work / f"mixed{next(_names)}"
    folder.mkdir()
    good = folder / "good.jsonl"
    good.write_text(json.dumps({"user": "Where to?", "assistant": "Home, kid."}) + "\n", encoding="utf-8")
    bad = folder / f"bad{suffix}"
    bad.write_bytes(data)
    before = stored(studio)
    report = persona.samples.add_text([str(good), str(bad)])
    check_report(report, [str(good), str(bad)])
    assert ("Where to?", "Home, kid.") in pairs(studio, persona)
    assert stored(studio)[0] == before[0] + len(report.added)
    check_stored_dialogue(persona)


dict_rows = st.one_of(
    st.dictionaries(row_keys, st.one_of(words, json_values, messages), max_size=4),
    st.builds(lambda m: {"messages": m}, messages),
    st.dictionaries(words, json_values, max_size=3),
)


@FAST
@given(batch=st.lists(st.one_of(dict_rows, good_rows), max_size=6))
def test_rows_in_memory(studio: Studio, batch: list[dict[str, Any]]) -> None:
    persona = fresh(studio)
    before = stored(studio)
    report = persona.samples.add_text(batch)
    check_report(report, ["<rows>"])
    assert stored(studio)[0] == before[0] + len(report.added)
    good = {
        (r["user"], r["assistant"])
        for r in batch
        if set(r) == {"user", "assistant"} and all(isinstance(v, str) and v.strip() for v in r.values())
    }
    assert good <= pairs(studio, persona)
    check_stored_dialogue(persona)


@FAST
@given(source=st.one_of(st.integers(), st.floats(), st.none(), st.booleans(), st.just(object())))
def test_sources_that_are_nothing_importable_are_refused_clearly(studio: Studio, source: Any) -> None:
    persona = fresh(studio)
    for add in (persona.samples.add_text, persona.samples.add_audio, persona.samples.add_images):
        with pytest.raises(InvalidArgument, match="pass"):
            add(source)


# ---- media ---------------------------------------------------------------------------------------------


def wav_bytes(seconds: float = 1.0, rate: int = 16000, width: int = 2, level: float = 0.5) -> bytes:
    """A tone at ``level`` of full scale as integer PCM of ``width`` bytes (8-bit WAV is unsigned)."""
    t = np.arange(int(seconds * rate)) / rate
    full = (np.sin(2 * np.pi * 180 * t) * level * (2 ** (8 * width - 1) - 1)).astype("<i8")
    if width == 1:
        raw = (full + 128).astype(np.uint8).tobytes()
    else:  # the low bytes of each little-endian int64: two's complement in ``width`` bytes
        raw = full.view(np.uint8).reshape(-1, 8)[:, :width].tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)
    return out.getvalue()


def png_bytes(side: int = 96, seed: int = 0) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


GOOD_WAV = wav_bytes()
GOOD_PNG = png_bytes()


@st.composite
def mangled(draw: st.DrawFn, good: bytes) -> bytes:
    """A good file cut short, with bytes flipped, or with a header field overwritten."""
    data = bytearray(good)
    how = draw(st.sampled_from(["cut", "flip", "field", "junk"]))
    if how == "cut":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, min(len(data) - 1, 120)))
            data[at] ^= draw(st.integers(1, 255))
        return bytes(data)
    if how == "field":
        at = draw(st.integers(0, min(len(data) - 4, 60)))
        data[at : at + 4] = struct.pack("<I", draw(st.sampled_from([0, 1, 2**16, 2**31, 2**32 - 1])))
        return bytes(data)
    return bytes(data[:64]) + draw(st.binary(max_size=200))


def check_media_import(
    studio: Studio, work: Path, modality: str, bad: bytes, good: bytes, suffix: str
) -> None:
    """The mangled file beside a good one: the good one is kept; the other imports or is refused by
    name with nothing stored for it."""
    persona = fresh(studio)
    folder = work / f"media{next(_names)}"
    folder.mkdir()
    good_path, bad_path = folder / f"good{suffix}", folder / f"bad{suffix}"
    good_path.write_bytes(good)
    bad_path.write_bytes(bad)
    add = getattr(persona.samples, f"add_{modality}")
    for source in ([str(good_path), str(bad_path)], bad):
        before = stored(studio)
        report = add(source)
        shown = [str(good_path), str(bad_path)] if isinstance(source, list) else ["<bytes>"]
        check_report(report, shown)
        rows, blobs, files = stored(studio)
        assert rows == before[0] + len(report.added)
        new_blobs = {a.media_sha256 for a in report.added} - {None}
        assert blobs - before[1] <= len(new_blobs) and files - before[2] <= len(new_blobs)
        if not report.added:
            assert (rows, blobs, files) == before  # nothing stored for a refused file
    kept = {i.source for i in persona.samples.list()}
    assert str(good_path) in kept


@FAST
@given(
    bad=st.one_of(
        mangled(GOOD_WAV), st.binary(max_size=300), st.binary(max_size=60).map(lambda b: b"RIFF" + b)
    )
)
def test_recordings_random_and_broken(studio: Studio, work: Path, bad: bytes) -> None:
    check_media_import(studio, work, "audio", bad, GOOD_WAV, ".wav")


@FAST
@given(
    bad=st.one_of(
        mangled(GOOD_PNG), st.binary(max_size=300), st.binary(max_size=60).map(lambda b: GOOD_PNG[:16] + b)
    )
)
def test_pictures_random_and_broken(studio: Studio, work: Path, bad: bytes) -> None:
    check_media_import(studio, work, "images", bad, GOOD_PNG, ".png")


@pytest.fixture(scope="module")
def good_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from polyface.media import ffmpeg

    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    ffmpeg.run(
        ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=96x96:rate=10:duration=1",
         "-pix_fmt", "yuv420p", "-c:v", "libx264", str(path)],
        what="making a test clip",
    )  # fmt: skip
    return path.read_bytes()


@SLOW
@given(data=st.data())
def test_clips_random_and_broken(studio: Studio, work: Path, good_clip: bytes, data: st.DataObject) -> None:
    bad = data.draw(st.one_of(mangled(good_clip), st.binary(max_size=200).map(lambda b: good_clip[:12] + b)))
    check_media_import(studio, work, "video", bad, good_clip, ".mp4")


@pytest.mark.parametrize("width", [1, 2, 3, 4])
@pytest.mark.parametrize(("level", "seconds"), [(0.0, 1.0), (0.0002, 1.0), (0.5, 1.0), (0.5, 0.2)])
def test_silence_and_length_are_judged_whatever_the_sample_width(
    studio: Studio, width: int, level: float, seconds: float
) -> None:
    """8-, 16-, 24- and 32-bit recordings: silent (below -60 dBFS) or too short ones are refused, loud
    ones kept."""
    persona = fresh(studio)
    report = persona.samples.add_audio(wav_bytes(seconds=seconds, width=width, level=level))
    if level >= 0.5 and seconds >= importer.MIN_SECONDS:
        assert len(report.added) == 1 and report.added[0].meta["bits"] == 8 * width, report
        return
    assert report.added == [] and len(report.rejected) == 1, report
    reason = report.rejected[0].reason
    assert ("too short" in reason) if seconds < importer.MIN_SECONDS else ("silent" in reason), reason


# ---- races with another process -----------------------------------------------------------------------


def test_a_row_stored_meanwhile_is_a_duplicate_but_a_refused_row_is_an_error(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An IntegrityError on insert means "stored by another import meanwhile" only when that content is
    there now; when the persona was deleted meanwhile, the import says so (not "duplicate")."""
    from polyface.persona.errors import PersonaNotFound
    from polyface.persona.samples import SampleSet

    persona = fresh(studio)
    recording = wav_bytes(level=0.4)
    assert len(persona.samples.add_audio(recording).added) == 1
    exists = SampleSet._exists
    answers = iter([False])  # the first look misses the row (as if another process stored it just after)
    monkeypatch.setattr(SampleSet, "_exists", lambda self, m, c: next(answers, None) or exists(self, m, c))
    report = persona.samples.add_audio(recording)
    assert report.added == [] and report.duplicates == ["<bytes>"]

    doomed = fresh(studio)
    check = SampleSet._require_persona
    first = iter([True])

    def deleted_right_after_the_first_check(self: SampleSet, session: Any) -> None:
        if next(first, False):  # the import's first check passes; the persona goes right after it
            if doomed.name in studio.personas.names():
                studio.personas.delete(doomed.name)
            return
        check(self, session)

    monkeypatch.setattr(SampleSet, "_require_persona", deleted_right_after_the_first_check)
    before = stored(studio)[0]
    with pytest.raises(PersonaNotFound, match=doomed.name):
        doomed.samples.add_audio(wav_bytes(level=0.3))
    first = iter([True])
    with pytest.raises(PersonaNotFound, match=doomed.name):
        doomed.samples.add_text([{"user": "Where to?", "assistant": "Home."}])
    assert stored(studio)[0] == before


def test_values_longer_than_their_columns_are_refused_on_every_database(studio: Studio) -> None:
    """PostgreSQL enforces VARCHAR lengths that SQLite ignores: too-long input is refused the same way on
    both, before anything is stored or sent."""
    persona = fresh(studio)
    with pytest.raises(InvalidArgument, match="at most 200"):
        persona.consent.record("x" * 201, ["voice"])
    assert persona.consent.list() == []
    persona.samples.add_text([{"user": "Where to?", "assistant": "Home."}])
    plan = persona.avatar.plan(audio="local:" + "m" * 201)
    with pytest.raises(InvalidArgument, match="too long"):
        persona.avatar.train(plan)
    assert persona.avatar.runs.list() == []
