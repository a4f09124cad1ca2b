"""RimConfig: YAML loading, defaults, and a clear error naming every bad field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from atlas_core.errors import ConfigError
from atlas_rim.config import RimConfig, load_config

EXAMPLE = """
endpoint:
  base_url: http://localhost:8000/v1
  api_key_env: JUDGE_KEY
  max_concurrency: 32
signals:
  weights: {copy: 0.8, share: 0.9, engage: 0.6, retry: -0.3, dismiss: -0.5, bookmark: 0.4}
  dwell_saturation_s: {engage: 20}
  decay_half_life_s: 604800
judges:
  - name: accuracy
    model: qwen2.5-7b-instruct
    principles: ["Facts are correct", "Answers the question asked"]
    weight: 2
    temperatures: [0.0, 0.5, 1.0]
  - name: safety
    model: llama-guard
    principles: ["No harmful advice"]
arbiter:
  model: qwen2.5-72b-instruct
escalation: {spread_threshold: 0.25, uncertainty_threshold: 0.4, on_parse_failure: true}
consistency:
  - {name: safe, kind: veto, judges: [safety], threshold: 0.5, cap: 0.1}
combine: {judge_weight: 0.3, feedback_weight: 0.7}
quality_threshold: 0.6
cache: {namespace: rim.judges}
"""


def test_the_readme_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "rim.yaml"
    path.write_text(EXAMPLE)
    cfg = load_config(path)
    assert cfg.endpoint.max_concurrency == 32
    assert cfg.signals.weights["bookmark"] == 0.4
    assert cfg.signals.dwell_saturation_s == {"engage": 20}
    assert [j.name for j in cfg.judges] == ["accuracy", "safety"]
    assert cfg.judges[0].temperatures == [0.0, 0.5, 1.0]
    assert cfg.judges[1].temperatures == [0.0, 0.7]
    assert cfg.arbiter is not None
    assert cfg.arbiter.model == "qwen2.5-72b-instruct"
    assert cfg.consistency[0].cap == 0.1
    assert cfg.combine.feedback_weight == 0.7
    assert cfg.cache.namespace == "rim.judges"


def test_defaults_follow_the_issue() -> None:
    cfg = load_config(None)
    assert cfg == RimConfig()
    assert cfg.signals.weights == {
        "copy": 0.8, "share": 0.9, "engage": 0.6, "retry": -0.3, "dismiss": -0.5,
    }  # fmt: skip
    assert cfg.judges == []
    assert cfg.arbiter is None


def test_api_key_comes_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_KEY", "sk-1")
    assert load_config({"endpoint": {"api_key_env": "JUDGE_KEY"}}).endpoint.api_key() == "sk-1"
    assert load_config({"endpoint": {"api_key_env": None}}).endpoint.api_key() is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"judges": [{"name": "a", "model": "m", "principles": []}]}, r"judges\.0\.principles"),
        ({"judges": [{"name": "a", "model": "m", "principles": ["p"], "weight": 0}]}, "weight"),
        (
            {"judges": [{"name": "a", "model": "m", "principles": ["p"]}] * 2},
            "judge names must be unique",
        ),
        (
            {
                "consistency": [
                    {"name": "r", "kind": "max_gap", "judges": ["x", "y"], "threshold": 0.2}
                ]
            },
            "unknown judges",
        ),
        (
            {
                "judges": [{"name": "a", "model": "m", "principles": ["p"]}],
                "consistency": [{"name": "r", "kind": "veto", "judges": ["a"], "threshold": 0.2}],
            },
            "cap",
        ),
        (
            {
                "judges": [{"name": "a", "model": "m", "principles": ["p"]}],
                "consistency": [
                    {"name": "r", "kind": "max_gap", "judges": ["a"], "threshold": 0.2}
                ],
            },
            "names 2 judge",
        ),
        ({"escalation": {"spread_threshold": 1.5}}, r"escalation\.spread_threshold"),
        ({"combine": {"judge_weight": 0, "feedback_weight": 0}}, "cannot both be 0"),
        ({"signals": {"dwell_saturation_s": {"engage": 0}}}, "dwell_saturation_s.engage"),
        ({"signals": {"decay_half_life_s": -1}}, "decay_half_life_s"),
        ({"quality_threshold": 2}, "quality_threshold"),
        ({"judgez": []}, "judgez"),
    ],
)
def test_invalid_configs_name_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(data)


def test_file_problems_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("judges: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_config(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config(bad)
    bad.write_text("quality_threshold: high\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: invalid RIM config: quality_threshold"):
        load_config(bad)


def test_fingerprint_ignores_endpoint_and_cache_only() -> None:
    base = load_config({})
    assert base.fingerprint() == load_config({"endpoint": {"max_concurrency": 2}}).fingerprint()
    assert base.fingerprint() == load_config({"cache": {"enabled": False}}).fingerprint()
    assert base.fingerprint() != load_config({"signals": {"prior": 0.6}}).fingerprint()


def test_the_readme_config_block_is_valid() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    cfg = load_config(yaml.safe_load(block))
    assert [j.name for j in cfg.judges] == ["accuracy", "safety"]
    assert cfg.consistency[0].kind == "veto"
