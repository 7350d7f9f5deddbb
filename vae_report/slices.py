"""A study built in slices, on machines that do not keep their files between sittings.

The full study is hours of training on two cores; a machine that loses its checkpoints when a
sitting ends (a 3-hour session, a preemptible node) cannot finish it in one. So each sitting
trains and evaluates some of the study's cells in a clean clone of one *study commit* and packs
what the report reads of them — the files of each cell folder that git keeps (``.gitignore``:
JSON metrics, history, the first seed's pictures), the published weights that changed, and, once,
the digit classifier the later sittings must judge with — into one archive,
``reports/slices/<profile>/<name>.tar.xz``, which is committed and, in the next commit, taken out
of the tree again (git ignores the folder; a study's slices outweigh the tree's 48 MiB, history
does not count): ``fetch`` gets them back from history. The next sitting restores the
classifier into its own clone of the same commit and goes on. When the slices hold every cell of
the study, ``assemble`` replaces the committed cells by theirs and the report is rendered from
them (the report rule's commands).

    python -m vae_report.slices fetch               # the archives main's history holds, in place
    python -m vae_report.slices status              # cells held by the slices, cells missing
    python -m vae_report.slices jobs                # the training commands of the missing cells
    python -m vae_report.slices evaluate            # run the steps of every trained, unpacked cell
    python -m vae_report.slices pack NAME           # archive the evaluated cells not yet packed
    python -m vae_report.slices restore             # a new clone: the slices' classifier, in place
    python -m vae_report.slices assemble            # every cell present: put them in reports/
    python -m vae_report.slices render              # then the report from them (HTML and PDF)

Every cell of one study comes from one commit: ``pack`` refuses a dirty clone or a commit other
than the slices' so far, and ``assemble`` checks the cells' own provenance.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Iterable, Sequence

from . import layout

Cell = tuple[str, int, str]                 # (run, seed, architecture)

#: The Snakefile's rules ``evaluate`` may run: every one but training.
EVALUATION_RULES = ("mnist", "classifier", "train", "step", "publish_model", "publish_classifier")

#: Inside each archive: which commit, which cells, every file's SHA-256.
MANIFEST = "MANIFEST.json"


def slices_dir(profile: str, root: Path = layout.PROJECT_ROOT) -> Path:
    """``reports/slices/<profile>``: the committed archives."""
    return root / "reports" / "slices" / profile


def fetch(profile: str, root: Path = layout.PROJECT_ROOT,
          store: Path = layout.PROJECT_ROOT) -> list[Path]:
    """Write each archive of ``profile`` that ``store``'s git history holds into ``root``'s
    slices folder, where it is missing. An archive is committed once and taken out of the tree in
    the next commit (git ignores ``reports/slices/``): a study's slices with their weights weigh
    more than the tracked tree may (≤ 48 MiB, tests/test_setup.py), history does not count."""
    folder = slices_dir(profile, root)
    relative = slices_dir(profile, store).relative_to(store).as_posix()
    log = _git(store, "log", "--format=@%H", "--diff-filter=A", "--name-only", "--", relative)
    written, commit = [], ""
    for line in log.splitlines():
        if line.startswith("@"):
            commit = line[1:]
        elif line.endswith(".tar.xz") and not (target := folder / Path(line).name).exists():
            data = subprocess.run(["git", "-C", str(store), "show", f"{commit}:{line}"],
                                  check=True, capture_output=True).stdout       # bytes: not _git
            folder.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written.append(target)
    return written


def study_cells(profile: str) -> list[Cell]:
    """Every (run, seed, architecture) of the profile's study, as the Snakefile plans it."""
    from . import workflow
    from .params import RUNS

    return [(run, seed, arch) for run in RUNS for seed in workflow.run_seeds(run, profile)
            for arch in workflow.run_archs(run, profile)]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True).stdout


def clean_commit(root: Path) -> str:
    """The checked-out commit of ``root``, refused when tracked code differs from it (the cells'
    provenance would say ``+dirty``)."""
    dirty = [line for line in _git(root, "status", "--porcelain", "--untracked-files=no").splitlines()
             if not line[3:].startswith("reports/")]
    if dirty:
        raise SystemExit(f"error: {root} has uncommitted changes ({', '.join(d[3:] for d in dirty[:3])}"
                         f"…): slices are made in a clean clone of the study commit")
    return _git(root, "rev-parse", "HEAD").strip()


def manifests(profile: str, root: Path = layout.PROJECT_ROOT) -> dict[Path, dict]:
    """Each committed archive of ``profile`` and its manifest."""
    found = {}
    for archive in sorted(slices_dir(profile, root).glob("*.tar.xz")):
        with tarfile.open(archive) as tar:
            found[archive] = json.load(tar.extractfile(MANIFEST))            # type: ignore[arg-type]
    return found


def packed_cells(profile: str, root: Path = layout.PROJECT_ROOT) -> dict[Cell, str]:
    """Every cell some archive holds → the archive's name; a cell in two archives is an error."""
    held: dict[Cell, str] = {}
    for archive, manifest in manifests(profile, root).items():
        for run, seed, arch in manifest["cells"]:
            cell = (run, int(seed), arch)
            if cell in held:
                raise SystemExit(f"error: {run}/seed-{seed}/{arch} is in both {held[cell]} and "
                                 f"{archive.name}: delete the one made later")
            held[cell] = archive.name
    return held


def study_commit(profile: str, root: Path = layout.PROJECT_ROOT) -> str | None:
    """The one commit every archive was made at (None before the first); two are an error."""
    commits = {m["study_commit"] for m in manifests(profile, root).values()}
    if len(commits) > 1:
        raise SystemExit(f"error: the slices of {profile} were made at different commits "
                         f"({', '.join(sorted(commits))}): a study comes from one")
    return next(iter(commits), None)


def evaluated(profile: str, cell: Cell, root: Path = layout.PROJECT_ROOT) -> bool:
    """Whether every step of ``cell`` ran in this clone (its executed notebooks are here)."""
    return all(layout.cell_notebook(profile, *cell, step=step, reports_dir=root / "reports").exists()
               for step in layout.CELL_STEPS)


def trained(profile: str, cell: Cell, root: Path = layout.PROJECT_ROOT) -> bool:
    """Whether ``cell``'s final checkpoint is in this clone."""
    return layout.checkpoint_path(profile, *cell, checkpoints_dir=root / "checkpoints").exists()


def kept_files(root: Path, folder: Path) -> list[Path]:
    """The files under ``folder`` that git would commit (tracked or new, not ignored)."""
    listed = _git(root, "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--",
                  str(folder.relative_to(root)))
    return sorted(root / p for p in listed.split("\0") if p and (root / p).is_file())


def changed_files(root: Path, folder: Path) -> list[Path]:
    """The files under ``folder`` that differ from the commit or are new (not ignored)."""
    listed = _git(root, "ls-files", "--modified", "--others", "--exclude-standard", "-z", "--",
                  str(folder.relative_to(root)))
    return sorted(root / p for p in listed.split("\0") if p and (root / p).is_file())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pack(profile: str, name: str, root: Path = layout.PROJECT_ROOT) -> Path:
    """Archive every evaluated cell of this clone that no slice holds yet; the first slice also
    takes the classifier (its checkpoint, notebook and metrics). Returns the archive's path."""
    commit = clean_commit(root)
    first = study_commit(profile, root)
    if first not in (None, commit):
        raise SystemExit(f"error: the slices so far were made at {first[:12]}, this clone is at "
                         f"{commit[:12]}: `git checkout {first[:12]}` and evaluate again")
    held = packed_cells(profile, root)
    cells = [c for c in study_cells(profile) if c not in held and evaluated(profile, c, root)]
    if not cells:
        raise SystemExit("error: no evaluated cell that the slices lack: train some and run "
                         "`python -m vae_report.slices evaluate` first")
    reports = root / "reports"
    kept = {c: kept_files(root, layout.cell_dir(profile, *c, reports)) for c in cells}
    if not all(kept.values()):
        raise SystemExit(f"error: git ignores every output of profile {profile!r} (.gitignore): "
                         f"only a committed profile (full) is built in slices")
    files = [f for c in cells for f in kept[c]]
    # published weights that changed since the commit, but not again those an earlier slice
    # already holds as they are (a sitting that packs twice would carry every one twice)
    earlier = {n: h for m in manifests(profile, root).values() for n, h in m["files"].items()}
    files += [f for f in changed_files(root, layout.models_dir(profile, reports))
              if earlier.get(str(f.relative_to(root))) != _sha256(f)]
    if not held:                                    # the classifier every later slice judges with
        files += kept_files(root, layout.classifier_dir(profile, reports))
        files += [layout.classifier_notebook(profile, reports),
                  layout.classifier_path(profile, root / "checkpoints")]
    manifest = {"study_commit": commit, "profile": profile, "name": name,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "cells": [list(c) for c in cells],
                "files": {str(f.relative_to(root)): _sha256(f) for f in files}}
    out = slices_dir(profile, root) / f"{name}.tar.xz"
    if out.exists():
        raise SystemExit(f"error: {out} exists: choose another name")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:xz", preset=9) as tar:
        data = json.dumps(manifest, indent=1).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime = len(data), int(time.time())
        tar.addfile(info, io.BytesIO(data))
        for f in files:
            tar.add(f, arcname=str(f.relative_to(root)))
    return out


def _extract(archive: Path, root: Path, wanted: Iterable[str] | None = None) -> list[Path]:
    """Extract ``archive``'s files (all, or ``wanted``) under ``root``, each checked against the
    manifest's SHA-256 and given the current time (newer than the clone's code, so that the
    workflow takes them as up to date)."""
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile(MANIFEST))                       # type: ignore[arg-type]
        names = list(manifest["files"]) if wanted is None else [n for n in wanted
                                                                 if n in manifest["files"]]
        out = []
        for name in names:
            data = tar.extractfile(name).read()                              # type: ignore[union-attr]
            if hashlib.sha256(data).hexdigest() != manifest["files"][name]:
                raise SystemExit(f"error: {name} in {archive.name} does not match its manifest: "
                                 f"the archive is damaged")
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            out.append(path)
    return out


def restore(profile: str, root: Path = layout.PROJECT_ROOT) -> list[Path]:
    """Put the slices' classifier in place in a new clone of the study commit."""
    commit, first = clean_commit(root), study_commit(profile, root)
    if first is None:
        raise SystemExit(f"error: no slices in {slices_dir(profile, root)}: nothing to restore")
    if first != commit:
        raise SystemExit(f"error: the slices were made at {first[:12]}, this clone is at "
                         f"{commit[:12]}: `git checkout {first[:12]}` first")
    reports = root / "reports"
    wanted = [str(p.relative_to(root)) for p in
              (layout.classifier_notebook(profile, reports),
               layout.classifier_path(profile, root / "checkpoints"))]
    wanted += [str((layout.classifier_dir(profile, reports) / n).relative_to(root))
               for n in ("classifier.json",)]
    restored = [p for archive in manifests(profile, root) for p in _extract(archive, root, wanted)]
    # the checkpoint last: the workflow reruns the classifier when its notebook is the newer
    now = time.time()
    for p in sorted(restored, key=lambda p: p.suffix == ".pt"):
        os.utime(p, (now, now))
        now += 1
    return restored


def missing(profile: str, root: Path = layout.PROJECT_ROOT) -> list[Cell]:
    """The study's cells that no slice holds."""
    held = packed_cells(profile, root)
    return [c for c in study_cells(profile) if c not in held]


def training_jobs(profile: str, root: Path = layout.PROJECT_ROOT) -> list[str]:
    """Shell commands (run in ``root``) that train every cell no slice holds and ``root`` has not
    trained: one per (run, architecture) with all its missing seeds when ``stack_seeds`` would
    stack them on a CPU (the small models), else one per seed, so that a sitting's end loses at
    most the jobs under way. The first missing seed first, then the costliest first."""
    import shlex

    import vae_core

    from . import workflow
    from .params import study_parameters
    from .seed_stack import stacking_pays

    held = packed_cells(profile, root)
    todo: dict[tuple[str, str], list[int]] = {}
    for run, seed, arch in study_cells(profile):
        if (run, seed, arch) not in held and not trained(profile, (run, seed, arch), root):
            todo.setdefault((run, arch), []).append(seed)
    jobs = []
    for (run, arch), seeds in todo.items():
        merged = study_parameters(profile, run)
        model = vae_core.build_model(arch, merged.get("latent_dim", 64))
        stack = merged.get("stack_seeds", "auto")
        stacked = stack is True or (stack == "auto" and stacking_pays(model, "cpu")[0])
        priority = workflow.training_priority(profile, run, arch)
        for group in [seeds] if stacked and len(seeds) > 1 else [[s] for s in seeds]:
            command = (f".venv/bin/python scripts/train_seeds.py --profile {profile} --run {run} "
                       f"--arch {arch} -p seeds {shlex.quote(str(group))} --quiet")
            jobs.append((group[0], -priority, command))
    return [command for *_, command in sorted(jobs)]


def evaluate_targets(profile: str, root: Path = layout.PROJECT_ROOT) -> list[str]:
    """What the workflow makes of every cell that is trained here, not evaluated and not packed:
    its step notebooks and, for a main run's first seed, its published weights (and then the
    classifier's)."""
    from . import workflow
    from .params import MAIN_RUNS

    held, reports = packed_cells(profile, root), root / "reports"
    cells = [c for c in study_cells(profile)
             if c not in held and trained(profile, c, root) and not evaluated(profile, c, root)]
    paths = [layout.cell_notebook(profile, *c, step=s, reports_dir=reports)
             for c in cells for s in layout.CELL_STEPS]
    published = [layout.published_model_path(profile, *c, reports_dir=reports) for c in cells
                 if c[0] in MAIN_RUNS and c[1] == workflow.run_seeds(c[0], profile)[0]]
    if published:
        published.append(layout.published_classifier_path(profile, reports))
    return [str(p.relative_to(root)) for p in paths + published]


def cell_commits(profile: str, cells: Sequence[Cell], root: Path = layout.PROJECT_ROOT) -> set[str]:
    """The commits the cells' metrics were computed at (their provenance)."""
    commits = set()
    for cell in cells:
        folder = layout.cell_dir(profile, *cell, reports_dir=root / "reports")
        for step in layout.CELL_STEPS:
            commits.add(json.loads((folder / f"{step}.json").read_text())["provenance"]["git_commit"])
    return commits


def assemble(profile: str, root: Path = layout.PROJECT_ROOT) -> list[Cell]:
    """Replace ``reports/<profile>``'s cells (every run's folder) by the slices' cells, the
    published weights and the classifier by theirs where they hold one. Refused, with the
    missing cells named, until the slices hold the whole study."""
    lacking = missing(profile, root)
    if lacking:
        shown = ", ".join(f"{r}/seed-{s}/{a}" for r, s, a in lacking[:6])
        raise SystemExit(f"error: the slices lack {len(lacking)} cells of the study ({shown}"
                         f"{', …' if len(lacking) > 6 else ''}): train and pack them first")
    commit = study_commit(profile, root)
    from .params import RUNS
    for run in RUNS:
        shutil.rmtree(layout.profile_dir(profile, root / "reports") / run, ignore_errors=True)
    for archive in manifests(profile, root):
        _extract(archive, root)
    cells = study_cells(profile)
    commits = cell_commits(profile, cells, root)
    if commits != {commit}:
        raise SystemExit(f"error: the cells' provenance names commits {sorted(commits)}, the "
                         f"slices' manifests {commit}: a study comes from one commit")
    return cells


def render(profile: str, root: Path = layout.PROJECT_ROOT) -> int:
    """The report rule's commands on the assembled cells: the report notebook, its HTML, its PDF."""
    nb = layout.report_file(profile, reports_dir=root / "reports")
    steps = [[str(root / ".venv" / "bin" / "python"), "scripts/run_notebook.py", "notebooks/report.ipynb", str(nb),
              "-p", "profile", profile, "--label", f"{profile} report (assembled slices)"],
             ["bash", "scripts/setup-latex.sh"],
             ["bash", "scripts/render_report.sh", "html", str(nb)],
             ["bash", "scripts/render_report.sh", "pdf", str(nb)]]
    for step in steps:
        code = subprocess.call(step, cwd=root)
        if code:
            return code
    return 0


def _evaluate(profile: str, jobs: int, root: Path) -> int:
    targets = evaluate_targets(profile, root)
    if not targets:
        print("nothing to evaluate: no trained cell here lacks its steps")
        return 0
    print(f"evaluating {len(targets) // len(layout.CELL_STEPS)} cells")
    # the clone's own environment: its notebooks must import its code, not this one's
    snakemake = root / ".venv" / "bin" / "snakemake"
    # evaluation never trains: a cell's checkpoint is an input as it stands (a training rule,
    # offered a seed's checkpoint among its missing siblings, would otherwise train them all)
    return subprocess.call([str(snakemake), *targets, "--cores", str(jobs),
                            "--allowed-rules", *EVALUATION_RULES,
                            "--config", f"profile={profile}"], cwd=root)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["fetch", "status", "jobs", "evaluate", "pack", "restore",
                                        "assemble", "render"])
    ap.add_argument("name", nargs="?", help="pack: the archive's name (e.g. session-3)")
    ap.add_argument("--profile", default="full")
    ap.add_argument("--jobs", type=int, default=2, help="evaluate: notebooks at once")
    ap.add_argument("--root", type=Path, default=layout.PROJECT_ROOT,
                    help="the clone to work in (default: this one); its .venv runs the steps")
    args = ap.parse_args(argv)
    root = args.root.resolve()
    if args.command == "fetch":
        for path in fetch(args.profile, root):
            print(f"fetched {path.relative_to(root)} from this repository's history")
    elif args.command == "status":
        held, lacking = packed_cells(args.profile, root), missing(args.profile, root)
        print(f"{len(held)} cells in {len(manifests(args.profile, root))} slices "
              f"(commit {(study_commit(args.profile, root) or '-')[:12]}), {len(lacking)} missing")
        for run, seed, arch in lacking:
            print(f"  missing {run}/seed-{seed}/{arch}")
    elif args.command == "jobs":
        print("\n".join(training_jobs(args.profile, root)))
    elif args.command == "evaluate":
        return _evaluate(args.profile, args.jobs, root)
    elif args.command == "pack":
        if not args.name:
            ap.error("pack needs a NAME")
        out = pack(args.profile, args.name, root)
        print(f"wrote {out.relative_to(root)} ({out.stat().st_size / 2 ** 20:.1f} MiB)")
    elif args.command == "restore":
        for path in restore(args.profile, root):
            print(f"restored {path.relative_to(root)}")
    elif args.command == "assemble":
        cells = assemble(args.profile, root)
        print(f"assembled {len(cells)} cells in reports/{args.profile}; render its report with "
              f"`python -m vae_report.slices render`")
    else:
        return render(args.profile, root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
