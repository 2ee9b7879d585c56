"""Choose the torch device a run uses: CUDA when present, else CPU."""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["DEVICE_CHOICES", "select_device"]


def _auto() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _cpu() -> torch.device:
    return torch.device("cpu")


def _cuda() -> torch.device:
    if not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' was requested but CUDA is not available "
            "(no GPU visible to torch, or a CPU-only torch build); use device='auto' or 'cpu'"
        )
    return torch.device("cuda")


DEVICE_CHOICES: dict[str, Callable[[], torch.device]] = {
    "auto": _auto,
    "cpu": _cpu,
    "cuda": _cuda,
}


def select_device(preference: str = "auto") -> torch.device:
    """Return the torch device for a preference string.

    Parameters
    ----------
    preference : {"auto", "cpu", "cuda"}, default "auto"
        ``"auto"`` gives CUDA when available and CPU otherwise; ``"cpu"`` always gives the
        CPU; ``"cuda"`` gives the default CUDA device and refuses when there is none.

    Returns
    -------
    torch.device
        The chosen device.

    Raises
    ------
    ValueError
        If ``preference`` is not one of the choices, or is ``"cuda"`` without CUDA.

    Examples
    --------
    >>> select_device("cpu")
    device(type='cpu')
    >>> select_device("auto").type in {"cpu", "cuda"}
    True
    """
    if not isinstance(preference, str) or preference.lower() not in DEVICE_CHOICES:
        raise ValueError(
            f"device preference must be one of {sorted(DEVICE_CHOICES)}, got {preference!r}"
        )
    return DEVICE_CHOICES[preference.lower()]()
