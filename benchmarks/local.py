"""The local provider measured on this machine, each line against a baseline measured in the same run.

Sections (each runs in its own process, so its peak memory is its own):

- ``llama``: tokens/s of ``LocalAdapter(engine="llama.cpp").text.generate`` against bare
  llama-cpp-python on the same GGUF, prompt, sampling and threads (rounds alternate); ratio bare/polyface
  of time per token (goal <= 1.10).
- ``transformers``: tokens/s of polyface's transformers engine against ``model.generate`` of the same
  model in the same dtype; also its speed relative to the llama.cpp section.
- ``lora``: seconds per LoRA step (batch 4) against one forward+backward of the same batch without
  polyface (the floor), i.e. polyface's training loop overhead.
- ``tts`` / ``stt`` / ``video``: real-time factors (seconds of work per second of media: < 1 is faster
  than real time).

Run: ``.venv/bin/python benchmarks/local.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODEL = "smollm2-135m-instruct"
MESSAGES = [{"role": "user", "content": "Tell me a story about a dragon who learns to cook."}]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_llama(quick: bool) -> dict[str, Any]:
    from llama_cpp import Llama

    from polyface import LocalAdapter
    from polyface.providers.local import assets
    from polyface.providers.local.llm.engine import Sampling

    tokens = 32 if quick else 128
    rounds = 2 if quick else 5
    local = LocalAdapter(engine="llama.cpp")
    threads = local.config.threads
    engine = local.text._engine(MODEL, "llama.cpp")
    prompt, stops = engine.format(MESSAGES)  # type: ignore[attr-defined]
    s = Sampling(max_tokens=tokens, temperature=0.0)
    bare = Llama(
        model_path=str(assets.smollm2_gguf()),
        n_ctx=4096,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )

    def run_bare() -> tuple[float, int]:
        bare.reset()
        t = time.perf_counter()
        out = bare.create_completion(
            prompt=prompt,
            max_tokens=tokens,
            temperature=0.0,
            top_p=s.top_p,
            top_k=s.top_k,
            repeat_penalty=s.repetition_penalty,
            stop=stops,
        )
        return time.perf_counter() - t, int(out["usage"]["completion_tokens"])

    def run_polyface() -> tuple[float, int]:
        engine.rt.llm.reset()  # type: ignore[attr-defined]
        t = time.perf_counter()
        reply = local.text.generate(model=MODEL, messages=MESSAGES, temperature=0.0, max_tokens=tokens)
        return time.perf_counter() - t, reply.usage.output_tokens

    run_bare(), run_polyface()  # warm both
    bare_tps, poly_tps = [], []
    for _ in range(rounds):
        dt, n = run_bare()
        bare_tps.append(n / dt)
        dt, n = run_polyface()
        poly_tps.append(n / dt)
    b, p = statistics.median(bare_tps), statistics.median(poly_tps)
    return {
        "bare_tps": b,
        "polyface_tps": p,
        "ratio": b / p,
        "threads": threads,
        "tokens": tokens,
        "peak_mb": peak_mb(),
    }


def bench_transformers(quick: bool) -> dict[str, Any]:
    import torch

    from polyface import LocalAdapter

    tokens = 16 if quick else 64
    rounds = 1 if quick else 3
    local = LocalAdapter(engine="transformers")
    engine = local.text._engine(MODEL, "transformers")
    rt = engine.rt  # type: ignore[attr-defined]
    ids = torch.tensor([engine.prompt_ids(MESSAGES)])  # type: ignore[attr-defined]

    def run_bare() -> tuple[float, int]:
        t = time.perf_counter()
        with torch.inference_mode():
            out = rt.model.generate(
                ids,
                max_new_tokens=tokens,
                do_sample=False,
                repetition_penalty=1.1,
                pad_token_id=rt.tokenizer.eos_token_id,
            )
        return time.perf_counter() - t, int(out.shape[1] - ids.shape[1])

    def run_polyface() -> tuple[float, int]:
        t = time.perf_counter()
        reply = local.text.generate(model=MODEL, messages=MESSAGES, temperature=0.0, max_tokens=tokens)
        return time.perf_counter() - t, reply.usage.output_tokens

    run_bare(), run_polyface()
    bare_tps, poly_tps = [], []
    for _ in range(rounds):
        dt, n = run_bare()
        bare_tps.append(n / dt)
        dt, n = run_polyface()
        poly_tps.append(n / dt)
    b, p = statistics.median(bare_tps), statistics.median(poly_tps)
    return {
        "bare_tps": b,
        "polyface_tps": p,
        "ratio": b / p,
        "dtype": local.config.dtype,
        "peak_mb": peak_mb(),
    }


def bench_lora(quick: bool) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, get_peft_model

    from polyface import LocalAdapter
    from polyface.providers.local.llm.lora import LoraSettings, _batches, encode, train_lora
    from polyface.providers.local.llm.transformers_engine import load_base
    from polyface.training.text_dataset import load_text_dataset

    rows = load_text_dataset(
        Path(__file__).resolve().parents[1] / "src/polyface/samples/rex_dialogue.jsonl"
    ).rows
    rows = rows[:12] if quick else rows[:40]
    cache = LocalAdapter().config.cache_dir
    settings = LoraSettings(n_epochs=1, batch_size=4)
    model, tok = load_base(cache, "float32", trainable=True)
    with tempfile.TemporaryDirectory() as out:
        result = train_lora(
            model, tok, rows, rows[:4], settings, Path(out), lambda *a, **k: None, lambda: None
        )
    # the floor: forward + backward + optimizer step of the same batches, no polyface around it
    model, tok = load_base(cache, "float32", trainable=True)
    peft_model = get_peft_model(
        model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear")
    )
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-3)
    batches = _batches([encode(tok, r, settings.max_length) for r in rows], 4, tok.eos_token_id, None)
    t = time.perf_counter()
    for ids, labels, mask in batches:
        peft_model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    floor = (time.perf_counter() - t) / len(batches)
    return {
        "s_per_step": result.seconds_per_step,
        "floor_s_per_step": floor,
        "ratio": result.seconds_per_step / floor,
        "peak_mb": peak_mb(),
    }


TEXT = (
    "The road was long and the night was cold, but the lights of home were waiting at the end of it. "
    "Every mile brought the family closer, and every song on the radio sounded like a promise."
)


def bench_tts(quick: bool) -> dict[str, Any]:
    from polyface import LocalAdapter

    local = LocalAdapter()
    local.audio.speak(model="espeak-ng", text="warm up", voice="ivy")
    t = time.perf_counter()
    speech = local.audio.speak(model="espeak-ng", text=TEXT * (1 if quick else 4), voice="ivy")
    dt = time.perf_counter() - t
    assert speech.duration_seconds
    return {"rtf": dt / speech.duration_seconds, "audio_s": speech.duration_seconds, "peak_mb": peak_mb()}


def bench_stt(quick: bool) -> dict[str, Any]:
    from polyface import LocalAdapter

    local = LocalAdapter()
    speech = local.audio.speak(
        model="espeak-ng", text=TEXT * (1 if quick else 2), voice="ivy", sample_rate=16000
    )
    local.audio.transcribe(speech.audio[: 16000 * 2], model="pocketsphinx-en-us")  # load the model
    t = time.perf_counter()
    local.audio.transcribe(speech.audio, model="pocketsphinx-en-us")
    dt = time.perf_counter() - t
    assert speech.duration_seconds
    return {"rtf": dt / speech.duration_seconds, "audio_s": speech.duration_seconds, "peak_mb": peak_mb()}


def bench_video(quick: bool) -> dict[str, Any]:
    from polyface import LocalAdapter

    with tempfile.TemporaryDirectory() as data:
        local = LocalAdapter(data_dir=data)
        t = time.perf_counter()
        job = local.video.generate(
            model="talking-head", prompt="", text=TEXT, size="256x256" if quick else "512x512"
        )
        result = job.result(wait=True)
        dt = time.perf_counter() - t
    assert result.duration_seconds
    return {
        "rtf": dt / result.duration_seconds,
        "video_s": result.duration_seconds,
        "size": f"{result.width}x{result.height}",
        "peak_mb": peak_mb(),
    }


SECTIONS = {
    "llama": bench_llama,
    "transformers": bench_transformers,
    "lora": bench_lora,
    "tts": bench_tts,
    "stt": bench_stt,
    "video": bench_video,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run these sections")
    parser.add_argument("--section", choices=sorted(SECTIONS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.section:
        print(json.dumps(SECTIONS[args.section](args.quick)))
        return
    results: dict[str, dict[str, Any]] = {}
    for name in args.only or list(SECTIONS):
        cmd = [sys.executable, __file__, "--section", name, *(["--quick"] if args.quick else [])]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{name}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            sys.exit(1)
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    print("local provider, measured in one run (ratios against the baseline named on each line)")
    if "llama" in results:
        r = results["llama"]
        print(
            f"text llama.cpp    {r['polyface_tps']:.0f} tok/s vs bare llama-cpp-python {r['bare_tps']:.0f}: "
            f"{r['ratio']:.3f}x time per token (goal <= 1.10; {r['threads']} threads)  "
            f"peak {r['peak_mb']:.0f} MB"
        )
    if "transformers" in results:
        r = results["transformers"]
        line = (
            f"text transformers {r['polyface_tps']:.0f} tok/s vs model.generate {r['bare_tps']:.0f}: "
            f"{r['ratio']:.3f}x time per token ({r['dtype']})"
        )
        if "llama" in results:
            line += f"; llama.cpp is {results['llama']['polyface_tps'] / r['polyface_tps']:.1f} times faster"
        print(f"{line}  peak {r['peak_mb']:.0f} MB")
    if "lora" in results:
        r = results["lora"]
        print(
            f"LoRA training     {r['s_per_step']:.2f} s/step (batch 4) "
            f"vs bare PEFT step {r['floor_s_per_step']:.2f}: "
            f"{r['ratio']:.3f}x  peak {r['peak_mb']:.0f} MB"
        )
    for name, label, what in (
        ("tts", "speech (eSpeak)", "audio_s"),
        ("stt", "transcription", "audio_s"),
        ("video", "talking-head video", "video_s"),
    ):
        if name in results:
            r = results[name]
            extra = f" at {r['size']}" if "size" in r else ""
            print(
                f"{label:<17} real-time factor {r['rtf']:.3f} ({r[what]:.1f} s of media{extra})  "
                f"peak {r['peak_mb']:.0f} MB"
            )


if __name__ == "__main__":
    main()
