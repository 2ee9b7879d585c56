"""Deliberately naive float64 references of the losses in ``cmcd.train.losses``.

Each function is written straight from the formula in the matching docstring, with two nested
Python loops over the formula's two summation indices: (sample i, anchor/negative j) for the
pairwise losses, whose d-dimensional inner products use ``np.dot``; (sample i, coordinate k)
for the paired L2 and cosine losses. No vectorisation beyond that, no torch: they are slow on
purpose and serve as the ground truth of the tests and the baseline of
``benchmarks/loss_speed.py``. Inputs are array-likes of shape (n, d); outputs are floats.
"""

from __future__ import annotations

import math

import numpy as np

EPS = 1e-12  # as torch.nn.functional.normalize


def _rows(z: object) -> list[np.ndarray]:
    arr = np.asarray(z, dtype=np.float64)
    return [arr[i] for i in range(arr.shape[0])]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(math.sqrt(float(np.dot(v, v))), EPS)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def naive_info_nce(z1: object, z2: object, temperature: float = 0.1) -> float:
    u = [_unit(v) for v in _rows(z1) + _rows(z2)]
    n2 = len(u)
    total = 0.0
    for i in range(n2):
        positive = (i + n2 // 2) % n2
        denominator = 0.0
        for k in range(n2):
            if k != i:
                denominator += math.exp(_dot(u[i], u[k]) / temperature)
        total += -(_dot(u[i], u[positive]) / temperature - math.log(denominator))
    return total / n2


def naive_cmd(
    z_teacher: object,
    z_student: object,
    anchors: object | None = None,
    teacher_temperature: float = 0.04,
    student_temperature: float = 0.1,
) -> float:
    t = [_unit(v) for v in _rows(z_teacher)]
    s = [_unit(v) for v in _rows(z_student)]
    a = t if anchors is None else [_unit(v) for v in _rows(anchors)]
    total = 0.0
    for i in range(len(t)):
        p_norm = sum(math.exp(_dot(t[i], a[k]) / teacher_temperature) for k in range(len(a)))
        q_norm = sum(math.exp(_dot(s[i], a[k]) / student_temperature) for k in range(len(a)))
        for j in range(len(a)):
            p_ij = math.exp(_dot(t[i], a[j]) / teacher_temperature) / p_norm
            log_q_ij = _dot(s[i], a[j]) / student_temperature - math.log(q_norm)
            total += -p_ij * log_q_ij
    return total / len(t)


def naive_cmc(
    z_teacher: object, z_student: object, temperature: float = 0.1, symmetric: bool = True
) -> float:
    t = [_unit(v) for v in _rows(z_teacher)]
    s = [_unit(v) for v in _rows(z_student)]
    n = len(t)
    student_to_teacher = 0.0
    teacher_to_student = 0.0
    for i in range(n):
        row = 0.0
        column = 0.0
        for j in range(n):
            row += math.exp(_dot(s[i], t[j]) / temperature)
            column += math.exp(_dot(s[j], t[i]) / temperature)
        positive = _dot(s[i], t[i]) / temperature
        student_to_teacher += -(positive - math.log(row))
        teacher_to_student += -(positive - math.log(column))
    if not symmetric:
        return student_to_teacher / n
    return 0.5 * (student_to_teacher + teacher_to_student) / n


def naive_cmd_cmc(
    z_teacher: object,
    z_student: object,
    anchors: object | None = None,
    teacher_temperature: float = 0.04,
    student_temperature: float = 0.1,
    cmc_temperature: float = 0.1,
    symmetric: bool = True,
    cmc_weight: float = 0.5,
) -> float:
    cmd = naive_cmd(z_teacher, z_student, anchors, teacher_temperature, student_temperature)
    cmc = naive_cmc(z_teacher, z_student, cmc_temperature, symmetric)
    return (1.0 - cmc_weight) * cmd + cmc_weight * cmc


def _norms(rows: list[np.ndarray]) -> list[float]:
    norms = []
    for v in rows:
        squares = 0.0
        for k in range(len(v)):
            squares += float(v[k]) ** 2
        norms.append(max(math.sqrt(squares), EPS))
    return norms


def naive_l2(z_teacher: object, z_student: object) -> float:
    t, s = _rows(z_teacher), _rows(z_student)
    t_norm, s_norm = _norms(t), _norms(s)
    total = 0.0
    for i in range(len(t)):
        for k in range(len(t[i])):
            total += (float(s[i][k]) / s_norm[i] - float(t[i][k]) / t_norm[i]) ** 2
    return total / len(t)


def naive_cosine(z_teacher: object, z_student: object) -> float:
    t, s = _rows(z_teacher), _rows(z_student)
    t_norm, s_norm = _norms(t), _norms(s)
    total = 0.0
    for i in range(len(t)):
        cos = 0.0
        for k in range(len(t[i])):
            cos += float(s[i][k]) * float(t[i][k])
        total += 1.0 - cos / (s_norm[i] * t_norm[i])
    return total / len(t)


def naive_crd(
    z_teacher: object,
    z_student: object,
    negatives: object,
    temperature: float = 0.07,
    negative_mask: object | None = None,
) -> float:
    t = [_unit(v) for v in _rows(z_teacher)]
    s = [_unit(v) for v in _rows(z_student)]
    neg = [_unit(v) for v in _rows(negatives)]
    mask = None if negative_mask is None else np.asarray(negative_mask, dtype=bool)
    total = 0.0
    for i in range(len(t)):
        positive = _dot(s[i], t[i]) / temperature
        denominator = math.exp(positive)
        for k in range(len(neg)):
            if mask is None or not mask[i, k]:
                denominator += math.exp(_dot(s[i], neg[k]) / temperature)
        total += -(positive - math.log(denominator))
    return total / len(t)
