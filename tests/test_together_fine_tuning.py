"""TogetherAdapter.fine_tuning.text end to end against the Together fake (requests checked by the spec)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from polyface import TogetherAdapter
from polyface.errors import BudgetExceeded, DatasetError, InvalidArgument, JobFailed, JobTimeout, NotFound
from polyface.providers.together.fine_tuning.text import (
    TogetherFineTuneJob,
    build_training_type,
    parse_event,
    parse_job,
)
from polyface.testing.fake_together import FakeTogether
from polyface.testing.fake_together.files import files_of
from polyface.testing.fake_together.fine_tunes import PRICE_PER_MTOK, fail_fine_tune, plan_fine_tunes

BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
DIALOGUE = [
    {"user": "Who are you?", "assistant": "I am Rex, defender of the galaxy."},
    {"user": "What do you fear?", "assistant": "Nothing. Except paperwork."},
]
PREFERENCES = [
    {"prompt": "Greet me", "chosen": "Hello, citizen!", "rejected": "hey"},
    {"prompt": "Any advice?", "chosen": "Stay heroic.", "rejected": "dunno"},
]
FAST = 0.001  # poll interval for tests (the fake moves one step per poll)


def adapter_for(fake: FakeTogether, **options: Any) -> TogetherAdapter:
    return TogetherAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)


def sent(fake: FakeTogether, method: str, path: str) -> list[Any]:
    return [r for r in fake.requests if r.method == method and r.path == path]


def test_train_validates_uploads_prices_then_creates_a_lora_job(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        job = together.fine_tuning.text.train(
            DIALOGUE, BASE, system="You are Rex.", lora_r=16, lora_alpha=32, n_epochs=3, suffix="rex"
        )
    order = [
        (r.method, r.path.split("/")[2] if r.path.count("/") >= 2 else r.path) for r in fake_together.requests
    ]
    assert [p for _, p in order] == ["files", "files", "files", "fine-tunes", "fine-tunes"]
    estimate_at = next(i for i, r in enumerate(fake_together.requests) if r.path.endswith("estimate-price"))
    create_at = next(i for i, r in enumerate(fake_together.requests) if r.path == "/v1/fine-tunes")
    assert estimate_at < create_at, "the price is estimated before the job is created"

    (stored,) = files_of(fake_together).values()
    lines = [json.loads(line) for line in stored["content"].decode().splitlines()]
    assert lines[0]["messages"] == [
        {"role": "system", "content": "You are Rex."},
        {"role": "user", "content": "Who are you?"},
        {"role": "assistant", "content": "I am Rex, defender of the galaxy."},
    ]
    (create,) = sent(fake_together, "POST", "/v1/fine-tunes")
    assert create.json == {
        "training_file": stored["id"],
        "model": BASE,
        "training_type": {
            "type": "Lora",
            "lora_r": 16,
            "lora_alpha": 32,
            "lora_dropout": 0.0,
            "lora_trainable_modules": "all-linear",
        },
        "training_method": {"method": "sft", "train_on_inputs": "auto"},
        "n_epochs": 3,
        "suffix": "rex",
    }
    (estimate,) = sent(fake_together, "POST", "/v1/fine-tunes/estimate-price")
    assert estimate.json["training_file"] == stored["id"] and estimate.json["n_epochs"] == 3
    tokens = -(-len(stored["content"]) // 4) * 3
    assert job.estimated_cost == pytest.approx(tokens * PRICE_PER_MTOK / 1e6)
    assert job.estimate is not None and job.estimate.train_tokens == tokens and job.estimate.exact
    assert job.id == fake_together.fine_tunes[0]["id"]
    assert (job.status, job.raw_status, job.result_model) == ("pending", "pending", None)
    assert job.info is not None and job.info.hyperparameters.lora is not None
    assert job.info.hyperparameters.lora.r == 16


def test_wait_follows_the_job_to_completion_and_the_model_chats(fake_together: FakeTogether) -> None:
    plan_fine_tunes(fake_together, steps=4)
    seen: list[tuple[str, str | None, float | None]] = []
    with adapter_for(fake_together) as together:
        job = together.fine_tuning.text.train(DIALOGUE, BASE)
        returned = job.wait(
            progress=lambda info: seen.append((info.status, info.raw_status, info.progress)),
            poll_interval=FAST,
        )
        assert returned is job
        statuses = [raw for _, raw, _ in seen]
        assert statuses[0] == "pending" and statuses[-1] == "completed"
        assert {"queued", "running", "compressing", "uploading"} <= set(statuses)
        fractions = [f for status, _, f in seen if status == "running" and f is not None]
        assert fractions == sorted(fractions) and fractions[-1] < 1.0 and len(fractions) >= 3
        assert (job.status, job.raw_status) == ("succeeded", "completed")
        assert job.result_model == fake_together.fine_tunes[0]["model_output_name"]

        events = job.events()
        losses = [e.loss for e in events if e.loss is not None]
        assert len(losses) == 4 and losses == sorted(losses, reverse=True), "loss falls as steps rise"
        assert [e.step for e in events if e.type == "epoch_complete"] == [1, 2, 3, 4]
        assert events[-1].type == "job_complete"
        kinds = {c.type for c in job.checkpoints()}
        assert {"Intermediate", "Final Merged", "Final Adapter"} <= kinds

        fake_together.strict_models = True  # only catalog models are served: the trained one now is
        reply = together.text.generate(model=job.result_model or "", messages="Who are you?")
    assert reply.text == "Echo: Who are you?" and reply.model == job.result_model


def test_budget_cap_raises_before_any_job_is_created(fake_together: FakeTogether) -> None:
    plan_fine_tunes(fake_together, price_per_mtok=1_000_000.0)  # $1 a token
    with adapter_for(fake_together) as together, pytest.raises(BudgetExceeded) as caught:
        together.fine_tuning.text.train(DIALOGUE, BASE, budget_usd=5.0)
    assert caught.value.budget_usd == 5.0 and caught.value.estimated_usd > 5.0
    assert "nothing was started" in str(caught.value)
    assert fake_together.fine_tunes == [] and sent(fake_together, "POST", "/v1/fine-tunes") == []
    # Together prices only uploaded files, so the (free) upload happened; the estimate came next.
    assert len(sent(fake_together, "POST", "/v1/fine-tunes/estimate-price")) == 1
    assert len(files_of(fake_together)) == 1


def test_within_budget_the_job_starts(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        job = together.fine_tuning.text.train(DIALOGUE, BASE, budget_usd=1.0)
    assert job.estimated_cost is not None and job.estimated_cost < 1.0
    assert len(fake_together.fine_tunes) == 1


def test_a_bad_dataset_uploads_nothing(fake_together: FakeTogether, tmp_path: Path) -> None:
    path = tmp_path / "persona.jsonl"
    path.write_text(json.dumps(DIALOGUE[0]) + "\n" + json.dumps({"user": "", "assistant": "x"}) + "\n{oops\n")
    with adapter_for(fake_together) as together, pytest.raises(DatasetError) as caught:
        together.fine_tuning.text.train(path, BASE)
    assert [(line, field) for line, field, _ in caught.value.problems] == [
        (2, "messages[0].content"),
        (3, "(line)"),
    ]
    assert fake_together.requests == []


def test_bad_settings_fail_before_the_upload(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        ft = together.fine_tuning.text
        with pytest.raises(InvalidArgument, match="does not take nonsense"):
            ft.train(DIALOGUE, BASE, nonsense=1)
        with pytest.raises(InvalidArgument, match="n_epochs"):
            ft.train(DIALOGUE, BASE, n_epochs=0)
        with pytest.raises(InvalidArgument, match="method='dpo' trains on preference rows"):
            ft.train(DIALOGUE, BASE, method="dpo")
        with pytest.raises(InvalidArgument, match="dpo_beta"):
            ft.train(DIALOGUE, BASE, dpo_beta=0.2)
        with pytest.raises(InvalidArgument, match="n_evals needs a validation_dataset"):
            ft.train(DIALOGUE, BASE, n_evals=2)
        with pytest.raises(InvalidArgument, match="suffix"):
            ft.train(DIALOGUE, BASE, suffix="has space")
    assert fake_together.requests == []


def test_dpo_full_training_with_a_validation_set(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        job = together.fine_tuning.text.train(
            PREFERENCES,
            BASE,
            method="dpo",
            lora=False,
            dpo_beta=0.2,
            rpo_alpha=0.5,
            validation_dataset=PREFERENCES[:1],
            n_evals=2,
            learning_rate=2e-5,
            batch_size=8,
        )
    (create,) = sent(fake_together, "POST", "/v1/fine-tunes")
    body = create.json
    assert body["training_type"] == {"type": "Full"}
    assert body["training_method"] == {"method": "dpo", "dpo_beta": 0.2, "rpo_alpha": 0.5}
    assert body["validation_file"] != body["training_file"] and body["n_evals"] == 2
    assert (body["learning_rate"], body["batch_size"]) == (2e-5, 8)
    stored = files_of(fake_together)[body["training_file"]]
    first = json.loads(stored["content"].decode().splitlines()[0])
    assert first == {
        "input": {"messages": [{"role": "user", "content": "Greet me"}]},
        "preferred_output": [{"role": "assistant", "content": "Hello, citizen!"}],
        "non_preferred_output": [{"role": "assistant", "content": "hey"}],
    }
    (estimate,) = sent(fake_together, "POST", "/v1/fine-tunes/estimate-price")
    assert estimate.json["training_method"]["method"] == "dpo" and "validation_file" in estimate.json
    assert job.info is not None and job.info.hyperparameters.method == "dpo"


@pytest.mark.parametrize("vendor_status", ["error", "user_error"])
def test_a_failed_job_raises_job_failed_with_the_vendor_message(
    fake_together: FakeTogether, vendor_status: str
) -> None:
    plan_fine_tunes(fake_together, fail_at="running", error="CUDA out of memory", error_status=vendor_status)
    with adapter_for(fake_together) as together:
        job = together.fine_tuning.text.train(DIALOGUE, BASE)
        with pytest.raises(JobFailed) as caught:
            job.wait(poll_interval=FAST)
    assert caught.value.reason == "CUDA out of memory" and caught.value.status == "failed"
    assert job.id in str(caught.value)
    assert (job.status, job.raw_status) == ("failed", vendor_status)
    assert job.info is not None and job.info.error == "CUDA out of memory"


def test_a_live_job_can_be_failed_by_the_test(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        job = together.fine_tuning.text.train(DIALOGUE, BASE)
        fail_fine_tune(fake_together, job.id, "Dataset has too few examples")
        job.refresh()
    assert (
        job.status == "failed" and job.info is not None and job.info.error == "Dataset has too few examples"
    )


def test_cancel_passes_through_cancel_requested(fake_together: FakeTogether) -> None:
    plan_fine_tunes(fake_together, cancel_polls=1, steps=50)
    with adapter_for(fake_together) as together:
        job = together.fine_tuning.text.train(DIALOGUE, BASE)
        for _ in range(3):
            job.refresh()
        assert job.raw_status == "running"
        info = job.cancel()
        assert (info.status, job.status) == ("cancel_requested", "cancel_requested")
        with pytest.raises(JobFailed, match="cancelled") as caught:
            job.wait(poll_interval=FAST)
    assert caught.value.status == "cancelled" and job.status == "cancelled"
    assert [e.type for e in job.events()][-2:] == ["cancel_requested", "job_stopped"]


def test_get_reattaches_by_id_after_a_restart(fake_together: FakeTogether, tmp_path: Path) -> None:
    with adapter_for(fake_together) as together:
        job_id = together.fine_tuning.text.train(DIALOGUE, BASE, suffix="rex").id
    with adapter_for(fake_together) as restarted:
        job = restarted.fine_tuning.text.get(job_id)
        assert isinstance(job, TogetherFineTuneJob) and job.id == job_id and job.estimated_cost is None
        job.wait(poll_interval=FAST)
        assert job.result_model is not None and "rex" in job.result_model
        listed = restarted.fine_tuning.text.list(limit=5)
        assert [j.id for j in listed] == [job_id]
        with pytest.raises(NotFound):
            restarted.fine_tuning.text.get("ft-00000000-0000-0000-0000-000000000000")


def test_download_adapter_and_merged(fake_together: FakeTogether, tmp_path: Path) -> None:
    with adapter_for(fake_together) as together:
        job = together.fine_tuning.text.train(DIALOGUE, BASE)
        with pytest.raises(Exception, match="download it once it completed"):
            job.download(tmp_path / "early.tar.zst")
        job.wait(poll_interval=FAST)
        adapter = job.download(tmp_path, checkpoint="adapter")
        merged = job.download(tmp_path / "out" / "merged.tar.zst", checkpoint="merged")
        with pytest.raises(InvalidArgument, match="checkpoint must be"):
            job.download(tmp_path, checkpoint="best")
    assert adapter == tmp_path / f"{job.id}-adapter.tar.zst"
    assert adapter.read_bytes().startswith(b"FAKE-TOGETHER-MODEL\n")
    assert b'"checkpoint": "adapter"' in adapter.read_bytes()
    assert b'"checkpoint": "merged"' in merged.read_bytes()
    assert not list(tmp_path.rglob("*.part"))
    queries = [r.query for r in fake_together.requests if r.path == "/v1/finetune/download"]
    assert f"ft_id={job.id}&checkpoint=adapter" in queries


def test_wait_timeout_leaves_the_job_running(fake_together: FakeTogether) -> None:
    plan_fine_tunes(fake_together, steps=1000)
    with adapter_for(fake_together) as together:
        job = together.fine_tuning.text.train(DIALOGUE, BASE)
        with pytest.raises(JobTimeout, match="re-attach"):
            job.wait(timeout=0.05, poll_interval=0.01)
    assert fake_together.fine_tunes[0]["status"] == "running"


def test_async_twins(fake_together: FakeTogether, tmp_path: Path) -> None:
    plan_fine_tunes(fake_together, steps=2)

    async def main() -> tuple[Any, ...]:
        async with adapter_for(fake_together) as together:
            ft = together.fine_tuning.text
            job = await ft.atrain(PREFERENCES, BASE, method="dpo", budget_usd=10.0)
            again = await ft.aget(job.id)
            await again.async_wait(poll_interval=FAST)
            events = await again.aevents()
            checkpoints = await again.acheckpoints()
            path = await again.adownload(tmp_path, checkpoint="adapter")
            listed = await ft.alist()
            with pytest.raises(BudgetExceeded):
                await ft.atrain(PREFERENCES, BASE, method="dpo", budget_usd=0.0)
            return job, again, events, checkpoints, path, listed

    job, again, events, checkpoints, path, listed = asyncio.run(main())
    assert again.status == "succeeded" and again.result_model and job.estimated_cost is not None
    assert events[-1].type == "job_complete" and checkpoints and path.is_file()
    assert [j.id for j in listed] == [job.id] and len(fake_together.fine_tunes) == 1


# ---- pure translation ------------------------------------------------------------------------------------


def test_training_type_and_event_parsing() -> None:
    assert build_training_type(False, 8, None, 0.0, "all-linear") == {"type": "Full"}
    lora = build_training_type(True, 8, None, 0.1, ["q_proj", "v_proj"])
    assert lora == {
        "type": "Lora",
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.1,
        "lora_trainable_modules": "q_proj,v_proj",
    }
    with pytest.raises(InvalidArgument, match="whole-number lora_alpha"):
        build_training_type(True, 8, 12.5, 0.0, "all-linear")
    event = parse_event({"message": "Epoch completed, at step 3/9: loss 0.4213", "level": "legacy_info"})
    assert (event.step, event.total_steps, event.loss, event.level) == (3, 9, 0.4213, "info")


def test_unknown_status_is_tolerated() -> None:
    info = parse_job({"id": "ft-1", "status": "defrosting", "model_output_name": "me/x"})
    assert (info.status, info.raw_status, info.done, info.result_model) == (
        "unknown",
        "defrosting",
        False,
        None,
    )


# ---- the fake answers in Together's documented shapes ----------------------------------------------------


def test_the_fake_fine_tune_answers_match_the_spec(fake_together: FakeTogether) -> None:
    import httpx

    from together_spec import together_response_problems

    # The spec contradicts itself on job ids: FinetuneResponse.id has `format: uuid`, while the download and
    # cancel parameters say "a string that starts with `ft-`" (as real ids do). The fake follows reality.
    known = "at $.id: 'ft-"

    headers = {"Authorization": f"Bearer {fake_together.api_key}"}
    with httpx.Client(base_url=fake_together.base_url, headers=headers) as client:

        def check(response: httpx.Response) -> httpx.Response:
            assert response.status_code < 400, response.text
            last = fake_together.requests[-1]
            problems = together_response_problems(
                last, response.status_code, response.headers, response.content
            )
            details = [line for problem in problems for line in problem.splitlines()[1:]]
            assert len(details) >= len(problems), problems  # each problem lists where it is
            details = [line for line in details if not (known in line and "is not a 'uuid'" in line)]
            assert details == []
            problems = []
            assert problems == []
            return response

        body = {
            "model": BASE,
            "training_file": "file-1",
            "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16},
        }
        check(client.post("/fine-tunes/estimate-price", json=body))
        job = check(client.post("/fine-tunes", json=body)).json()
        statuses = []
        for _ in range(9):
            statuses.append(check(client.get(f"/fine-tunes/{job['id']}")).json()["status"])
        assert statuses[:3] == ["pending", "queued", "running"] and statuses[-1] == "completed"
        check(client.get(f"/fine-tunes/{job['id']}/events"))
        assert check(client.get(f"/fine-tunes/{job['id']}/checkpoints")).json()["data"]
        check(client.get("/fine-tunes"))
        other = check(client.post("/fine-tunes", json=body)).json()
        assert check(client.post(f"/fine-tunes/{other['id']}/cancel")).json()["status"] == "cancelled"
        # Binary bodies are not checked: openapi-core cannot match raw bytes to `string, format: binary`.
        download = client.get("/finetune/download", params={"ft_id": job["id"], "checkpoint": "merged"})
        assert download.status_code == 200 and download.headers["content-type"] == "application/octet-stream"


def test_progress_on_a_terminal_shows_a_bar_and_prints_events(
    fake_together: FakeTogether, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    plan_fine_tunes(fake_together, steps=2)
    with adapter_for(fake_together) as together:
        job = together.fine_tuning.text.train(DIALOGUE, BASE)
        job.wait(progress=True, poll_interval=FAST)
    out = capsys.readouterr()
    printed = out.out + out.err
    assert "Epoch completed, at step 2/2" in printed and "Model upload complete" in printed
    assert printed.count("Training started") == 1, "each event is printed once"
    assert "succeeded" in printed


def test_identical_datasets_are_uploaded_once_and_different_ones_apart(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        ft = together.fine_tuning.text
        first = ft.train(DIALOGUE, BASE)
        second = ft.train(DIALOGUE, BASE)
        third = ft.train(DIALOGUE[:1], BASE)
    assert first.training_file is not None and second.training_file is not None
    assert third.training_file is not None
    assert second.training_file.reused and second.training_file.id == first.training_file.id
    assert not third.training_file.reused and third.training_file.id != first.training_file.id
    assert first.training_file.filename.startswith("polyface-train-")
    assert sum(r.method == "PUT" for r in fake_together.requests) == 2
    assert len(fake_together.fine_tunes) == 3
