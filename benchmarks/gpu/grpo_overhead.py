"""GRPO step cost: plain TRL against ``atlas train grpo``, with and without the teaching reward.

Runs the same GRPO steps (same model, prompts, group size, lengths, seed, SDPA
attention, transformers generation) three ways and prints, side by side, the mean
step time, generated-and-trained tokens per second and peak accelerator memory:

- ``trl``: a bare ``GRPOTrainer`` with a plain exact-match reward function;
- ``atlas``: ``run_grpo`` (rows from a SQLite Store, metrics to console and Store,
  guards with snapshots) with the verifiable reward;
- ``atlas+teaching``: the same plus the adaptive-teaching reward, the student being
  the same model frozen (one greedy student pass per completion, baseline cached).

Both sides log every 10 steps (TRL's default); Atlas's guards keep their defaults, so
a last-good snapshot is written every 5 healthy logs (50 steps), outside short runs.

Targets (issue 7): ``atlas`` under 10% over ``trl`` per step; ``atlas+teaching`` under 2x
``trl``. On a GPU machine (one H100/H200)::

    uv run python -m benchmarks.gpu.grpo_overhead --model Qwen/Qwen2.5-0.5B-Instruct \\
        --steps 30 --warmup 5 --json results.json

``--model tiny`` builds a randomly initialised tiny model (no hub access); the tests
run it that way on the CPU for two steps, so the script cannot rot while no GPU
figures are taken.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from atlas_core.store import open_store
from atlas_core.types import Feedback, FeedbackKind, Interaction
from atlas_grpo.config import parse_train_config
from atlas_grpo.testing import ShiftTask, save_tiny_model

__all__ = ["ArmResult", "StepTimer", "main", "run_benchmark"]


@dataclass(frozen=True)
class ArmResult:
    """One way of running the steps and what it cost."""

    arm: str
    steps_timed: int
    step_time_s: float
    tokens_per_s: float
    peak_memory_gib: float | None


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step and the trainer's token count (after warm-up)."""

    def __init__(self, warmup: int, cuda: bool) -> None:
        self.warmup = warmup
        self.cuda = cuda
        self.times: list[float] = []
        self._start = 0.0
        self._tokens_at_warmup: float | None = None
        self.tokens = 0.0

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any
    ) -> None:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()

    def on_step_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any
    ) -> None:
        self._sync()
        self._start = time.perf_counter()
        if state.global_step == self.warmup:
            self._tokens_at_warmup = float(state.num_input_tokens_seen or 0)

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any
    ) -> None:
        self._sync()
        if state.global_step > self.warmup:
            self.times.append(time.perf_counter() - self._start)
            self.tokens = float(state.num_input_tokens_seen or 0) - (self._tokens_at_warmup or 0.0)

    def result(self, arm: str) -> ArmResult:
        total = sum(self.times)
        peak = torch.cuda.max_memory_allocated() / 2**30 if self.cuda else None
        return ArmResult(
            arm=arm,
            steps_timed=len(self.times),
            step_time_s=statistics.fmean(self.times) if self.times else float("nan"),
            tokens_per_s=self.tokens / total if total > 0 else float("nan"),
            peak_memory_gib=peak,
        )


def _exact(completions: list[Any], reference: list[str], **_: Any) -> list[float | None]:
    """The plain-TRL reward: 1 when the completion equals the reference after stripping."""
    return [float(str(c).strip() == r) for c, r in zip(completions, reference, strict=True)]


def _common(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    return {
        "output_dir": str(out),
        "max_steps": args.warmup + args.steps,
        "learning_rate": 1e-6,
        "per_device_train_batch_size": args.batch,
        "num_generations": args.generations,
        "max_completion_length": args.completion,
        "beta": 0.0,
        "logging_steps": 10,
        "save_strategy": "no",
        "report_to": "none",
        "seed": 0,
        "use_cpu": args.device == "cpu",
        "bf16": args.device == "cuda",
        "activation_checkpointing": False,
        "disable_tqdm": True,
    }


def _plain_trl(
    args: argparse.Namespace, model_path: str, prompts: list[str], out: Path
) -> ArmResult:
    from datasets import Dataset  # type: ignore[import-untyped]
    from transformers import AutoModelForCausalLM
    from trl.trainer.grpo_config import GRPOConfig
    from trl.trainer.grpo_trainer import GRPOTrainer

    from atlas_grpo.modeling import load_tokenizer

    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(
        model_path, dtype=dtype, attn_implementation="sdpa"
    )
    rows = [{"prompt": p, "reference": ShiftTask.answer(p)} for p in prompts]
    timer = StepTimer(args.warmup, args.device == "cuda")
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[_exact],
        args=GRPOConfig(**_common(args, out)),
        train_dataset=Dataset.from_list(rows),
        processing_class=load_tokenizer(model_path),
        callbacks=[timer],
    )
    trainer.train()
    return timer.result("trl")


def _atlas(
    args: argparse.Namespace, model_path: str, store_url: str, out: Path, teaching: bool
) -> ArmResult:
    from atlas_grpo.runner import run_grpo

    rewards: list[dict[str, Any]] = [{"kind": "verifiable", "match": "exact"}]
    if teaching:
        rewards.append(
            {
                "kind": "teaching",
                "student": model_path,
                "student_max_new_tokens": args.completion,
                "match": "exact",
            }
        )
    cfg = parse_train_config(
        {
            "model": {
                "name_or_path": model_path,
                "attn_implementation": "sdpa",
                "dtype": "bfloat16" if args.device == "cuda" else "float32",
            },
            "data": {"store_url": store_url, "held_out_fraction": 0.0},
            "training": {
                "output_dir": str(out),
                "max_steps": args.warmup + args.steps,
                "learning_rate": 1e-6,
                "per_device_batch_size": args.batch,
                "num_generations": args.generations,
                "max_completion_length": args.completion,
                "logging_steps": 10,
                "save_steps": 10**6,
                "use_cpu": args.device == "cpu",
            },
            "generation": {"backend": "transformers"},
            "rewards": rewards,
            "tracking": {"console": args.console},
            "registry": {"name": "bench-grpo"},
        }
    )
    timer = StepTimer(args.warmup, args.device == "cuda")
    run_grpo(cfg, extra_callbacks=[timer])
    return timer.result("atlas+teaching" if teaching else "atlas")


def _seed_store(url: str, prompts: Sequence[str]) -> None:
    with open_store(url) as store:
        inters = [
            Interaction.model_validate({"input": [{"role": "user", "content": p}], "output": ""})
            for p in prompts
        ]
        store.write_interactions(inters)
        store.write_feedback(
            [
                Feedback.model_validate(
                    {
                        "interaction_id": x.id,
                        "kind": FeedbackKind.LABEL,
                        "text": ShiftTask.answer(p),
                    }
                )
                for x, p in zip(inters, prompts, strict=True)
            ]
        )


def run_benchmark(args: argparse.Namespace) -> list[ArmResult]:
    """Runs the three arms round-robin ``--repeats`` times; each arm's median step time.

    Round-robin repeats spread slow phases of a shared machine over all arms alike.
    """
    work = Path(tempfile.mkdtemp(prefix="atlas-grpo-bench-"))
    model_path = str(save_tiny_model(work / "tiny")) if args.model == "tiny" else args.model
    n_prompts = (args.warmup + args.steps) * max(1, args.batch // args.generations)
    prompts = ShiftTask().prompts(n_prompts, seed=0)
    store_url = "sqlite:///" + str(work / "atlas.db")
    _seed_store(store_url, prompts)
    runs: dict[str, list[ArmResult]] = {"trl": [], "atlas": [], "atlas+teaching": []}
    for i in range(args.repeats):
        runs["trl"].append(_plain_trl(args, model_path, prompts, work / f"trl{i}"))
        runs["atlas"].append(_atlas(args, model_path, store_url, work / f"atlas{i}", False))
        runs["atlas+teaching"].append(
            _atlas(args, model_path, store_url, work / f"teach{i}", teaching=True)
        )
    return [_median(arm, results) for arm, results in runs.items()]


def _median(arm: str, results: list[ArmResult]) -> ArmResult:
    peaks = [r.peak_memory_gib for r in results if r.peak_memory_gib is not None]
    return ArmResult(
        arm=arm,
        steps_timed=sum(r.steps_timed for r in results),
        step_time_s=statistics.median(r.step_time_s for r in results),
        tokens_per_s=statistics.median(r.tokens_per_s for r in results),
        peak_memory_gib=max(peaks) if peaks else None,
    )


def render(results: Sequence[ArmResult]) -> str:
    """The side-by-side table, with each arm's step time relative to plain TRL."""
    base = results[0].step_time_s
    lines = [f"{'arm':<16}{'steps':>6}{'step s':>10}{'tokens/s':>12}{'peak GiB':>10}{'vs trl':>9}"]
    for r in results:
        peak = f"{r.peak_memory_gib:.2f}" if r.peak_memory_gib is not None else "n/a"
        lines.append(
            f"{r.arm:<16}{r.steps_timed:>6}{r.step_time_s:>10.4f}{r.tokens_per_s:>12.1f}"
            f"{peak:>10}{r.step_time_s / base:>8.2f}x"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--model", default="tiny", help="model id or path, or 'tiny'")
    p.add_argument("--steps", type=int, default=20, help="timed steps per arm")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--batch", type=int, default=16, help="per-device batch (completions)")
    p.add_argument("--generations", type=int, default=8, help="completions per prompt")
    p.add_argument("--completion", type=int, default=128, help="max completion tokens")
    p.add_argument("--repeats", type=int, default=3, help="round-robin runs of every arm")
    p.add_argument("--device", choices=["cuda", "cpu"], default=None, help="default: cuda if any")
    p.add_argument("--console", action="store_true", help="Atlas rich progress on")
    p.add_argument("--json", type=Path, default=None, help="also write results here")
    args = p.parse_args(argv)
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    return args


def main(argv: Sequence[str] | None = None) -> list[ArmResult]:
    """Runs the benchmark, prints the table (and writes JSON when asked)."""
    args = parse_args(argv)
    results = run_benchmark(args)
    device = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"GRPO step cost on {device}, model {args.model}")
    print(render(results))
    if args.json is not None:
        args.json.write_text(
            json.dumps({"device": device, "results": [asdict(r) for r in results]}, indent=2)
        )
    return results


if __name__ == "__main__":
    main()
