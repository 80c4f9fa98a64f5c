"""The local provider's text: SmolLM2 on llama.cpp and transformers, and LoRA training that shifts it."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from polyface import LocalAdapter
from polyface.errors import DatasetError, InvalidArgument, JobFailed, NotFound
from polyface.providers.local import assets

BASE = "smollm2-135m-instruct"
ENGINES = ["transformers", *(["llama.cpp"] if assets.llama_cpp_available() else [])]
ASK = [{"role": "user", "content": "What is the capital of France?"}]


def rex_rows() -> list[dict[str, str]]:
    path = files("polyface.samples") / "rex_dialogue.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_llama_cpp_is_installed_for_the_suite() -> None:
    # The suite compares both engines: the dev install builds llama-cpp-python.
    assert assets.llama_cpp_available()


@pytest.mark.parametrize("engine", ENGINES)
def test_generate_answers_with_usage_on_each_engine(local: LocalAdapter, engine: str) -> None:
    reply = local.text.generate(model=BASE, messages=ASK, temperature=0, max_tokens=20, engine=engine)
    assert "paris" in reply.text.lower()
    assert reply.provider == "local" and reply.model == BASE
    assert reply.usage.input_tokens > 10 and 0 < reply.usage.output_tokens <= 20
    assert reply.usage.total_tokens == reply.usage.input_tokens + reply.usage.output_tokens
    assert reply.cost == 0.0
    assert reply.finish_reason in ("stop", "length")


@pytest.mark.parametrize("engine", ENGINES)
def test_stream_joins_to_the_whole_answer(local: LocalAdapter, engine: str) -> None:
    messages = [{"role": "user", "content": "List three fruits."}]
    whole = local.text.generate(model=BASE, messages=messages, temperature=0, max_tokens=30, engine=engine)
    deltas = list(
        local.text.stream(model=BASE, messages=messages, temperature=0, max_tokens=30, engine=engine)
    )
    assert len(deltas) > 3
    assert "".join(d.text for d in deltas) == whole.text
    assert deltas[-1].usage is not None and deltas[-1].usage.output_tokens == whole.usage.output_tokens
    assert all(d.finish_reason is None for d in deltas[:-1]) and deltas[-1].finish_reason is not None


@pytest.mark.parametrize("engine", ENGINES)
def test_max_tokens_and_stop(local: LocalAdapter, engine: str) -> None:
    long = local.text.generate(
        model=BASE, messages=[{"role": "user", "content": "Write a story."}], max_tokens=5, engine=engine
    )
    assert long.finish_reason == "length" and long.usage.output_tokens <= 5
    messages = [{"role": "user", "content": "Write one sentence about the sea."}]
    free = local.text.generate(model=BASE, messages=messages, temperature=0, max_tokens=40, engine=engine)
    word = free.text.split()[3]
    cut = local.text.generate(
        model=BASE, messages=messages, temperature=0, max_tokens=40, stop=[word], engine=engine
    )
    assert cut.text == free.text[: free.text.index(word)]
    assert cut.finish_reason == "stop"


def test_seeded_sampling_repeats_and_completion_continues(local: LocalAdapter) -> None:
    messages = [{"role": "user", "content": "Invent a name for a boat."}]
    a = local.text.generate(model=BASE, messages=messages, temperature=1.0, seed=7, max_tokens=15)
    b = local.text.generate(model=BASE, messages=messages, temperature=1.0, seed=7, max_tokens=15)
    assert a.text == b.text
    done = local.text.complete(model=BASE, prompt="The capital of France is", temperature=0, max_tokens=5)
    assert "paris" in done.text.lower()


async def test_async_twins(local: LocalAdapter) -> None:
    reply = await local.text.agenerate(model=BASE, messages=ASK, temperature=0, max_tokens=10)
    assert (
        reply.text
        and reply.text == local.text.generate(model=BASE, messages=ASK, temperature=0, max_tokens=10).text
    )
    pieces = [d async for d in local.text.astream(model=BASE, messages=ASK, temperature=0, max_tokens=10)]
    assert "".join(p.text for p in pieces) == reply.text
    # leaving early stops the worker: the model is free again at once
    from contextlib import aclosing

    async with aclosing(local.text.astream(model=BASE, messages=ASK, max_tokens=200)) as stream:
        async for _ in stream:
            break
    again = await asyncio.wait_for(
        local.text.agenerate(model=BASE, messages=ASK, temperature=0, max_tokens=10), timeout=60
    )
    assert again.text == reply.text


def test_multi_token_characters_decode_like_generate(local: LocalAdapter) -> None:
    # emoji and CJK take several tokens per character: the decode loop must keep feeding them
    import torch

    engine = local.text._engine(BASE, "transformers")
    rt = engine.rt  # type: ignore[attr-defined]
    prompt = "Here are some emojis: 🌐 🌟 🚀 and some Japanese: こんにちは"
    ours = local.text.complete(
        model=BASE, prompt=prompt, temperature=0, repetition_penalty=1.0, max_tokens=16, engine="transformers"
    )
    ids = torch.tensor([rt.tokenizer(prompt)["input_ids"]])
    with torch.inference_mode():
        out = rt.model.generate(
            ids, max_new_tokens=16, do_sample=False, pad_token_id=rt.tokenizer.eos_token_id
        )
    theirs = rt.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert ours.text == theirs.rstrip("\ufffd") and "\ufffd" not in ours.text


def test_a_stream_left_open_refuses_a_second_call_on_the_same_thread(local: LocalAdapter) -> None:
    stream = local.text.stream(model=BASE, messages=ASK, max_tokens=50, engine="transformers")
    next(iter(stream))
    with pytest.raises(InvalidArgument, match="open stream"):
        local.text.generate(model=BASE, messages=ASK, max_tokens=5, engine="transformers")
    stream.close()  # type: ignore[attr-defined]
    assert local.text.generate(model=BASE, messages=ASK, max_tokens=5, engine="transformers").text


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"messages": []}, "messages is empty"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "role 'tool'"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
            "text only",
        ),
        ({"messages": ASK, "tools": [{"type": "function"}]}, "tool calling"),
        ({"messages": ASK, "frequency": 1}, "unknown option"),
        ({"messages": ASK, "n": 2}, "n=1"),
        ({"messages": ASK, "max_tokens": 0}, "max_tokens"),
        ({"messages": ASK, "engine": "vllm"}, "engine must be"),
    ],
)
def test_bad_requests_say_what_to_do(local: LocalAdapter, kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidArgument, match=needle):
        local.text.generate(model=BASE, **kwargs)


def test_unknown_model_lists_the_catalog(local: LocalAdapter) -> None:
    with pytest.raises(NotFound) as caught:
        local.text.generate(model="gpt-4o", messages=ASK)
    assert BASE in str(caught.value)


# ---- training -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, local_cache_dir: Path
) -> Iterator[tuple[Path, str, list[Any]]]:
    """One LoRA adapter trained on Rex's dialogue, shared by the tests below (about a minute)."""
    data_dir = tmp_path_factory.mktemp("rex-text")
    os.environ["POLYFACE_CACHE_DIR"] = str(local_cache_dir)
    adapter = LocalAdapter(data_dir=data_dir, cache_dir=local_cache_dir)
    seen: list[Any] = []
    job = adapter.fine_tuning.text.train(dataset=rex_rows(), name="rex", n_epochs=3)
    job.wait(progress=seen.append, timeout=900)
    assert job.result_model is not None
    yield data_dir, job.id, seen


@pytest.mark.slow
def test_lora_lowers_held_out_loss_and_reports_each_step(trained: tuple[Path, str, list[Any]]) -> None:
    data_dir, job_id, seen = trained
    local = LocalAdapter(data_dir=data_dir)
    job = local.fine_tuning.text.get(job_id)  # re-attached from a new adapter
    assert job.status == "succeeded" and job.result_model == f"{BASE}:rex"
    record = local.model(job.result_model)
    assert record.metrics["eval_loss_after"] < 0.8 * record.metrics["eval_loss_before"]
    assert record.metrics["eval_examples"] == 5 and record.metrics["train_examples"] == 43
    steps = [e for e in job.events() if e.loss is not None]
    assert [e.step for e in steps] == list(range(1, len(steps) + 1)) and len(steps) == steps[-1].total_steps
    assert steps[-1].loss < steps[0].loss
    assert len(seen) >= 1 and seen[-1].status == "succeeded"
    ids = [m.id for m in local.models()]
    assert f"{BASE}:rex" in ids and ids.index(BASE) < ids.index(f"{BASE}:rex")
    assert (record.folder / "adapter" / "adapter_model.safetensors").is_file()
    assert (record.folder / "adapter.gguf").is_file()


@pytest.mark.slow
def test_both_engines_give_the_adapters_persona(trained: tuple[Path, str, list[Any]]) -> None:
    data_dir, _, _ = trained
    local = LocalAdapter(data_dir=data_dir)
    questions = ["What do you care about?", "Where do you live?", "What is your favorite color?"]
    for engine in ENGINES:
        for question in questions:
            messages = [{"role": "user", "content": question}]
            base = local.text.generate(
                model=BASE, messages=messages, temperature=0, max_tokens=30, engine=engine
            )
            rex = local.text.generate(
                model=f"{BASE}:rex", messages=messages, temperature=0, max_tokens=30, engine=engine
            )
            assert rex.text.lower().startswith("listen, kid"), (engine, question, rex.text)
            assert "listen, kid" not in base.text.lower()
    # the same adapter on both engines answers alike (same weights, llama.cpp's quantised base)
    messages = [{"role": "user", "content": questions[2]}]
    answers = {
        engine: local.text.generate(
            model=f"{BASE}:rex", messages=messages, temperature=0, max_tokens=12, engine=engine
        ).text
        for engine in ENGINES
    }
    first_words = {engine: " ".join(text.split()[:3]) for engine, text in answers.items()}
    assert len(set(first_words.values())) == 1, answers


@pytest.mark.slow
def test_a_second_adapter_with_the_same_name_keeps_the_first(trained: tuple[Path, str, list[Any]]) -> None:
    data_dir, _, _ = trained
    local = LocalAdapter(data_dir=data_dir)
    job = local.fine_tuning.text.train(dataset=rex_rows()[:10], name="rex", n_epochs=1, validation_split=0.2)
    job.wait(timeout=600)
    assert job.result_model == f"{BASE}:rex-2"
    assert {f"{BASE}:rex", f"{BASE}:rex-2"} <= {m.id for m in local.models()}


def test_bad_dataset_is_refused_before_any_job(local: LocalAdapter, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"user": "hi", "assistant": "hello"}\nnot json\n{"user": "x"}\n', encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        local.fine_tuning.text.train(dataset=bad)
    assert "line 2" in str(caught.value) and "line 3" in str(caught.value)
    with pytest.raises(InvalidArgument, match="at least 5"):
        local.fine_tuning.text.train(dataset=rex_rows()[:3])
    with pytest.raises(InvalidArgument, match="model name"):
        local.fine_tuning.text.train(dataset=rex_rows(), name="../etc")
    assert local.fine_tuning.text.list() == []


def test_a_cancelled_job_stores_nothing(local: LocalAdapter) -> None:
    job = local.fine_tuning.text.train(dataset=rex_rows(), name="never")
    job.cancel()
    with pytest.raises(JobFailed, match="cancelled"):
        job.wait(timeout=300)
    assert job.status == "cancelled"
    assert all(m.id != f"{BASE}:never" for m in local.models())
    assert not any(
        p.name.startswith(".staging") for p in (local.config.data_dir / "local" / "models").iterdir()
    )


def test_a_job_whose_process_died_reads_as_interrupted(local: LocalAdapter) -> None:
    jobs = local.config.data_dir / "local" / "jobs"
    jobs.mkdir(parents=True)
    state = {
        "id": "ftjob-local-0123456789abcdef",
        "provider": "local",
        "modality": "text",
        "status": "running",
        "raw": {"pid": 2**22 + 12345},
    }
    (jobs / f"{state['id']}.json").write_text(json.dumps(state), encoding="utf-8")
    job = local.fine_tuning.text.get(str(state["id"]))
    assert job.status == "failed" and job.raw_status == "interrupted"
    with pytest.raises(InvalidArgument, match="trains text"):
        local.fine_tuning.voice.get(str(state["id"]))
