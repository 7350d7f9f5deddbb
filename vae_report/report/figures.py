"""The report's figures, drawn from a :class:`report.Study`: each function returns a
:class:`display.FigurePart` (the figure, its file name and its caption) that
``notebooks/report.ipynb`` shows.

Sizes: the PDF shows a figure at most 6.9 in wide, the HTML at 90 px an inch (shrunk to a narrow
window). Figures are at most :data:`WIDTH` inches wide with text of at least :data:`FONT` pt, so
that no text is below 7 pt in the PDF; panels that would be thin side by side are stacked, which
also keeps them legible in a phone-width window.
"""
from __future__ import annotations

from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

import vae_core

from vae_report import pictures
from vae_report.params import RUNS
from . import evidence
from .display import FigurePart
from .gather import Study

#: The widest figure (inches) and the smallest text (points): 8.5 pt × 6.9 / 7.6 ≥ 7.7 pt in the PDF.
WIDTH = 7.6
FONT = 8.5


def style() -> None:
    """The report's matplotlib settings: seaborn's plain style at the report's text size."""
    sns.set_theme(style="ticks", font_scale=1.0,
                  rc={"figure.dpi": 90, "font.size": FONT, "axes.titlesize": FONT + 0.5,
                      "axes.labelsize": FONT, "xtick.labelsize": FONT, "ytick.labelsize": FONT,
                      "legend.fontsize": FONT, "legend.title_fontsize": FONT})


def colours(study: Study) -> dict[str, Any]:
    """One colour per architecture, the same in every figure."""
    return dict(zip(study.archs, sns.color_palette("tab10", len(study.archs))))


def curve_range(study: Study) -> tuple[float, float]:
    """One ELBO range for the learning curves of every run: from the lowest validation ELBO after
    the first epoch to the highest training ELBO, over all seeds and models."""
    histories = [c["history"] for c in study.cells.values()]
    lo = min(float(h.val_elbo.iloc[1:].min()) if len(h) > 1 else float(h.val_elbo.min())
             for h in histories)
    hi = max(float(h[["train_elbo", "val_elbo"]].max().max()) for h in histories)
    pad = 0.03 * (hi - lo) if hi > lo else max(1.0, 0.05 * abs(hi))   # one flat point: a band
    return lo - pad, hi + pad


def learning_curves(study: Study, run: str, fig_no: int) -> FigurePart:
    """Every seed's curves (thin), on one ELBO range for both runs, epochs on a log axis so the
    first epochs are visible, the legend beside the axes."""
    fig, ax = plt.subplots(figsize=(WIDTH, 4))
    colour = colours(study)
    seeds = study.seeds[run]
    for a in study.archs:
        for i, s in enumerate(seeds):
            h = study.cells[(run, s, a)]["history"]
            ax.plot(h.epoch, h.train_elbo, color=colour[a], lw=0.9, alpha=0.8,
                    label=a if i == 0 else None)
            ax.plot(h.epoch, h.val_elbo, color=colour[a], ls="--", lw=0.7, alpha=0.8)
    epochs = int(study.first(run, study.archs[0])["history"].epoch.max())
    ax.set(xlabel="epoch (log scale)", ylabel="ELBO (nats per image)", ylim=curve_range(study),
           xscale="log" if epochs > 1 else "linear",
           title=f"{RUNS[run].short}: training (solid) and validation (dashed), every seed")
    if epochs == 1:           # one point per curve: draw the points, a line needs two
        for line in ax.get_lines():
            line.set_marker("o")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return FigurePart(fig, f"fig{fig_no:02d}-learning-curves-{run}.png",
                      f"**Figure {fig_no}.** Learning curves of {RUNS[run].title}, each of its "
                      f"{len(seeds)} seeds a thin line: training ELBO (mean over each epoch's "
                      "batches, solid) and validation ELBO (after each epoch, dashed), on the same "
                      "ELBO range as the other run's figure. Data: `history.csv` of "
                      "`01-train.ipynb`.")


def reconstructions(study: Study, run: str, fig_no: int) -> FigurePart:
    """One grid: a row of test images, then a row of reconstructions per model."""
    originals = study.first(run, study.archs[0])["originals"]
    rows = [originals] + [study.first(run, a)["reconstructions"] for a in study.archs]
    n = len(originals)
    grid = pictures.grid_uint8(torch.from_numpy(np.concatenate(rows)).float().div(255)
                              .reshape(-1, vae_core.IMAGE_PIXELS), nrow=n)
    fig, ax = plt.subplots(figsize=(WIDTH, WIDTH * grid.shape[0] / grid.shape[1] + 0.3))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255)
    pitch = vae_core.IMAGE_SIDE + 2                            # image + the grid's padding
    ax.set_yticks([2 + pitch * k + vae_core.IMAGE_SIDE / 2 for k in range(len(rows))],
                  ["original"] + study.archs)
    ax.set_xticks([])
    sns.despine(ax=ax, left=True, bottom=True)
    return FigurePart(fig, f"fig{fig_no:02d}-reconstructions-{run}.png",
                      f"**Figure {fig_no}.** The first {n} test images (top row) and their "
                      "reconstructions (decoder mean at the posterior mean) by each of the seven "
                      f"models of {RUNS[run].title} (one row each), first seed. Data: "
                      "`reconstructions.npy` of `04-samples.ipynb`.")


def collapse(study: Study) -> FigurePart:
    """Every latent dimension's KL per model, one panel per run (log scale, the 0.01 threshold)."""
    rows = [{"run": RUNS[r].short, "model": a, "KL": max(kl, 1e-4)}
            for r in study.runs for a in study.archs
            for kl in study.first(r, a)["03-collapse"]["kl_per_dim"]]
    data = pd.DataFrame(rows)
    fig, axes = plt.subplots(len(study.runs), 1, figsize=(WIDTH, 3.0 * len(study.runs)),
                             sharex=True, squeeze=False)
    for ax, r in zip(axes[:, 0], study.runs):
        sns.stripplot(data=data[data.run == RUNS[r].short], x="model", y="KL", hue="model",
                      palette=colours(study), size=3, jitter=0.25, legend=False, ax=ax)
        ax.set(yscale="log", ylabel="KL per dimension (nats)", xlabel="", title=RUNS[r].title)
        ax.axhline(evidence.KL_THRESHOLD, color="black", lw=0.8, ls="--")
        ax.tick_params(axis="x", rotation=20)
    latent = study.params[study.runs[0]]["latent_dim"]
    return FigurePart(fig, "fig03-posterior-collapse.png",
                      f"**Figure 3.** Posterior collapse: the KL of each of the {latent} latent "
                      "dimensions (one dot each, averaged over the test images; log scale, values "
                      "below 10⁻⁴ drawn at 10⁻⁴) for every model of both runs, first seed. "
                      "Below the dashed line (KL = 0.01 nats, this study's threshold: the seed names none) a dimension counts "
                      "as collapsed. Data: `03-collapse.ipynb`.")


def samples(study: Study, run: str, fig_no: int) -> FigurePart:
    fig, axes = plt.subplots(3, 3, figsize=(WIDTH, WIDTH * 1.05))
    for ax, a in zip(axes.flat, study.archs):
        s = study.first(run, a)["samples"][:36]
        ax.imshow(pictures.grid_uint8(torch.from_numpy(s).float().div(255).reshape(len(s), -1),
                                     nrow=6), cmap="gray", vmin=0, vmax=255)
        ax.set_title(a)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return FigurePart(fig, f"fig{fig_no:02d}-samples-{run}.png",
                      f"**Figure {fig_no}.** Decoder means of the first 36 of the "
                      f"{study.params[run]['n_samples']} latents drawn from N(0, I) (`n_samples`), "
                      f"all seven models of {RUNS[run].title}, first seed. Data: `samples.npy` of "
                      "`04-samples.ipynb`.")


def seed_spread(study: Study, metrics: Any, fig_no: int) -> FigurePart:
    """The test ELBO of every seed (dots) over its mean (a bar), per model and run."""
    data = metrics.reset_index()
    data = data[data.run.isin(study.runs) & data.arch.isin(study.archs)]
    data = data.assign(run=data.run.map(lambda r: RUNS[r].short))
    fig, ax = plt.subplots(figsize=(WIDTH, 3.6))
    several = len(study.runs) > 1                 # seaborn cannot dodge a single hue level
    sns.pointplot(data=data, x="arch", y="test_elbo", hue="run", errorbar=None, markers="_",
                  linestyles="none", dodge=0.4 if several else False, order=study.archs, ax=ax,
                  markersize=16)
    sns.stripplot(data=data, x="arch", y="test_elbo", hue="run", dodge=several, size=4,
                  order=study.archs, ax=ax, legend=False, alpha=0.8)
    ax.set(xlabel="", ylabel="test ELBO (nats per image)")
    ax.tick_params(axis="x", rotation=20)
    n = ", ".join(f"{RUNS[r].short} {len(study.seeds[r])}" for r in study.runs)
    return FigurePart(fig, f"fig{fig_no:02d}-seed-spread.png",
                      f"**Figure {fig_no}.** Seed to seed: the test ELBO of every training seed "
                      f"(dots; seeds: {n}) and their mean (bar), per model and run — the spread "
                      "the verdicts' intervals are built from. Data: `02-elbo.json`.")


def iwae_against_k(study: Study, fig_no: int) -> FigurePart:
    fig, axes = plt.subplots(1, len(study.runs), figsize=(WIDTH, 3.4), sharey=True, squeeze=False)
    colour = colours(study)
    for ax, r in zip(axes[0], study.runs):
        for a in study.archs:
            curve = {int(k): v for k, v in study.first(r, a)["02-elbo"]["iwae_curve"].items()}
            ks = sorted(curve)
            ax.plot(ks, [curve[k] - curve[ks[0]] for k in ks], marker="o", ms=3,
                    color=colour[a], label=a)
        ax.set(xscale="log", xlabel="K (importance samples)", title=RUNS[r].short)
    axes[0, 0].set_ylabel(f"bound − bound at K={ks[0]} (nats)")
    axes[0, 0].legend(fontsize=FONT - 0.5)
    n_img = study.first(study.runs[0], study.archs[0])["02-elbo"]["iwae_curve_images"]
    return FigurePart(fig, f"fig{fig_no:02d}-iwae-vs-k.png",
                      f"**Figure {fig_no}.** How the importance-weighted bound moves with K, on "
                      f"the first {n_img} test images, for every model (first seed of each run): "
                      "the gain over K = 1 (the ELBO). For each image one set of K_max draws from "
                      "q(z|x) serves every K: the bound for K averages its ⌊K_max/K⌋ disjoint "
                      "groups of K draws (`vae_report.metrics.iwae.iwae_curve`). Data: `02-elbo.json`.")


def sample_classes(study: Study, fig_no: int) -> FigurePart:
    """Per cent of each model's samples given each class, one heatmap per run, stacked."""
    fig, axes = plt.subplots(len(study.runs), 1, figsize=(WIDTH, 2.9 * len(study.runs)),
                             squeeze=False)
    for ax, r in zip(axes[:, 0], study.runs):
        counts = pd.DataFrame({a: study.first(r, a)["04-samples"]["class_counts"]
                               for a in study.archs}).T.astype(float)
        share = 100 * counts.div(counts.sum(axis=1), axis=0)
        sns.heatmap(share, annot=True, fmt=".0f", cmap="viridis", vmin=0, vmax=40, ax=ax,
                    cbar_kws={"label": "% of samples"}, annot_kws={"fontsize": FONT - 0.5})
        ax.set(xlabel="class", ylabel="", title=RUNS[r].title)
    fig.tight_layout()
    return FigurePart(fig, f"fig{fig_no:02d}-sample-classes.png",
                      f"**Figure {fig_no}.** Class histograms of the decoder samples: per cent of "
                      "each model's samples the classifier gives each class (first seed; real "
                      "digits would show ≈ 10 % everywhere).")


def filmstrips(study: Study, run: str) -> FigurePart:
    archs = study.archs
    fig, axes = plt.subplots(len(archs), 1, figsize=(WIDTH, 1.4 * len(archs)), squeeze=False)
    for ax, a in zip(axes[:, 0], archs):
        ax.imshow(plt.imread(study.first(run, a)["filmstrip"]), cmap="gray", vmin=0, vmax=1)
        ax.set_ylabel(a, rotation=0, ha="right", va="center")
        ax.set_xticks([])
        ax.set_yticks([])
    steps = pictures.filmstrip_steps(study.first(run, archs[0])["05-chain"]["steps"])
    axes[0, 0].set_title("steps " + ", ".join(map(str, steps)) + " (4 chains per model)")
    n = study.first(run, archs[0])["05-chain"]["steps"]
    return FigurePart(fig, f"chain-filmstrips-{run}.png",
                      f"**Limiting distribution, {RUNS[run].title}:** {n}-step chains from 16 "
                      "test images per model, first seed (GIFs of `05-chain.ipynb`).")


def seed_chain_strips(study: Study, fig_no: int) -> FigurePart | None:
    """The seed's chains (plain, normalised, clipped) of one seed-faithful model: the first
    batch-16 model and seed whose plain chain broke, else the deepest batch-16 model's first
    seed, among the cells whose filmstrips are here; None when none recorded them."""
    from vae_report.metrics.chain import CHAIN_KINDS

    # the cells whose filmstrips are here (the committed study keeps the first seed's)
    cells = [(k, c) for k, c in sorted(study.cells.items())
             if k[0] in study.variants and c["05-chain"].get("seed_chains")
             and all((c["folder"] / f"chain-{kind}.png").exists() for kind in CHAIN_KINDS)]
    if not cells:
        return None
    broke = [(k, c) for k, c in cells if c["05-chain"]["seed_chains"]["plain"]["broke"]]
    deepest = [kc for kc in cells if kc[0][2] == evidence.DEEPEST]
    (run, seed, arch), cell = (broke or deepest or cells)[0]
    fates = cell["05-chain"]["seed_chains"]
    fig, axes = plt.subplots(len(CHAIN_KINDS), 1, figsize=(WIDTH, 1.6 * len(CHAIN_KINDS)),
                             squeeze=False)
    for ax, kind in zip(axes[:, 0], CHAIN_KINDS):
        f = fates[kind]
        ax.imshow(plt.imread(cell["folder"] / f"chain-{kind}.png"), cmap="gray", vmin=0, vmax=1)
        fate = (f"failed at step {f['failed_step']} ({f['failure']})" if f["broke"]
                else f"ran {f['steps']} steps")
        ax.set_title(f"{kind}: {fate}", fontsize="small", loc="left")
        ax.set_xticks([])
        ax.set_yticks([])
    return FigurePart(fig, f"fig{fig_no:02d}-seed-chains.png",
                      f"**Figure {fig_no}.** The chain as the seed ran it, {RUNS[run].title}, "
                      f"{arch}, seed {seed}: plain (z and x drawn by `torch.distributions.Normal` "
                      "with its argument checks), each image min–max normalised to [0, 1] after "
                      "every step (the seed's first workaround), and the log-variances clipped "
                      "before the exponential (its second). Four chains a row, the columns the "
                      "steps of the other filmstrips; a broken chain shows the steps it ran. "
                      "Data: `chain-<kind>.png` of `05-chain.ipynb`.")


def chain_classes(study: Study, fig_no: int) -> FigurePart:
    """The class of every frame of every chain, a panel per model (rows) and run (columns)."""
    fig, axes = plt.subplots(len(study.archs), len(study.runs),
                             figsize=(WIDTH, 1.25 * len(study.archs) + 0.6), sharex=True,
                             squeeze=False)
    for j, r in enumerate(study.runs):
        for i, a in enumerate(study.archs):
            m = study.first(r, a)["05-chain"]
            ax = axes[i, j]
            ax.imshow(m["frame_classes"], aspect="auto", cmap="tab10", vmin=-0.5, vmax=9.5,
                      interpolation="nearest")
            ax.set_yticks([])
            ax.set_title(f"{RUNS[r].short}, {a}: {m['class_switches_per_chain']:.1f} changes/chain"
                         " (seed shown)", fontsize=FONT)
        axes[-1, j].set_xlabel("step")
    handles = [matplotlib.patches.Patch(color=plt.get_cmap("tab10")(d), label=str(d))
               for d in range(10)]
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=10, title="class")
    return FigurePart(fig, f"fig{fig_no:02d}-chain-classes.png",
                      f"**Figure {fig_no}.** The class the digit classifier gives each frame "
                      "(colour) of each of 16 chains (rows of a panel) over the steps, every model "
                      "(panels down) of both runs (across), first seed; a title's class changes are that "
                      "seed's (the chain-mixing table gives the mean over seeds). Long bands: a chain stays "
                      "on a digit; stripes: it moves between digits (or fades, Table: chain "
                      "mixing). Data: `05-chain.json`.")


def chain_mixing(study: Study, fig_no: int) -> FigurePart:
    fig, axes = plt.subplots(2, len(study.runs), figsize=(WIDTH, 5.6), sharex=True, squeeze=False)
    colour = colours(study)
    for j, r in enumerate(study.runs):
        for a in study.archs:
            m = study.first(r, a)["05-chain"]
            axes[0, j].plot(np.mean(m["frame_confidence"], axis=0), color=colour[a], label=a)
            axes[1, j].plot(np.mean(m["frame_nn_distance"], axis=0), color=colour[a], label=a)
        axes[0, j].set(title=RUNS[r].short, ylim=(0, 1.02))
        axes[1, j].set(xlabel="step")
    axes[0, 0].set_ylabel("classifier confidence")
    axes[1, 0].set_ylabel("distance to nearest\ntraining image")
    axes[0, 0].legend(ncol=2, fontsize=FONT - 0.5)
    fig.tight_layout()
    return FigurePart(fig, f"fig{fig_no:02d}-chain-mixing.png",
                      f"**Figure {fig_no}.** Along the chains, averaged over the 16 chains of each "
                      "model (first seed): the classifier's confidence in the frame (top) and the "
                      "frame's pixel distance to the nearest training image (bottom). Data: "
                      "`05-chain.json`.")
