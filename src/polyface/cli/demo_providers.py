"""``polyface demo --providers``: an offline showcase of the provider layer (no key, no network).

It starts the local Together fake (a server on 127.0.0.1 speaking Together's wire
format) and drives ``TogetherAdapter`` against it: the catalog with prices, a reply
with usage and cost, a streamed reply, a rate-limit storm ridden out by retries, a
vendor error turned into a polyface error, and 32 concurrent async calls.
"""

from __future__ import annotations

import asyncio
import time

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def run(console: Console | None = None) -> None:
    console = console or Console()
    try:
        from polyface.testing.fake_together import FakeTogether
    except ImportError:  # pragma: no cover - depends on the install
        console.print("[red]The demo needs the local fake server: pip install 'polyface[fake]'[/]")
        raise
    from polyface import TogetherAdapter, errors

    console.print(
        Panel.fit("polyface offline demo: TogetherAdapter against a local Together fake", style="bold")
    )
    with FakeTogether() as fake, TogetherAdapter(api_key=fake.api_key, base_url=fake.base_url) as together:
        console.print(f"[dim]fake Together API at {fake.base_url}[/]\n")

        table = Table(title="1. together.models(): the catalog, fetched once and cached")
        table.add_column("model", no_wrap=True)
        for col in ("modality", "$ in / Mtok", "$ out / Mtok"):
            table.add_column(col)
        for m in together.models():
            p = m.pricing
            table.add_row(
                m.id, m.modality, f"{p.input_per_mtok:g}" if p else "", f"{p.output_per_mtok:g}" if p else ""
            )
        console.print(table)

        console.print("\n[bold]2. together.text.generate(...)[/]")
        reply = together.text.generate(
            model=MODEL, messages=[{"role": "user", "content": "Say hi like an action hero."}]
        )
        console.print(f"  text: {reply.text!r}")
        console.print(
            f"  usage: {reply.usage.input_tokens} in + {reply.usage.output_tokens} out tokens; "
            f"cost ${reply.cost:.8f}; finish_reason {reply.finish_reason}"
        )

        console.print("\n[bold]3. together.text.stream(...)[/]  ", end="")
        stream = together.text.stream(model=MODEL, messages="Nothing matters more than family and loyalty.")
        for delta in stream:
            console.print(delta.text, end="", highlight=False)
        console.print(
            f"\n  final: {stream.usage.total_tokens if stream.usage else 0} tokens, ${stream.cost:.8f}"
        )

        console.print("\n[bold]4. a 429 storm with retry-after: polyface waits and retries[/]")
        fake.fail("/v1/chat/completions", status=429, times=2, headers={"retry-after": "0.5"})
        start = time.monotonic()
        reply = together.text.generate(model=MODEL, messages="still there?")
        console.print(
            f"  got {reply.text!r} after {time.monotonic() - start:.2f} s "
            f"({together.config.http.stats['retries']} retries, waits from retry-after)"
        )

        console.print("\n[bold]5. vendor errors become polyface errors[/]")
        fake.fail(
            "/v1/chat/completions", status=404, body={"error": {"message": "model not found", "type": "x"}}
        )
        try:
            together.text.generate(model="no/such-model", messages="hi")
        except errors.NotFound as exc:
            console.print(f"  [yellow]{type(exc).__name__}[/]: {exc}")

        console.print("\n[bold]6. async: 32 concurrent together.text.agenerate(...)[/]")

        async def many() -> float:
            async with TogetherAdapter(api_key=fake.api_key, base_url=fake.base_url) as t:
                replies = await asyncio.gather(
                    *(t.text.agenerate(model=MODEL, messages=f"n{i}") for i in range(32))
                )
            return sum(r.cost or 0 for r in replies)

        start = time.monotonic()
        total = asyncio.run(many())
        console.print(f"  32 replies in {time.monotonic() - start:.2f} s, total cost ${total:.8f}")

    console.print(
        "\n[green]Done.[/] With a real key: export TOGETHER_API_KEY=... and run "
        f'[bold]polyface chat together {MODEL} "Hello"[/]'
    )
