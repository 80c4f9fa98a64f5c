"""The local language model: SmolLM2 on two engines (llama.cpp, transformers), its LoRA adapters."""
