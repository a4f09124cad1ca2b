"""The ``sft`` learner of the continual-learning loop (:class:`atlas_core.loop.Learner`).

:class:`SFTLearner` fine-tunes a small causal LM in-process on the examples of one
:class:`~atlas_core.loop.LearningTask`: each example becomes ``prompt -> target`` where the
target is the user's gold answer (``reference``: a label, else an edit) or, without one, the
served output when its reward is at least ``min_reward``. It starts from the weights of
``task.base`` (the production version), or from ``base_path`` before any version exists,
trains with teacher forcing (loss on the target tokens only) and saves the result with
``save_pretrained`` under ``artifact_dir``; the candidate :class:`Version` points there.

It runs a plain PyTorch loop rather than TRL's SFTTrainer: a loop update trains for a few
seconds, and the trainer's set-up would cost more than the training itself. The prompt
format (``<bos> prompt``, answer, ``<eos>``) is the one :func:`greedy_answers` decodes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from atlas_core.errors import InvalidArgumentError
from atlas_core.ids import new_id
from atlas_core.loop import Example, LearnerResult, LearningTask, prompt_text
from atlas_core.types import Version, VersionKind, VersionStatus

__all__ = ["SFTLearner", "create_sft_learner", "greedy_answers", "load_artifact", "sft_pairs"]


@dataclass(frozen=True)
class _Codec:
    """Character <-> id maps of a character-level tokenizer (one token per character)."""

    to_id: dict[str, int]
    to_char: dict[int, str]
    bos: int
    eos: int
    pad: int

    @classmethod
    def of(cls, tokenizer: Any) -> _Codec:
        vocab: dict[str, int] = dict(tokenizer.get_vocab())
        return cls(
            to_id=vocab,
            to_char={i: t for t, i in vocab.items() if len(t) == 1},
            bos=int(tokenizer.bos_token_id),
            eos=int(tokenizer.eos_token_id),
            pad=int(tokenizer.pad_token_id),
        )

    def encode(self, text: str) -> list[int]:
        try:
            return [self.to_id[c] for c in text]
        except KeyError as exc:
            raise InvalidArgumentError(
                f"text: character {exc.args[0]!r} not in the vocabulary"
            ) from exc


@lru_cache(maxsize=16)
def load_artifact(path: str) -> tuple[Any, Any]:
    """The (model, tokenizer) saved at ``path``, loaded once per process (eval mode)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model: Any = AutoModelForCausalLM.from_pretrained(path)
    model.eval()
    return model, tokenizer


def sft_pairs(examples: Sequence[Example], min_reward: float) -> list[tuple[str, str]]:
    """``(prompt, target)`` for every example worth imitating (see the module docstring)."""
    out = []
    for e in examples:
        if e.reference is not None:
            out.append((prompt_text(e), e.reference))
        elif e.reward is not None and e.reward >= min_reward:
            out.append((prompt_text(e), e.output))
    return out


def greedy_answers(
    model: Any, tokenizer: Any, prompts: Sequence[str], max_new_tokens: int = 12
) -> list[str]:
    """The model's greedy answer to each prompt (prompts of one length decoded together)."""
    import torch

    codec = _Codec.of(tokenizer)
    answers = [""] * len(prompts)
    by_length: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        by_length.setdefault(len(p), []).append(i)
    with torch.inference_mode():
        for rows in by_length.values():
            ids = torch.tensor([[codec.bos, *codec.encode(prompts[i])] for i in rows])
            done = torch.zeros(len(rows), dtype=torch.bool)
            out: list[list[int]] = [[] for _ in rows]
            for _ in range(max_new_tokens):
                nxt = model(input_ids=ids).logits[:, -1].argmax(-1)
                for j, tok in enumerate(nxt.tolist()):
                    if not done[j]:
                        if tok == codec.eos:
                            done[j] = True
                        else:
                            out[j].append(tok)
                if bool(done.all()):
                    break
                ids = torch.cat([ids, nxt[:, None]], dim=1)
            for j, i in enumerate(rows):
                answers[i] = "".join(codec.to_char.get(t, "") for t in out[j])
    return answers


class SFTLearner:
    """Supervised fine-tuning of a small causal LM on a task's new + replay examples."""

    name = "sft"

    def __init__(
        self,
        *,
        artifact_dir: str | Path,
        model_name: str = "model",
        base_path: str | Path | None = None,
        steps: int = 150,
        batch_size: int = 32,
        learning_rate: float = 3e-3,
        min_reward: float = 0.8,
        seed: int = 0,
    ) -> None:
        if steps < 1 or batch_size < 1 or not learning_rate > 0:
            raise InvalidArgumentError(
                "sft learner: steps, batch_size and learning_rate must be > 0"
            )
        self.artifact_dir = Path(artifact_dir)
        self.model_name = model_name
        self.base_path = str(base_path) if base_path is not None else None
        self.steps = steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.min_reward = min_reward
        self.seed = seed
        self._updates = 0

    def learn(self, task: LearningTask) -> LearnerResult:
        """Trains from ``task.base`` (else ``base_path``) and returns the saved candidate."""
        pairs = sft_pairs(task.examples, self.min_reward)
        if not pairs:
            return LearnerResult.no_change("no example with a gold answer or a good enough reward")
        start = task.base.artifact_uri if task.base is not None else self.base_path
        if start is None:
            raise InvalidArgumentError("sft learner: no production version and no base_path")
        loss, path = self._train(start, pairs)
        version = Version(
            tenant_id=task.tenant,
            kind=VersionKind.MODEL,
            name=self.model_name,
            number=1,  # the loop numbers stored versions
            artifact_uri=str(path),
            parent_id=task.base.id if task.base is not None else None,
            status=VersionStatus.CANDIDATE,
            aliases=(),
        )
        return LearnerResult(
            version,
            samples_used=len(pairs),
            metrics={"train/loss": loss, "train/steps": float(self.steps)},
        )

    def _train(self, start: str, pairs: list[tuple[str, str]]) -> tuple[float, Path]:
        import copy

        import torch

        stable, tokenizer = load_artifact(start)
        model = copy.deepcopy(stable)  # the cached stable model keeps serving unchanged
        model.train()
        codec = _Codec.of(tokenizer)
        self._updates += 1
        rng = random.Random(self.seed * 1_000_003 + self._updates)
        torch.manual_seed(rng.randrange(2**31))
        encoded = [([codec.bos, *codec.encode(p)], [*codec.encode(t), codec.eos]) for p, t in pairs]
        optimizer = torch.optim.AdamW(model.parameters(), lr=self.learning_rate)
        # Linear decay to zero: a short run still ends on small, settling steps.
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 1.0 - step / self.steps
        )
        loss_value = float("nan")
        for _ in range(self.steps):
            batch = [encoded[rng.randrange(len(encoded))] for _ in range(self.batch_size)]
            width = max(len(p) + len(t) for p, t in batch)
            ids = torch.full((len(batch), width), codec.pad)
            labels = torch.full((len(batch), width), -100)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (p, t) in enumerate(batch):
                seq = p + t
                ids[row, : len(seq)] = torch.tensor(seq)
                labels[row, len(p) : len(seq)] = torch.tensor(t)
                mask[row, : len(seq)] = 1
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_value = float(loss.detach())
        model.eval()
        path = self.artifact_dir / new_id().hex
        path.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        return loss_value, path


def create_sft_learner(**options: Any) -> SFTLearner:
    """The ``sft`` learner factory registered in ``Plugin.learners`` (options: SFTLearner's)."""
    return SFTLearner(**options)
