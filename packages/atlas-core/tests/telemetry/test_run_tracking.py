"""Learning runs and rollouts logged to mlflow (a local tracking store, read back through
mlflow's client API) and wandb (offline mode, read back from the run file it wrote), live
from a real LearningLoop on a real SQLite store, and replayed with ``atlas runs log``."""

from __future__ import annotations

import glob
import json
import struct
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from atlas_core.cli import app
from atlas_core.config.models import LoopConfig, RolloutConfig, SchedulerConfig, SelectionConfig
from atlas_core.loop import Example, LearnerResult, LearningLoop, LearningTask, ManualClock
from atlas_core.store import Store, open_store
from atlas_core.telemetry import MissingExtraError
from atlas_core.tracking import MlflowLogger, WandbLogger, replay_history, run_record
from atlas_core.types import (
    Feedback,
    FeedbackKind,
    Interaction,
    LearningRun,
    Reward,
    Version,
    VersionKind,
)


class RisingLearner:
    """Each update proposes a version of higher quality (written in its artifact URI)."""

    name = "rising"

    def __init__(self) -> None:
        self.quality = 4

    def learn(self, task: LearningTask) -> LearnerResult:
        self.quality += 1
        version = Version(
            tenant_id=task.tenant,
            kind=VersionKind.PROMPT,
            name="agent",
            number=1,
            artifact_uri=f"quality:{self.quality}",
        )
        return LearnerResult(candidate=version, samples_used=len(task.train), metrics={"q": 1.0})


class QualityEvaluator:
    """Scores every example with the version's quality / 10 (0 without a version)."""

    def score(self, version: Version | None, examples: Sequence[Example]) -> list[float]:
        q = int(version.artifact_uri.split(":")[1]) / 10 if version else 0.0
        return [q] * len(examples)


class BrokenLogger:
    """A tracker that is down: the loop must go on without it."""

    def log_run(self, run: LearningRun) -> None:
        raise ConnectionError("tracker down")

    def log_rollout(self, tenant: str, state: Any) -> None:
        raise ConnectionError("tracker down")

    def close(self) -> None:
        pass


def labelled(store: Store, n: int, offset: int) -> None:
    rows = [
        Interaction(
            learning_key="k", input=[{"role": "user", "content": f"q{offset + i}"}], output="?"
        )
        for i in range(n)
    ]
    store.write_interactions(rows)
    store.write_rewards([Reward(interaction_id=r.id, score=0.5) for r in rows])
    store.write_feedback(
        [Feedback(interaction_id=r.id, kind=FeedbackKind.LABEL, text="a") for r in rows]
    )


def drive(store: Store, loggers: Sequence[Any]) -> LearningLoop:
    """A first version (promoted), then a second one rolled out to 100% on live traffic."""
    clock = ManualClock()
    config = LoopConfig(
        scheduler=SchedulerConfig(min_samples=5, drift_detector="none", min_interval_s=0.0),
        selection=SelectionConfig(batch_size=16, held_out_fraction=0.3, seed=1),
        rollout=RolloutConfig(shadow=False, canary_steps=(50.0, 100.0), min_samples_per_arm=5),
    )
    loop = LearningLoop(
        store,
        "default",
        kind=VersionKind.PROMPT,
        name="agent",
        learner=RisingLearner(),
        evaluator=QualityEvaluator(),
        config=config,
        clock=clock,
        run_loggers=loggers,
    )
    labelled(store, 20, 0)
    assert loop.step(force=True).outcome == "promoted"
    clock.advance(60)
    labelled(store, 20, 100)
    assert loop.step(force=True).outcome == "rollout"
    for _ in range(6):  # canary at 50%; passing it reaches the last step (100%): promoted
        loop.rollout.record("candidate", reward=0.9, latency_s=0.05)
        loop.rollout.record("stable", reward=0.5, latency_s=0.05)
    assert loop.rollout_step().action == "promote"
    return loop


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store("sqlite:///" + str(tmp_path / "a.db"))
    yield opened
    opened.close()


@pytest.fixture
def mlflow_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    # mlflow-skinny has no SQL store; its file store is kept, behind this opt-in.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return (tmp_path / "mlruns").as_uri()


def mlflow_runs(uri: str) -> dict[str, Any]:
    """Every run of the ``atlas`` experiment, by its atlas.key tag, read through mlflow."""
    import mlflow

    client = mlflow.tracking.MlflowClient(uri)
    experiment = client.get_experiment_by_name("atlas")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    return {r.data.tags["atlas.key"]: r for r in runs}


def test_the_loop_logs_each_run_and_rollout_to_mlflow(store: Store, mlflow_uri: str) -> None:
    loop = drive(store, [BrokenLogger(), MlflowLogger(mlflow_uri)])
    runs = store.learning_runs("default")
    logged = mlflow_runs(mlflow_uri)
    assert len(runs) == 2
    assert set(logged) == {f"learning_run/{r.id}" for r in runs} | {
        f"rollout/prompt/agent/{loop.rollout.state.candidate_id}"  # type: ignore[union-attr]
    }
    for run in runs:
        m = logged[f"learning_run/{run.id}"]
        assert m.info.status == "FINISHED"
        assert m.data.params["trigger"] == run.trigger == "manual"
        assert m.data.params["learner"] == "rising"
        assert m.data.params["outcome"] == run.outcome
        assert m.data.params["candidate_version_id"] == str(run.candidate_version_id)
        assert m.data.metrics["samples_used"] == run.samples_used
        assert m.data.metrics["after.q"] == 1.0
        assert m.data.metrics["before.score"] == pytest.approx(run.metrics_before["score"])
        assert m.data.metrics["after.gate.candidate"] == pytest.approx(
            run.metrics_after["gate.candidate"]
        )
        assert m.info.end_time - m.info.start_time == int(run.duration_s * 1000)  # type: ignore[operator]
        assert m.info.start_time == int(run.created_at.timestamp() * 1000)
        assert m.data.tags["atlas.tenant"] == "default"
        assert m.data.tags["atlas.kind"] == "learning_run"
    rollout = next(r for k, r in logged.items() if k.startswith("rollout/"))
    assert rollout.data.params["outcome"] == "promoted"
    assert rollout.data.metrics["weight"] == 100.0
    assert rollout.data.metrics["steps_analysed"] == 1
    assert rollout.data.metrics["n.candidate"] == 6
    assert rollout.data.metrics["reward.candidate"] == pytest.approx(0.9)
    assert rollout.data.metrics["reward.stable"] == pytest.approx(0.5)
    assert rollout.data.metrics["step.passed"] == 1.0


def test_a_replay_logs_each_record_once(store: Store, mlflow_uri: str) -> None:
    drive(store, [])
    runner = CliRunner()
    args = ["runs", "log", "--to", "mlflow", "--tracking-uri", mlflow_uri, "--store", store.url]
    for _ in range(2):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        # Two rollouts: the first version's (promoted at once: nothing to compare with) too.
        assert "logged 2 learning runs and 2 rollouts to mlflow" in result.output
    logged = mlflow_runs(mlflow_uri)
    assert len(logged) == 4  # not 8
    failed = LearningRun(trigger="drift", learner="rising", outcome="failed", duration_s=2.0)
    logger = MlflowLogger(mlflow_uri)
    logger.log_run(failed)
    m = mlflow_runs(mlflow_uri)[f"learning_run/{failed.id}"]
    assert m.info.status == "FAILED"
    assert m.info.end_time - m.info.start_time == 2000


def test_runs_log_rejects_an_unknown_tracker(store: Store) -> None:
    result = CliRunner().invoke(app, ["runs", "log", "--to", "neptune", "--store", store.url])
    assert result.exit_code == 1
    assert "invalid argument `--to`: mlflow or wandb, got 'neptune'" in result.output


def wandb_records(directory: Path) -> list[Any]:
    """The records of the one offline run under ``directory``, once it is written out.

    wandb's service process writes the file behind the client, so this waits (up to 20 s)
    for the exit record, which is written last.
    """
    (path,) = glob.glob(str(directory / "wandb" / "offline-run-*" / "run-*.wandb"))
    deadline = time.monotonic() + 20
    records = _parse(Path(path).read_bytes())
    while not (records and records[-1].WhichOneof("record_type") == "exit"):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
        records = _parse(Path(path).read_bytes())
    return records


def _parse(data: bytes) -> list[Any]:
    """A ``.wandb`` file is a LevelDB-style log (7-byte file header; 32 KiB blocks of chunks,
    each with a 7-byte header: CRC32, length, type full/first/middle/last) of protobuf
    ``Record`` messages; a partly written last record is left out."""
    from wandb.proto import wandb_internal_pb2

    if data[:4] != b":W&B":
        return []
    block, pos, pending, records = 32768, 7, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # block trailer: padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if pos + 7 + length > len(data):
            break
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 2):
            pending = chunk
        elif kind in (3, 4):
            pending += chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def _key(item: Any) -> str:
    # wandb stores a key with "/" as its path (nested_key) rather than as one key.
    return str(item.key or "/".join(item.nested_key))


def test_wandb_offline_gets_one_history_row_per_record(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    loop = drive(store, [])
    logger = WandbLogger("atlas-test", name="replay", dir=str(tmp_path))
    report = replay_history(store, "default", [logger, logger])  # the second is a no-op
    logger.close()
    assert (report.runs, report.rollouts) == (2, 2)

    records = wandb_records(tmp_path)
    types = [r.WhichOneof("record_type") for r in records]
    assert types.count("run") == 1, types
    assert types[-1] == "exit"  # the run was written out completely
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert (run.project, run.display_name, run.job_type) == ("atlas-test", "replay", "atlas-loop")
    rows = [
        {_key(item): json.loads(item.value_json) for item in r.history.item}
        for r in records
        if r.WhichOneof("record_type") == "history"
    ]
    runs = store.learning_runs("default")
    learning = [r for r in rows if "learning_run/key" in r]
    assert [r["learning_run/key"] for r in learning] == [f"learning_run/{r.id}" for r in runs]
    for row, run_ in zip(learning, runs, strict=True):
        assert row["learning_run/outcome"] == run_.outcome
        assert row["learning_run/samples_used"] == run_.samples_used
        assert row["learning_run/before.score"] == pytest.approx(run_.metrics_before["score"])
        assert row["learning_run/after.gate.candidate"] == pytest.approx(
            run_.metrics_after["gate.candidate"]
        )
    first, rollout = [r for r in rows if "rollout/key" in r]
    assert first["rollout/steps_analysed"] == 0  # the first version: promoted at once
    assert rollout["rollout/outcome"] == "promoted"
    assert rollout["rollout/candidate_id"] == str(loop.rollout.state.candidate_id)  # type: ignore[union-attr]
    assert rollout["rollout/reward.candidate"] == pytest.approx(0.9)
    steps = [r for r in rows if "rollout/step" in r]
    assert [s["rollout/step.weight"] for s in steps] == [50.0]
    summary: dict[str, Any] = {}
    for r in records:
        if r.WhichOneof("record_type") == "summary":
            summary.update({_key(i): json.loads(i.value_json) for i in r.summary.update})
    assert summary["count/learning_run/promoted"] == 1
    assert summary["count/learning_run/rollout"] == 1
    assert summary["count/rollout/promoted"] == 2


def test_a_missing_tracker_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb now fails
    with pytest.raises(
        MissingExtraError, match=r"install the extra `pip install 'atlas-core\[tracking\]'"
    ):
        WandbLogger()
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(MissingExtraError, match="'mlflow'"):
        MlflowLogger()


def test_run_record_flattens_metrics_and_drops_non_finite_ones() -> None:
    run = LearningRun(
        trigger="sample_count",
        learner="gepa",
        outcome="rejected",
        samples_used=7,
        metrics_before={"score": 0.5, "only_before": 1.0},
        metrics_after={"score": 0.6, "nan": float("nan")},
    )
    record = run_record(run)
    assert record.metrics == {
        "samples_used": 7.0,
        "before.score": 0.5,
        "before.only_before": 1.0,
        "after.score": 0.6,
        "delta.score": pytest.approx(0.1),
    }
    assert record.params["learning_key"] == "*"
    assert record.end_s == record.start_s
    assert not record.failed
