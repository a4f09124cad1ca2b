"""The YAML training config: typed, documented, and refusing what it does not know."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas_core.errors import ConfigError
from atlas_grpo.config import (
    RimRewardSpec,
    TeachingRewardSpec,
    TrainConfig,
    VerifiableRewardSpec,
    load_train_config,
)

EXAMPLE = Path(__file__).parents[1] / "configs" / "grpo.example.yaml"


def test_the_shipped_example_config_loads() -> None:
    cfg = load_train_config(EXAMPLE)
    assert cfg.model.lora.enabled
    assert cfg.training.num_generations == 8
    kinds = [type(spec) for spec in cfg.rewards]
    assert kinds == [VerifiableRewardSpec, RimRewardSpec, TeachingRewardSpec]
    teaching = cfg.rewards[2]
    assert isinstance(teaching, TeachingRewardSpec)
    assert teaching.degradation_penalty == 2.0


def test_every_field_is_documented() -> None:
    def walk(model: type) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                missing += walk(annotation)
            elif not field.description and name != "kind":
                missing.append(f"{model.__name__}.{name}")
        return missing

    assert walk(TrainConfig) == []
    for spec in (VerifiableRewardSpec, RimRewardSpec, TeachingRewardSpec):
        assert walk(spec) == []


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("model: {name_or_path: m}\ntraining: {max_step: 3}\n", r"training\.max_step: Extra"),
        ("model: {name_or_path: m}\ntraining: {learning_rate: -1}\n", "training.learning_rate"),
        (
            "model: {name_or_path: m}\ntraining: {per_device_batch_size: 6, num_generations: 4}\n",
            "must be a multiple of training.num_generations",
        ),
        ("model: {name_or_path: m}\nrewards: [{kind: magic}]\n", "rewards.0"),
        ("model: {name_or_path: m}\nrewards: [{kind: teaching}]\n", "rewards.0.teaching.student"),
        (
            "model: {name_or_path: m}\n"
            "data: {since: 2026-01-02T00:00:00Z, until: 2026-01-01T00:00:00Z}\n",
            "since must be before",
        ),
        ("training: {}\n", "model: Field required"),
        ("- a list\n", "must be a mapping"),
        ("model: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_configs_name_the_field(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as err:
        load_train_config(path)
    assert str(path) in str(err.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_train_config(tmp_path / "absent.yaml")


def test_accelerate_configs_cover_one_gpu_zero3_fsdp2_and_nodes() -> None:
    import yaml

    folder = EXAMPLE.parent / "accelerate"
    configs = {p.stem: yaml.safe_load(p.read_text()) for p in folder.glob("*.yaml")}
    assert configs["single_gpu"]["num_processes"] == 1
    assert configs["zero3_8gpu"]["deepspeed_config"]["zero_stage"] == 3
    assert configs["zero3_8gpu"]["num_processes"] == 8
    assert configs["fsdp2_8gpu"]["fsdp_config"]["fsdp_version"] == 2
    nodes = configs["zero3_multinode"]
    assert nodes["num_processes"] == 8 * nodes["num_machines"] > 8
