"""Plots as PNG bytes (matplotlib, Agg backend). Each function takes plain data, returns an image."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np

PALETTE = ("#2f6ea5", "#e07b39", "#3a9a5b", "#c23b3b", "#8a62b3", "#7f7f7f", "#c4a000", "#17a2b8")


def _plt():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:  # noqa: ANN001
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    _plt().close(fig)
    return buf.getvalue()


def _label_top(ax, values: Sequence[float], names: Sequence[str] | None, top: int = 5) -> None:  # noqa: ANN001
    """Name the ``top`` largest layers on the plot itself (a PNG has no hover): which layers dominate."""
    if not names or not len(values):
        return
    v = np.asarray(values, dtype=float)
    for i in sorted(np.argsort(v)[::-1][:top]):
        ax.annotate(names[i], (i, v[i]), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=7,
                    rotation=30, color="#1d2329")


def bars_by_category(values: Sequence[float], categories: Sequence[str], ylabel: str, title: str,
                     log: bool = True, names: Sequence[str] | None = None) -> bytes:
    """One bar per layer, coloured by a category (e.g. the binding resource)."""
    plt = _plt()
    cats = sorted(set(categories))
    colors = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(cats)}
    fig, ax = plt.subplots(figsize=(11, 3.6))
    x = np.arange(len(values))
    ax.bar(x, values, width=1.0, color=[colors[c] for c in categories])
    for c in cats:
        ax.bar([0], [0], color=colors[c], label=c)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("layer (graph order)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_xlim(-0.5, len(values) - 0.5)
    ax.legend(fontsize=8, ncol=min(4, len(cats)))
    _label_top(ax, values, names)
    if names:
        ax.set_xlabel("layer (graph order; the five largest named)")
    return _png(fig)


def stacked_bars(series: Mapping[str, Sequence[float]], ylabel: str, title: str, log: bool = False) -> bytes:
    """Per-layer stacked bars, one stack segment per series."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 3.6))
    names = list(series)
    n = len(next(iter(series.values()))) if series else 0
    bottom = np.zeros(n)
    for i, name in enumerate(names):
        v = np.asarray(series[name], dtype=float)
        ax.bar(np.arange(n), v, bottom=bottom, width=1.0, color=PALETTE[i % len(PALETTE)], label=name)
        bottom += v
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("layer (graph order)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=min(4, len(names)))
    return _png(fig)


def paired_bars(series: Mapping[str, Sequence[float]], ylabel: str, title: str, log: bool = False) -> bytes:
    """Side-by-side bars per item (graph order), one colour per series (e.g. without and with fusion)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 3.6))
    names = list(series)
    n = len(next(iter(series.values()))) if series else 0
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        ax.bar(np.arange(n) + (i - (len(names) - 1) / 2) * width, np.asarray(series[name], dtype=float), width=width,
               color=PALETTE[i % len(PALETTE)], label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("fused group (graph order)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _png(fig)


def horizontal_bars(values: Mapping[str, float], xlabel: str, title: str, log: bool = False) -> bytes:
    plt = _plt()
    labels = list(values)
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(labels) + 1.2))
    ax.barh(labels, [values[k] for k in labels], color=PALETTE[: len(labels)])
    if log:
        ax.set_xscale("log")
    for i, k in enumerate(labels):
        ax.text(values[k], i, f" {values[k]:.3g}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return _png(fig)


def line_per_layer(values: Sequence[float], ylabel: str, title: str, log: bool = False,
                   hline: float | None = None, names: Sequence[str] | None = None) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 3.2))
    ax.plot(np.arange(len(values)), values, marker=".", lw=0.8, color=PALETTE[0])
    if hline is not None:
        ax.axhline(hline, color=PALETTE[3], lw=0.8, ls="--")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("layer (graph order; the five largest named)" if names else "layer (graph order)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _label_top(ax, values, names)
    return _png(fig)


def confusion_matrix(matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str) -> bytes:
    plt = _plt()
    m = np.asarray(matrix, dtype=float)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return _png(fig)


def labelled_scatter(points: Sequence[tuple[str, float, float]], xlabel: str, ylabel: str, title: str,
                     hlines: Sequence[tuple[str, float]] = ()) -> bytes:
    """A few named points on log-log axes, each labelled on the plot, with labelled horizontal reference lines."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (name, x, y) in enumerate(points):
        ax.scatter([x], [y], s=28, color=PALETTE[0] if i else PALETTE[3], zorder=3)
        # below its point when a point close by sits higher (designs of about the same area and figure), else above
        higher = any(y0 > y and max(x / x0, x0 / x) < 1.15 and y0 / y < 1.5 for _, x0, y0 in points)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, -11 if higher else 4), fontsize=8)
    for j, (name, y) in enumerate(hlines):
        ax.axhline(y, color=PALETTE[(2 + j) % len(PALETTE)], lw=0.9, ls="--" if j == 0 else ":", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    import matplotlib.ticker

    # plain numbers at 1, 2 and 5 of each decade ("3 x 10^-1" labels crowd the axis)
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "125" else "")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if hlines:
        ax.legend(fontsize=8)
    return _png(fig)
