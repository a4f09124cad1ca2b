"""LLM judges: schema, prompts, the content-hash cache and the ensemble with escalation."""

from atlas_rim.judges.cache import CachedAnswer, JudgeCache, bundle_key, slot
from atlas_rim.judges.ensemble import ARBITER, JudgeEnsemble, Judgement, Sample
from atlas_rim.judges.prompts import Task
from atlas_rim.judges.schema import Verdict, VerdictParseError, parse_verdict

__all__ = [
    "ARBITER",
    "CachedAnswer",
    "JudgeCache",
    "JudgeEnsemble",
    "Judgement",
    "Sample",
    "Task",
    "Verdict",
    "VerdictParseError",
    "bundle_key",
    "parse_verdict",
    "slot",
]
