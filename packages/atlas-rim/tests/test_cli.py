"""``atlas rim eval`` and ``atlas rim score`` run end to end against FakeLLMServer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from rim_testkit import group, interaction, rating, who
from typer.testing import CliRunner

from atlas_core.cli import build_app
from atlas_core.store import open_store
from atlas_core.testing.openai_server import ChatCall, FakeLLMServer

RESPONSE = re.compile(r"## Response (\d+)\n(.*?)(?=\n## |\Z)", re.DOTALL)


def responses(call: ChatCall) -> list[str]:
    return [text for _, text in RESPONSE.findall(call.last_user)]


def by_content(call: ChatCall) -> str:
    """A judge that knows good answers when it sees them: 'GOOD' scores 0.9, else 0.2."""
    return group([0.9 if "GOOD" in r else 0.2 for r in responses(call)])


def first_wins(call: ChatCall) -> str:
    """A judge with pure position bias, and unsure of itself."""
    n = len(responses(call))
    return group([0.9] + [0.1] * (n - 1), uncertainty=0.9)


def write_config(tmp_path: Path, base_url: str, **extra: Any) -> Path:
    data = {
        "endpoint": {"base_url": base_url, "backoff_s": 0.0, "max_retries": 1},
        "judges": [{"name": "a", "model": "m", "principles": ["correct"], "temperatures": [0]}],
        **extra,
    }
    path = tmp_path / "rim.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def invoke(*args: str) -> Any:
    return CliRunner().invoke(build_app(), list(args), catch_exceptions=False)


RB2 = [
    {"id": "c1", "subset": "chat", "prompt": "hi", "chosen": ["GOOD a"],
     "rejected": ["x", "y", "z"]},
    {"id": "c2", "subset": "chat", "prompt": [{"role": "user", "content": "yo"}],
     "chosen": "GOOD b", "rejected": ["x", "y", "z"]},
    {"id": "m1", "subset": "math", "prompt": "1+1", "chosen": ["wrong"],
     "rejected": ["GOOD c", "p", "q"]},
    {"id": "m2", "subset": "math", "prompt": "2+2", "chosen": ["GOOD d"],
     "rejected": ["GOOD e", "r", "s"]},
]  # fmt: skip


def test_eval_rewardbench2_best_of_4(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "rb2.jsonl", RB2)
    out = tmp_path / "out" / "report.json"
    with FakeLLMServer(by_content) as server:
        cfg = write_config(tmp_path, server.base_url)
        result = invoke(
            "rim", "eval", "--data", str(data), "--layout", "rewardbench2",
            "--config", str(cfg), "--out", str(out), "--seed", "7",
        )  # fmt: skip
        calls = server.calls
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    # c1, c2 right; m1 wrong (a rejected one is better); m2 a tie, and a tie is wrong.
    assert report["accuracy"] == 0.5
    assert report["per_subset"] == {
        "chat": {"n": 2, "accuracy": 1.0},
        "math": {"n": 2, "accuracy": 0.0},
    }
    assert report["evaluations"] == 4
    assert len(calls) == 4  # one call per record: all four responses ranked together
    assert all(len(responses(c)) == 4 for c in calls)
    # Positions come from the seed, and the report says where the chosen one was put.
    chosen = {"hi": "GOOD a", "yo": "GOOD b", "1+1": "wrong", "2+2": "GOOD d"}
    seen = [
        responses(c).index(next(t for p, t in chosen.items() if p in c.last_user)) for c in calls
    ]
    assert report["chosen_position_counts"] == {str(p): seen.count(p) for p in sorted(set(seen))}
    assert report["seed"] == 7
    assert report["escalation_rate"] == 0.0
    assert report["failures"] == 0
    assert report["cost"]["total_tokens"] > 0
    assert (
        report["cost"]["prompt_tokens"] + report["cost"]["completion_tokens"]
        == (report["cost"]["total_tokens"])
    )
    assert 0 < report["latency_s"]["p50"] <= report["latency_s"]["p95"]
    assert "accuracy 0.500" in result.output


def test_eval_positions_depend_on_the_seed(tmp_path: Path) -> None:
    records = [dict(RB2[0], id=str(i), prompt=f"q{i}") for i in range(12)]
    data = write_jsonl(tmp_path / "rb2.jsonl", records)
    counts = []
    with FakeLLMServer(by_content) as server:
        cfg = write_config(tmp_path, server.base_url)
        for seed in ("1", "2"):
            out = tmp_path / f"{seed}.json"
            invoke("rim", "eval", "--data", str(data), "--layout", "rewardbench2",
                   "--config", str(cfg), "--out", str(out), "--seed", seed)  # fmt: skip
            counts.append(json.loads(out.read_text())["chosen_position_counts"])
    assert counts[0] != counts[1]
    assert len(counts[0]) > 1  # the chosen response is not always in one place


PAIRS = [
    {"prompt": f"q{i}", "chosen": f"GOOD {i}", "rejected": f"meh {i}", "subset": "s"}
    for i in range(3)
]


def pairwise(data: Path, cfg: Path, out: Path) -> None:
    result = invoke(
        "rim", "eval", "--data", str(data), "--layout", "pairwise", "--config", str(cfg),
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_eval_pairwise_both_orders_and_position_bias(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    with FakeLLMServer(by_content) as server:
        fair = tmp_path / "fair.json"
        pairwise(data, write_config(tmp_path, server.base_url), fair)
        assert len(server.calls) == 6  # both orders of 3 pairs
    with FakeLLMServer(first_wins) as server:
        biased = tmp_path / "biased.json"
        pairwise(data, write_config(tmp_path, server.base_url), biased)
    fair_report, biased_report = json.loads(fair.read_text()), json.loads(biased.read_text())
    assert fair_report["accuracy"] == 1.0
    assert fair_report["position_bias"] == 0.0
    assert fair_report["order_consistency"] == 1.0
    assert fair_report["pairs"] == 3
    assert biased_report["accuracy"] == 0.5
    assert biased_report["position_bias"] == 0.5
    assert biased_report["order_consistency"] == 0.0
    assert biased_report["first_position_win_rate"] == 1.0


def test_eval_escalation_to_an_arbiter_is_reported(tmp_path: Path) -> None:
    """The biased judge is unsure of itself, so every call escalates; the arbiter judges well."""
    data = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)

    def answer(call: ChatCall) -> str:
        return by_content(call) if who(call) == "arbiter" else first_wins(call)

    with FakeLLMServer(answer) as server:
        cfg = write_config(tmp_path, server.base_url, arbiter={"model": "big"})
        out = tmp_path / "report.json"
        invoke("rim", "eval", "--data", str(data), "--layout", "pairwise",
               "--config", str(cfg), "--out", str(out), "--cache-store",
               "sqlite:///" + str(tmp_path / "cache.db"))  # fmt: skip
    report = json.loads(out.read_text())
    assert report["escalation_rate"] == 1.0
    assert report["escalation_reasons"] == {"uncertainty": 6}
    assert report["accuracy"] == 1.0
    with open_store("sqlite:///" + str(tmp_path / "cache.db")) as store:
        assert len(store.kv_items("default", "rim.cache")) == 12  # 6 judge + 6 arbiter answers


@pytest.mark.parametrize(
    ("layout", "content", "message"),
    [
        (
            "rewardbench2",
            '{"prompt": "x", "chosen": ["a", "b"], "rejected": ["c"]}',
            ":1: `chosen`",
        ),
        ("rewardbench2", '{"prompt": "x", "chosen": "a", "rejected": []}', ":1: `rejected`"),
        ("pairwise", '\n{"prompt": 3, "chosen": "a", "rejected": "b"}', ":2: `prompt`"),
        ("pairwise", "{oops", ":1: not valid JSON"),
        ("pairwise", "", "holds no records"),
    ],
)
def test_bad_data_is_named(tmp_path: Path, layout: str, content: str, message: str) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text(content)
    cfg = write_config(tmp_path, "http://127.0.0.1:9/v1")
    result = CliRunner().invoke(
        build_app(),
        ["rim", "eval", "--data", str(data), "--layout", layout, "--config", str(cfg),
         "--out", str(tmp_path / "r.json")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert message in result.output


def test_bad_config_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "rim.yaml"
    cfg.write_text("quality_threshold: 3\n")
    result = CliRunner().invoke(
        build_app(),
        ["rim", "score", "--config", str(cfg), "--store", "sqlite:///" + str(tmp_path / "a.db")],
    )
    assert result.exit_code == 2
    assert "quality_threshold" in result.output


def test_score_command_writes_rewards_to_the_store(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "atlas.db")
    target = interaction(tenant_id="acme")
    with open_store(url) as store:
        store.write_interactions([target])
        store.write_feedback([rating(target, 5)])
    cfg = tmp_path / "rim.yaml"
    cfg.write_text("quality_threshold: 0.5\n")
    result = invoke("rim", "score", "--config", str(cfg), "--store", url, "--tenant", "acme")
    assert result.exit_code == 0, result.output
    assert "wrote 1 rewards (1 trainable, 0 escalated)" in result.output
    again = invoke("rim", "score", "--config", str(cfg), "--store", url, "--tenant", "acme")
    assert "skipped 1 already scored, wrote 0" in again.output
    with open_store(url) as store:
        [reward] = store.rewards("acme").iter_rows(named=True)
    assert reward["interaction_id"] == target.id.bytes
    assert reward["score"] == pytest.approx(0.75)


def test_eval_counts_records_without_a_usable_ranking_as_wrong(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "rb2.jsonl", RB2[:2])

    def answer(call: ChatCall) -> str:
        return "no idea" if "yo" in call.last_user else by_content(call)

    with FakeLLMServer(answer) as server:
        out = tmp_path / "report.json"
        cfg = write_config(tmp_path, server.base_url, escalation={"on_parse_failure": False})
        result = invoke(
            "rim", "eval", "--data", str(data), "--layout", "rewardbench2",
            "--config", str(cfg), "--out", str(out), "--limit", "2",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["failures"] == 1
    assert report["accuracy"] == 0.5
    assert report["escalation_rate"] == 0.0


def test_eval_ranks_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from atlas_rim import evaluate

    monkeypatch.setattr(evaluate, "CHUNK", 1)
    data = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    with FakeLLMServer(by_content) as server:
        out = tmp_path / "chunked.json"
        pairwise(data, write_config(tmp_path, server.base_url), out)
        order = [responses(c) for c in server.calls]
    # One group at a time: each pair's two orders, pair after pair.
    assert order == [
        r for i in range(3) for r in ([f"GOOD {i}", f"meh {i}"], [f"meh {i}", f"GOOD {i}"])
    ]
    assert json.loads(out.read_text())["accuracy"] == 1.0
