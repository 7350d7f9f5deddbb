"""Run one notebook of the study with papermill; the Snakefile calls it for every job.

    vae-notebook NOTEBOOK OUTPUT [-p KEY VALUE]...      (python -m vae_report.workflow.run_notebook)

The ``-p`` values are papermill's (read as YAML: ``-p seed 2`` is the integer 2): the cell a
notebook is (``profile``, ``run``, ``seed``, ``arch``) and any change; the notebook reads every
other value from ``params/*.yaml`` itself. The notebook runs
into ``.<name>.partial.ipynb`` beside OUTPUT and takes OUTPUT's name only when every cell ran, so
a partial notebook never takes a finished one's name; a failed run is kept as
``<name>.failed.ipynb`` with its cell outputs in ``<name>.log``. One line is printed when the
notebook starts and one when it ends; a failure prints one FAILED line with the notebook's error
and the end of its log; Ctrl-C prints "interrupted" (exit status 130) instead of a traceback.

The kernel talks over IPC sockets in a folder of its own (``vae_report.workflow.kernels``), so kernels
started at the same moment cannot collide. A kernel that dies before it answers, or does not
answer within ``--kernel-timeout`` seconds, is killed and the notebook started once more; a
second such failure is one FAILED line naming the cause. No partial file is left either way.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path

KERNEL = "vae-report"
#: Seconds a kernel may take to answer its first message: ≈ 2 s here, far more on a loaded node
#: or CI machine; past it the kernel is killed and the notebook started once more.
KERNEL_TIMEOUT = 120
#: How often a notebook is started when its kernel fails to start (the first try included).
KERNEL_TRIES = 2


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebook", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("-p", dest="values", action="append", default=[], nargs=2,
                    metavar=("KEY", "VALUE"), help="one parameter (repeatable)")
    ap.add_argument("--label", default=None, help="what the progress lines call this run")
    ap.add_argument("--kernel-timeout", type=float, default=KERNEL_TIMEOUT,
                    help=f"seconds the kernel may take to answer (default {KERNEL_TIMEOUT})")
    return ap.parse_args(argv)


def _parameters(values: list[list[str]]) -> dict:
    import yaml

    return {key: yaml.safe_load(value) for key, value in values}


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


def _kernel_failure(exc: BaseException) -> str | None:
    """What went wrong, when ``exc`` says the kernel died or never answered (worth a second
    start: the next kernel gets fresh sockets and a fresh process), else None."""
    from nbclient.exceptions import DeadKernelError

    text = f"{type(exc).__name__}: {exc}".strip()
    if isinstance(exc, (DeadKernelError, TimeoutError)):
        return text
    if isinstance(exc, RuntimeError) and ("Kernel died" in text or "didn't respond" in text):
        return text
    if type(exc).__module__.startswith("zmq"):        # e.g. "Address already in use"
        return text
    return None


def _execute(notebook: Path, partial: Path, params: dict, timeout: float) -> None:
    import papermill

    from vae_report.workflow.kernels import KERNEL_MANAGER

    papermill.execute_notebook(str(notebook), str(partial), parameters=params,
                               kernel_name=KERNEL, progress_bar=False, log_output=True,
                               start_timeout=timeout, kernel_manager_class=KERNEL_MANAGER)


def _skip_iri_grammar() -> None:
    """jsonschema (loaded by nbformat) imports the optional ``rfc3987_syntax`` only to offer an
    "iri" format check, and that module compiles a grammar at import time: 1.1 s of the 2.4 s
    papermill needed to run an empty notebook here. nbformat's schema has no IRI fields, so
    hiding the module changes nothing but the start-up time (None in ``sys.modules`` makes the
    import raise ImportError, which jsonschema handles). Done by the command, not at import."""
    sys.modules.setdefault("rfc3987_syntax", None)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGINT, _on_interrupt)
    _skip_iri_grammar()
    from papermill.exceptions import PapermillExecutionError

    out = args.output
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.stem}.partial.ipynb")
    failed = out.with_name(f"{out.stem}.failed.ipynb")
    log = out.with_suffix(".log")
    label = args.label or str(out)
    params = _parameters(args.values)
    start = time.time()
    stamp = lambda: time.strftime("%H:%M:%S")
    print(f"[{stamp()}] start {label}", flush=True)
    handler, console = _log_to(log)
    try:
        for attempt in range(1, KERNEL_TRIES + 1):
            try:
                _execute(args.notebook, partial, params, args.kernel_timeout)
                break
            except Exception as exc:                  # sorted below: a kernel, or the code
                if _INTERRUPTED:                      # Ctrl-C killed the kernel too: not a fault
                    raise KeyboardInterrupt from None
                cause = _kernel_failure(exc)
                if cause is None:
                    raise
                partial.unlink(missing_ok=True)
                if attempt == KERNEL_TRIES:
                    print(f"[{stamp()}] FAILED {label} after {time.time() - start:.0f} s: its "
                          f"kernel failed {KERNEL_TRIES} times ({cause}); log: {log}",
                          file=console)
                    return 1
                print(f"[{stamp()}] retry {label}: its kernel failed ({cause}); starting it once "
                      f"more", file=console)
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
    except Exception as exc:                          # papermill's own errors, a missing file…
        partial.unlink(missing_ok=True)
        print(f"[{stamp()}] FAILED {label} after {time.time() - start:.0f} s: "
              f"{type(exc).__name__}: {exc}; log: {log}", file=console)
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
