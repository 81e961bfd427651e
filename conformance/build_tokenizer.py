"""Build a small byte-level BPE tokenizer, offline, as a local Hugging Face tokenizer folder.

No tokenizer can be downloaded on the project machines, and both load generators (AIPerf,
GuideLLM) need one to synthesize prompts of an exact token length. This trains a BPE with the
``tokenizers`` package on the text shipped in ``workscope/samples`` (the trace files and their
SOURCE/LICENCE notes) and the repository's README, and saves it with ``transformers`` so that
``AutoTokenizer.from_pretrained(<folder>)`` -- what ``aiperf --tokenizer`` and ``guidellm
--processor`` call -- loads it from the path.

Byte-level, so every string encodes (no unknown token) and ``decode(encode(x)) == x``.

It is also laid out as a Hugging Face hub cache entry (``install_in_cache``), repo id
``workscope/bpe-samples``: AIPerf 0.13.0 decodes prompts in worker processes that force
``HF_HUB_OFFLINE=1``, and in offline mode it looks every tokenizer name up as a cached hub repo
(``snapshot_download(local_files_only=True)``), so a plain folder path fails there with
"Repo id must be in the form 'repo_name' or 'namespace/repo_name'" as soon as 10 or more prompts
are decoded. With ``HF_HUB_CACHE`` pointing at the cache and ``HF_HUB_OFFLINE=1`` both tools
load the same tokenizer by that repo id, with no network.

Usage: python conformance/build_tokenizer.py OUT_DIR
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "workscope" / "samples"
VOCAB = 2048
MAX_LINES_PER_FILE = 4000


def corpus() -> Iterator[str]:
    """Lines of the samples (first lines of each file) and the project's prose."""
    for path in sorted(SAMPLES.rglob("*")):
        if not path.is_file() or path.suffix == ".py" or "__pycache__" in path.parts:
            continue
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rt", encoding="utf-8", errors="replace") as f:
                for i, line in enumerate(f):
                    if i >= MAX_LINES_PER_FILE:
                        break
                    yield line
        except OSError:
            continue
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        if doc.is_file():
            yield from doc.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)


def build(out: Path) -> Path:
    """Train the tokenizer and save it under ``out``; returns ``out``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                                   eos_token="<|endoftext|>", unk_token="<|endoftext|>",
                                   model_max_length=1 << 20)
    # A chat template, for clients that format chat messages with the tokenizer.
    fast.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                          "{% if add_generation_prompt %}assistant: {% endif %}")
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out))
    return out


REPO_ID = "workscope/bpe-samples"
REVISION = "0" * 40


def install_in_cache(folder: Path, hub_cache: Path, repo_id: str = REPO_ID) -> str:
    """Lay ``folder`` out as the hub cache entry of ``repo_id`` (refs/main -> one snapshot) under
    ``hub_cache`` (what ``HF_HUB_CACHE`` names); returns the repo id."""
    import shutil

    entry = hub_cache / ("models--" + repo_id.replace("/", "--"))
    snap = entry / "snapshots" / REVISION
    snap.mkdir(parents=True, exist_ok=True)
    for f in folder.iterdir():
        shutil.copy2(f, snap / f.name)
    (entry / "refs").mkdir(exist_ok=True)
    (entry / "refs" / "main").write_text(REVISION)
    return repo_id


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: build_tokenizer.py OUT_DIR")
    print(build(Path(sys.argv[1])))
