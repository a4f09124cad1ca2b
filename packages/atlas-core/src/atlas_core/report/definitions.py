"""How each figure of the report is computed, in the words the rendered report prints."""

from __future__ import annotations

__all__ = ["DEFINITIONS"]

#: (figure, definition) pairs; ``{window}`` and ``{tolerance}`` are filled in by renderers.
DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "Updates",
        "Every scheduler decision is a learning run. An update is a run that was not skipped. "
        "A candidate is an update that produced a version; the gate passed it when the run's "
        "outcome is 'rollout' or 'promoted' (a first version), and rejected it when the "
        "outcome is 'rejected'. Promotions and rollbacks are the finished rollouts in the "
        "rollout log (loop.rollout.log), manual ones included.",
    ),
    (
        "Live improvement of an update",
        "For a candidate and the version it replaced (the rollout's stable version), on each "
        "learning key both served with rewards: the candidate's first n rewarded interactions "
        "on the key against the replaced version's last n recorded up to the end of that "
        "window, n = min({window}, what each side has). The key delta is the difference of "
        "the two mean rewards; the update's live improvement is the mean of its key deltas "
        "(each key counts the same). Interactions are attributed to a version by "
        "model_version (model families) or prompt_version (prompts, playbooks): the "
        "version's id or name@number.",
    ),
    (
        "Average improvement",
        "Live: the mean live improvement over promoted updates that have one. Gate: the mean, "
        "over promoted updates, of the gate's overall candidate score minus the stable "
        "version's (mean of key means on held-out and replay examples).",
    ),
    (
        "Learning velocity",
        "Total = the sum of the live improvements of promoted updates. Per update = total / "
        "updates run; per 1,000 interactions = total / (interactions in the period / 1,000); "
        "per hour = total / hours between the first and the last interaction of the period.",
    ),
    (
        "Stability",
        "Rewarded interactions in time order are cut into consecutive complete windows of "
        "{window}; the variance is the sample variance (ddof 1) of the window means. Rollback "
        "share = rollbacks / finished rollouts. A regression is a rollback, or a promoted "
        "update whose live improvement is negative; the time between regressions is the mean "
        "gap between their rollout end times (the learning loop's clock).",
    ),
    (
        "Forgetting per learning key",
        "Gate: the backward transfer the gate recorded for the key on each gated candidate "
        "(candidate minus stable mean score on the key's replay examples: what earlier "
        "versions learned); 'caught by the gate' counts rejected candidates whose backward "
        "transfer on the key is below -{tolerance}. Live: the key delta of every promoted "
        "update on the key (an old key: the replaced version served it), with its standard "
        "error se = sqrt(var_before/n + var_after/n); a significant live drop is one where "
        "(delta + {tolerance}) / se < -1.645 (one-sided 5 %, the canary's test; with no "
        "variance, delta < -{tolerance}). A key is flagged as forgetting shipped when a "
        "candidate the gate passed had a backward transfer below -{tolerance} on it, or a "
        "promotion had a significant live drop on it.",
    ),
    (
        "Rollbacks",
        "Each rolled-back rollout from the log: when it ended (the loop's clock), the reason "
        "recorded, and the step whose live analysis failed (shadow or the canary weight).",
    ),
    (
        "Clocks",
        "Interactions, rewards and feedback carry the time they were recorded; learning runs "
        "and rollout ends the learning loop's clock. Live figures never compare the two: "
        "they follow which version served each interaction.",
    ),
)
