"""A PEFT LoRA adapter rewritten as a GGUF LoRA file that llama.cpp loads (``lora_path``).

What llama.cpp's ``convert_lora_to_gguf.py`` does for a Llama-architecture model, written with the
``gguf`` package's writer: tensors renamed to GGUF's names (``blk.N.attn_q.weight.lora_a``...), the
``adapter.*`` keys set, and the rows of ``lora_b`` for the query and key projections permuted the way
the GGUF conversion permutes those weights (llama.cpp's rotary layout differs from Hugging Face's).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from polyface.errors import PolyfaceError

_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_TENSOR = re.compile(r"model\.layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])(?:\.\w+)?\.weight$")


def _permute(weights: Any, n_head: int) -> Any:
    """llama.cpp's query/key row order (as its converter's ``LlamaModel.permute``)."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def convert(adapter_dir: Path, out: Path, *, n_head: int, n_head_kv: int) -> int:
    """Write ``out`` from the PEFT adapter in ``adapter_dir``; returns the number of adapted matrices."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    alpha = float(config["lora_alpha"])
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    pairs: dict[tuple[int, str], dict[str, Any]] = {}
    for name, value in tensors.items():
        match = _TENSOR.search(name)
        if match is None or match.group(2) not in _NAMES:
            raise PolyfaceError(f"cannot convert adapter tensor {name!r} to GGUF (only Llama projections).")
        pairs.setdefault((int(match.group(1)), match.group(2)), {})[match.group(3)] = value
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for (layer, module), ab in sorted(pairs.items()):
        a = np.ascontiguousarray(ab["A"], dtype=np.float32)
        b = np.asarray(ab["B"], dtype=np.float32)
        if module == "self_attn.q_proj":
            b = _permute(b, n_head)
        elif module == "self_attn.k_proj":
            b = _permute(b, n_head_kv)
        base = f"blk.{layer}.{_NAMES[module]}.weight"
        writer.add_tensor(f"{base}.lora_a", a)
        writer.add_tensor(f"{base}.lora_b", np.ascontiguousarray(b))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return len(pairs)
