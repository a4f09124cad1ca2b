"""Tiny models and a synthetic task for tests and CPU smoke runs (no hub access).

``char_tokenizer`` is a character-level tokenizer built in memory; ``tiny_causal_lm`` a
randomly initialised Llama of a few hundred thousand parameters; ``shift_task`` a
character-level string transformation with a verifiable answer (each letter replaced
by the next one: ``abc>`` -> ``bcd``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ALPHABET",
    "ShiftTask",
    "char_tokenizer",
    "save_tiny_model",
    "shift_task",
    "tiny_causal_lm",
]

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 :>=-+?.,\n"
SPECIALS = ("<pad>", "<eos>", "<bos>", "<unk>")


def char_tokenizer(alphabet: str = ALPHABET) -> Any:
    """A fast tokenizer with one token per character and pad/eos/bos/unk specials."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate([*SPECIALS, *dict.fromkeys(alphabet)])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=core,
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<bos>",
        unk_token="<unk>",
    )


def tiny_causal_lm(tokenizer: Any, *, hidden: int = 64, layers: int = 2, seed: int = 0) -> Any:
    """A randomly initialised Llama sized for CPU tests."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def save_tiny_model(path: Path, *, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """Writes a tiny model and its tokenizer to ``path`` (a directory ``from_pretrained`` reads)."""
    tokenizer = char_tokenizer()
    model = tiny_causal_lm(tokenizer, hidden=hidden, layers=layers, seed=seed)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@dataclass(frozen=True)
class ShiftTask:
    """Prompts ``<letters>>`` whose answer is every letter moved one place on."""

    letters: str = "abcdefgh"
    min_len: int = 2
    max_len: int = 4

    def prompts(self, n: int, seed: int) -> list[str]:
        """``n`` random prompts."""
        rng = random.Random(seed)
        return [
            "".join(
                rng.choice(self.letters) for _ in range(rng.randint(self.min_len, self.max_len))
            )
            + ">"
            for _ in range(n)
        ]

    @staticmethod
    def answer(prompt: str) -> str:
        """The correct answer to a prompt."""
        return "".join(chr(ord(c) + 1) for c in prompt.rstrip(">"))


def shift_task() -> ShiftTask:
    """The default synthetic task."""
    return ShiftTask()
