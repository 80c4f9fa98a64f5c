"""Adapting the local recognizer to a persona's words: a domain language model for PocketSphinx.

``LocalAdapter().fine_tuning.audio.train(texts=[...])`` builds a trigram model from the texts with
``pocketsphinx.lm.ArpaBoLM`` (``add_start=True``: sentence starts and ends are modelled) and blends it
with the general model. PocketSphinx's Python API cannot interpolate two language models at decode time
(its model sets only switch between models), so the blend is done in the file: the unigram level mixes the
domain's word probabilities (weight :data:`DOMAIN_WEIGHT`) with the general model's for its
:data:`GENERAL_WORDS` most frequent words (read from the shipped ``en-us.lm.bin``), and the domain's
bigrams and trigrams back off to that mixture (their back-off weights are recomputed). So the persona's
phrases are strongly expected, yet everyday words outside them can still be recognised.

Words missing from the CMU dictionary (names, made-up words) get pronunciations from eSpeak NG's
phonemes, mapped to the recognizer's phone set. Word error rate is measured before (general model) and
after (adapted model) on held-out phrases (``held_out=``, or every fifth text split off) spoken by eSpeak
NG. The result is a model ``pocketsphinx-en-us:<name>`` that ``audio.transcribe`` accepts.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final

from polyface.errors import InvalidArgument
from polyface.providers.local import espeak
from polyface.providers.local.audio import (
    DEFAULT_VOICE,
    RECOGNIZER_MODEL,
    RECOGNIZER_RATE,
    Recognizer,
    general_paths,
    normalize_words,
    recognizer,
    resolve_voice,
    word_error_rate,
)
from polyface.providers.local.jobs import LocalFineTuneJob, LocalFineTuningBase, TrainingContext
from polyface.providers.local.runtime import shared
from polyface.providers.local.store import LocalModel, check_name

if TYPE_CHECKING:
    from polyface.providers.local.config import LocalConfig

DOMAIN_WEIGHT: Final = 0.6
"""The domain model's share of the blended unigram probabilities (the general model has the rest)."""
GENERAL_WORDS: Final = 3000
"""How many of the general model's most frequent words the adapted model keeps."""
MAX_HELD_OUT: Final = 8
LM_FILE: Final = "domain.lm"
DICT_FILE: Final = "domain.dict"

# eSpeak NG's ASCII phoneme mnemonics (en-us) -> CMU ARPAbet, longest first when parsing.
_PHONES: Final[dict[str, tuple[str, ...]]] = {
    "aI@": ("AY", "ER"),
    "aU@": ("AW", "ER"),
    "aI": ("AY",),
    "aU": ("AW",),
    "eI": ("EY",),
    "oU": ("OW",),
    "OI": ("OY",),
    "i@": ("IH", "R"),
    "e@": ("EH", "R"),
    "A@": ("AA", "R"),
    "o@": ("AO", "R"),
    "O@": ("AO", "R"),
    "U@": ("UH", "R"),
    "3:": ("ER",),
    "3": ("ER",),
    "@L": ("AH", "L"),
    "@2": ("AH",),
    "@5": ("AH",),
    "@": ("AH",),
    "a#": ("AH",),
    "aa": ("AE",),
    "a": ("AE",),
    "A:": ("AA",),
    "A": ("AA",),
    "E2": ("EH",),
    "E": ("EH",),
    "e": ("EH",),
    "i:": ("IY",),
    "i": ("IY",),
    "I#": ("IH",),
    "I2": ("IH",),
    "I": ("IH",),
    "0": ("AA",),
    "O:": ("AO",),
    "O": ("AO",),
    "u:": ("UW",),
    "u": ("UW",),
    "U": ("UH",),
    "V": ("AH",),
    "tS": ("CH",),
    "dZ": ("JH",),
    "t#": ("T",),
    "d#": ("D",),
    "n-": ("N",),
    "l-": ("L",),
    "r-": ("R",),
    "p": ("P",),
    "b": ("B",),
    "t": ("T",),
    "d": ("D",),
    "k": ("K",),
    "g": ("G",),
    "f": ("F",),
    "v": ("V",),
    "T": ("TH",),
    "D": ("DH",),
    "s": ("S",),
    "z": ("Z",),
    "S": ("SH",),
    "Z": ("ZH",),
    "h": ("HH",),
    "m": ("M",),
    "n": ("N",),
    "N": ("NG",),
    "l": ("L",),
    "r": ("R",),
    "w": ("W",),
    "j": ("Y",),
    "x": ("K",),
    "R": ("R",),
}
_LONGEST = max(len(k) for k in _PHONES)


def arpabet(word: str) -> list[str]:
    """A pronunciation of ``word`` in the recognizer's phones, from eSpeak NG's phonemes."""
    mnemonics = espeak.phonemes(word)
    phones: list[str] = []
    i = 0
    while i < len(mnemonics):
        for size in range(_LONGEST, 0, -1):
            piece = mnemonics[i : i + size]
            if piece in _PHONES:
                phones.extend(_PHONES[piece])
                i += size
                break
        else:
            i += 1  # stress marks, syllable breaks, spaces
    return phones


def _dictionary() -> dict[str, list[str]]:
    """The CMU dictionary's lines by word (a word's alternates ``word(2)`` listed under it)."""

    def build() -> dict[str, list[str]]:
        entries: dict[str, list[str]] = {}
        with open(general_paths()[1], encoding="utf-8") as lines:
            for line in lines:
                head = line.split(" ", 1)[0]
                entries.setdefault(head.split("(", 1)[0], []).append(line.rstrip("\n"))
        return entries

    return shared((RECOGNIZER_MODEL, "dictionary"), build)


def _general_unigrams() -> list[tuple[str, float]]:
    """The general model's :data:`GENERAL_WORDS` most likely words and their probabilities."""

    def build() -> list[tuple[str, float]]:
        from pocketsphinx import Config, LogMath, NGramModel  # type: ignore[import-untyped, unused-ignore]

        logmath = LogMath()
        model = NGramModel(Config(), logmath, str(general_paths()[0]))
        scored = []
        for word in _dictionary():
            score = model.prob([word])
            if score > -(1 << 28) and word.replace("'", "").isalpha():
                scored.append((word, float(logmath.exp(score))))
        scored.sort(key=lambda item: -item[1])
        return scored[:GENERAL_WORDS]

    return shared((RECOGNIZER_MODEL, "unigrams", GENERAL_WORDS), build)


def _sentences(texts: Sequence[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for text in texts:
        for part in re.split(r"(?<=[.!?;:])\s+|\n+", text):
            words = normalize_words(part)
            if words:
                out.append(words)
    return out


def build_language_model(texts: Sequence[str], folder: Path) -> dict[str, Any]:
    """Write ``domain.lm`` (ARPA) and ``domain.dict`` into ``folder``; returns what was built."""
    from pocketsphinx.lm import ArpaBoLM  # type: ignore[import-untyped, unused-ignore]

    sentences = _sentences(texts)
    lm = ArpaBoLM(text="\n".join(" ".join(s) for s in sentences), add_start=True)
    lm.compute()
    # Blend the unigrams: renormalise the domain's, mix in the general model's most frequent words.
    domain_total = sum(p for w, p in lm.prob_1.items())
    general = _general_unigrams()
    general_total = sum(p for _w, p in general) or 1.0
    blended: dict[str, float] = {w: DOMAIN_WEIGHT * p / domain_total for w, p in lm.prob_1.items()}
    for word, p in general:
        blended[word] = blended.get(word, 0.0) + (1 - DOMAIN_WEIGHT) * p / general_total
    lm.prob_1 = blended
    for word in blended:
        followers = lm.grams_2.get(word, {}) if word in lm.grams_2 else {}
        seen = sum(blended.get(w2, 0.0) for w2 in followers)
        lm.alpha_1[word] = lm.discount_mass / max(1e-9, 1.0 - seen) if followers else 1.0
    lm.count_1 = len(blended)
    # Pronunciations: the CMU dictionary's, else eSpeak NG's phonemes mapped to ARPAbet.
    dictionary = _dictionary()
    lines: list[str] = []
    guessed: dict[str, str] = {}
    for word in sorted(w for w in blended if not w.startswith("<")):
        if word in dictionary:
            lines.extend(dictionary[word])
            continue
        phones = arpabet(word)
        if phones:  # a word with no pronunciation stays in the model; the decoder skips it
            guessed[word] = " ".join(phones)
            lines.append(f"{word} {guessed[word]}")
    with open(folder / LM_FILE, "w", encoding="utf-8") as out:
        lm.write(out)
    (folder / DICT_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    domain_words = {w for s in sentences for w in s}
    return {
        "sentences": len(sentences),
        "domain_words": len(domain_words),
        "vocabulary": len(lines),
        "new_words": guessed,
    }


def _speak_16k(text: str, settings: espeak.VoiceSettings) -> Any:
    samples, rate = espeak.synthesize(text, settings)
    return espeak.to_int16(espeak.resample(samples, rate, RECOGNIZER_RATE))


def _wer(engine: Recognizer, audio: Sequence[Any], phrases: Sequence[str]) -> float:
    edits = words = 0
    for samples, phrase in zip(audio, phrases, strict=True):
        said = " ".join(
            _strip_alternates(w) for w, *_ in engine.decode(samples) if not w.startswith(("<", "["))
        )
        e, n = word_error_rate(phrase, said)
        edits, words = edits + e, words + n
    return edits / max(1, words)


def _strip_alternates(text: str) -> str:
    return re.sub(r"\(\d+\)", "", text)


class LocalAudioTraining(LocalFineTuningBase):
    """``LocalAdapter().fine_tuning.audio``: adapt the recognizer to a persona's vocabulary."""

    modality: ClassVar = "audio"

    def train(
        self,
        texts: Sequence[str] | None = None,
        *,
        held_out: Sequence[str] | None = None,
        name: str | None = None,
        budget_usd: float | None = None,
        voice: str = DEFAULT_VOICE,
        **options: Any,
    ) -> LocalFineTuneJob:
        """Build a domain language model from ``texts`` (what the persona says) and start measuring it.

        ``held_out``: phrases to measure word error rate on (spoken by eSpeak NG with ``voice``); when
        None, every fifth text is split off for that (and not trained on). ``name`` names the model
        ``pocketsphinx-en-us:<name>``. Returns a job at once; the model's metrics are ``wer_before``
        (general model) and ``wer_after`` (adapted) on the held-out phrases.
        """
        if options:
            raise InvalidArgument(
                f"local audio training does not take {', '.join(repr(k) for k in sorted(options))}; it takes "
                "texts, held_out, name, budget_usd and voice."
            )
        if isinstance(texts, str) or texts is None or not isinstance(texts, Sequence):
            raise InvalidArgument("texts must be a list of sentences the persona says (at least 2).")
        cleaned = [t for t in texts if isinstance(t, str) and normalize_words(t)]
        if len(cleaned) != len(texts):
            bad = next(i for i, t in enumerate(texts) if not (isinstance(t, str) and normalize_words(t)))
            raise InvalidArgument(
                f"texts[{bad}] has no words; every text must be a sentence with words in it."
            )
        if held_out is None:
            if len(cleaned) < 3:
                raise InvalidArgument(
                    "give at least 3 texts (every fifth is held out to measure the word error rate), "
                    "or pass held_out=[...] phrases to measure on."
                )
            every = 5 if len(cleaned) >= 5 else len(cleaned)
            probe = [t for i, t in enumerate(cleaned) if i % every == every - 1][:MAX_HELD_OUT]
            training = [t for t in cleaned if t not in probe]
        else:
            if isinstance(held_out, str) or not all(
                isinstance(t, str) and normalize_words(t) for t in held_out
            ):
                raise InvalidArgument("held_out must be a list of phrases with words in them.")
            probe = list(held_out)[:MAX_HELD_OUT]
            # a phrase measured on is never trained on, or the "held-out" error rate would flatter
            probing = {" ".join(normalize_words(t)) for t in probe}
            training = [t for t in cleaned if " ".join(normalize_words(t)) not in probing]
            if not probe:
                raise InvalidArgument("held_out is empty; pass phrases to measure on, or leave it out.")
            if not training:
                raise InvalidArgument(
                    "every text is also in held_out: the recognizer would learn nothing it is not measured "
                    "on; "
                    "pass held-out phrases that are not among the texts."
                )
        model_name = check_name(name) if name is not None else "domain"
        settings = resolve_voice(self.config, voice)
        config = self.config

        def trainer(ctx: TrainingContext) -> LocalModel:
            return _train(config, ctx, training, probe, settings, model_name, voice)

        return self._start(
            base_model=RECOGNIZER_MODEL,
            trainer=trainer,
            training_file=f"{len(training)} texts",
            budget_usd=budget_usd,
            name=model_name,
        )


def _train(
    config: LocalConfig,
    ctx: TrainingContext,
    training: builtins.list[str],
    probe: builtins.list[str],
    settings: espeak.VoiceSettings,
    name: str,
    voice: str,
) -> LocalModel:
    total = 2 * len(probe) + 2
    ctx.event(f"speaking {len(probe)} held-out phrases with {voice}", step=0, total_steps=total)
    audio = []
    for phrase in probe:
        audio.append(_speak_16k(phrase, settings))
        ctx.check_cancelled()
    general = recognizer(config, RECOGNIZER_MODEL)
    before = _wer(general, audio, probe)
    ctx.event(f"general model: WER {before:.3f}", step=len(probe), total_steps=total, wer_before=before)
    ctx.check_cancelled()
    built = build_language_model(training, ctx.staging)
    ctx.event(
        f"domain model: {built['sentences']} sentences, {built['vocabulary']} dictionary entries, "
        f"{len(built['new_words'])} new words",
        step=len(probe) + 1,
        total_steps=total,
    )
    ctx.check_cancelled()
    adapted = Recognizer(ctx.staging / LM_FILE, ctx.staging / DICT_FILE)
    after = _wer(adapted, audio, probe)
    ctx.event(
        f"adapted model: WER {after:.3f} (was {before:.3f})",
        step=total,
        total_steps=total,
        wer_before=before,
        wer_after=after,
    )
    return LocalModel(
        id=f"{RECOGNIZER_MODEL}:{name}",
        modality="transcription",
        kind="language-model",
        base_model=RECOGNIZER_MODEL,
        description=f"PocketSphinx adapted to {len(training)} texts",
        metrics={
            "wer_before": before,
            "wer_after": after,
            "held_out_phrases": float(len(probe)),
            "training_texts": float(len(training)),
            "vocabulary": float(built["vocabulary"]),
            "new_words": float(len(built["new_words"])),
        },
        params={
            "lm": LM_FILE,
            "dict": DICT_FILE,
            "domain_weight": DOMAIN_WEIGHT,
            "general_words": GENERAL_WORDS,
            "new_words": built["new_words"],
            "held_out": probe,
            "voice": voice,
        },
    )
