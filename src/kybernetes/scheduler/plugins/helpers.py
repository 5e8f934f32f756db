"""Score normalisation shared by plugins (kube-scheduler's helper.DefaultNormalizeScore)."""

from __future__ import annotations

from kybernetes.scheduler.framework import MAX_NODE_SCORE


def default_normalize_score(scores: list[int], reverse: bool = False, maximum: int = MAX_NODE_SCORE) -> None:
    """Scale scores to 0..maximum by the highest one (``reverse``: the highest becomes 0)."""
    highest = max(scores, default=0)
    if highest == 0:
        if reverse:
            scores[:] = [maximum] * len(scores)
        return
    for i, s in enumerate(scores):
        s = maximum * s // highest
        scores[i] = maximum - s if reverse else s
