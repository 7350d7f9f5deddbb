"""Run one notebook of the study with papermill; the Snakefile calls it for every job.

    run_notebook.py NOTEBOOK OUTPUT [-f PARAMS.yaml]... [-p KEY VALUE]...

The parameters are papermill's: the ``-f`` YAML files merged shallowly in order (the last one
wins), then the ``-p`` values (read as YAML: ``-p seed 2`` is the integer 2). The notebook runs
into ``.<name>.partial.ipynb`` beside OUTPUT and takes OUTPUT's name only when every cell ran, so
a partial notebook never takes a finished one's name; a failed run is kept as
``<name>.failed.ipynb`` with its cell outputs in ``<name>.log``. One line is printed when the
notebook starts and one when it ends; a failure prints the notebook's error and the end of its
log; Ctrl-C prints "interrupted" (exit status 130) instead of a traceback.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path

# jsonschema (loaded by nbformat) imports the optional `rfc3987_syntax` only to offer an "iri"
# format check, and that module compiles a grammar at import time: 1.1 s of the 2.4 s papermill
# needed to run an empty notebook here. nbformat's schema has no IRI fields, so hiding the module
# changes nothing but the start-up time. (None in sys.modules makes the import raise
# ImportError, which jsonschema handles.)
sys.modules.setdefault("rfc3987_syntax", None)

KERNEL = "vae-report"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebook", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("-f", dest="files", action="append", default=[], type=Path,
                    help="a YAML file of parameters (repeatable; the last wins)")
    ap.add_argument("-p", dest="values", action="append", default=[], nargs=2,
                    metavar=("KEY", "VALUE"), help="one parameter (repeatable; after the files)")
    ap.add_argument("--label", default=None, help="what the progress lines call this run")
    return ap.parse_args(argv)


def _parameters(files: list[Path], values: list[list[str]]) -> dict:
    import yaml

    merged: dict = {}
    for f in files:
        merged.update(yaml.safe_load(f.read_text()) or {})
    merged.update({key: yaml.safe_load(value) for key, value in values})
    return merged


def _log_to(path: Path) -> tuple[logging.Handler, "object"]:
    """Send papermill's log (the cells' outputs) and everything written to this process's
    stderr — the kernel's too, which inherits it: its warnings and, on Ctrl-C, its tracebacks —
    to ``path``. Returns the handler and a stream on the original stderr for our own lines."""
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    console = os.fdopen(os.dup(2), "w", buffering=1)
    os.dup2(handler.stream.fileno(), 2)
    return handler, console


def _tail(path: Path, lines: int = 15) -> str:
    text = [l for l in path.read_text(errors="replace").splitlines() if l.strip()] if path.exists() else []
    return "\n".join(f"  | {l}" for l in text[-lines:])


_INTERRUPTED: list[int] = []


def _on_interrupt(signum: int, frame: object) -> None:
    """Remember the Ctrl-C, then raise as Python would: if a library swallows the
    KeyboardInterrupt (one window of kernel start-up does), the run still ends as interrupted."""
    _INTERRUPTED.append(signum)
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGINT, _on_interrupt)
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out = args.output
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.stem}.partial.ipynb")
    failed = out.with_name(f"{out.stem}.failed.ipynb")
    log = out.with_suffix(".log")
    label = args.label or str(out)
    params = _parameters(args.files, args.values)
    start = time.time()
    stamp = lambda: time.strftime("%H:%M:%S")
    print(f"[{stamp()}] start {label}", flush=True)
    handler, console = _log_to(log)
    try:
        papermill.execute_notebook(str(args.notebook), str(partial), parameters=params,
                                   kernel_name=KERNEL, progress_bar=False, log_output=True,
                                   # a kernel starts in 2 s here, but a loaded node or CI
                                   # machine can take longer than papermill's default 60 s
                                   start_timeout=600)
        if _INTERRUPTED:
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        partial.unlink(missing_ok=True)
        print(f"[{stamp()}] interrupted {label} after {time.time() - start:.0f} s; the next "
              f"`make report` continues from the last finished epoch or step", file=console)
        return 130
    except PapermillExecutionError as exc:
        os.replace(partial, failed)
        print(f"[{stamp()}] FAILED {label} after {time.time() - start:.0f} s: "
              f"{exc.ename}: {exc.evalue}\n  executed notebook: {failed}   log: {log}; its end:\n"
              f"{_tail(log)}", file=console)
        return 1
    finally:
        logging.getLogger().removeHandler(handler)
        os.dup2(console.fileno(), 2)
        handler.close()
    os.replace(partial, out)
    failed.unlink(missing_ok=True)
    print(f"[{stamp()}] done  {label} in {time.time() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:                # before the notebook started (imports, set-up)
        print(f"[{time.strftime('%H:%M:%S')}] interrupted before the notebook started",
              file=sys.stderr)
        sys.exit(130)
