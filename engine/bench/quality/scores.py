"""Scores of the quality yardstick: accuracy / adherence against labels, and joint FD.

    head_accuracy(pred, labels)          # {"acc", "balanced_acc", "chance", "n"}
    joint_fd(feats, conds, ref_feats, ref_conds)

Accuracy and prompt adherence are the same computation: the share of clips whose
measured class (the classifier's argmax) is the labelled one. For a real clip the
label is its metadata (classifier accuracy); for a generated clip it is the
attribute its prompt asked for (adherence). A family label is the list of every
family in the clip (a hit is any of them); tempo band and mode are one class or -1
(unknown: the clip is left out). `chance` is the share of the majority class, what
a constant answer scores; `balanced_acc` averages the per-class recalls.

Joint FD (after the Frechet Joint Distance of DeVries et al. 2019, "On the
evaluation of conditional GANs"): the Frechet distance between Gaussian fits of
[audio features, alpha * condition] for generated clips (condition = the attributes
asked for) and for real reference clips (condition = their own attributes). The
condition vector is the family target (1/k on each of k families), the tempo band
one-hot and the mode one-hot; alpha scales it so that its total variance on the
reference set equals that of the features. Plain FD cannot tell a model that
follows its prompts from one that ignores them when the prompts are a random sample
(the output distributions are alike); joint FD can, because it also compares how
audio and attributes go together.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.bench.fd import frechet_distance_of

Label = int | Sequence[int]  # one class (-1: unknown) or a list of acceptable classes


def _classes(label: Label) -> list[int]:
    if isinstance(label, int | np.integer):
        return [int(label)] if label >= 0 else []
    return [int(c) for c in label]


def head_accuracy(pred: Sequence[int] | np.ndarray, labels: Sequence[Label]) -> dict:
    """pred (n,) class ids vs labels (n,) -> accuracy over the labelled clips, balanced
    accuracy, majority-class chance and the number of labelled clips (NaN if none)."""
    pred = [int(p) for p in pred]
    if len(pred) != len(labels):
        raise ValueError(f"{len(pred)} predictions for {len(labels)} labels")
    pairs = [(p, _classes(lab)) for p, lab in zip(pred, labels, strict=True)]
    pairs = [(p, c) for p, c in pairs if c]
    if not pairs:
        nan = float("nan")
        return {"acc": nan, "balanced_acc": nan, "chance": nan, "n": 0}
    hits = np.array([p in c for p, c in pairs], dtype=np.float64)
    present = sorted({k for _, c in pairs for k in c})
    share = [np.mean([k in c for _, c in pairs]) for k in present]
    recall = [hits[[k in c for _, c in pairs]].mean() for k in present]
    return {"acc": float(hits.mean()), "balanced_acc": float(np.mean(recall)),
            "chance": float(max(share)), "n": len(pairs)}


def condition_vectors(labels: Sequence[dict], n_classes: dict[str, int]) -> np.ndarray:
    """labels (n dicts: family list, tempo id, mode id) -> (n, sum of classes) float64."""
    heads = list(n_classes)
    out = np.zeros((len(labels), sum(n_classes.values())), np.float64)
    for i, lab in enumerate(labels):
        offset = 0
        for h in heads:
            classes = _classes(lab[h])
            for k in classes:
                out[i, offset + k] = 1.0 / len(classes)
            offset += n_classes[h]
    return out


def joint_fd(feats: np.ndarray, conds: np.ndarray, ref_feats: np.ndarray,
             ref_conds: np.ndarray) -> float:
    """feats (N, F), conds (N, K) vs ref_feats (M, F), ref_conds (M, K) -> joint FD."""
    f_var = float(np.var(ref_feats, axis=0).sum())
    c_var = float(np.var(ref_conds, axis=0).sum())
    alpha = np.sqrt(f_var / c_var) if c_var > 0 else 0.0
    return frechet_distance_of(np.concatenate([feats, alpha * conds], axis=1),
                               np.concatenate([ref_feats, alpha * ref_conds], axis=1))
