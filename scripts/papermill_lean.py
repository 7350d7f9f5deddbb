"""papermill's command line (same arguments), minus one optional import that costs ≈ 1 s.

papermill imports nbformat, nbformat imports jsonschema, and jsonschema imports the optional
`rfc3987_syntax` package (installed here as part of jupyterlab's `jsonschema[format-nongpl]`)
only to offer an "iri" format check; that module compiles a grammar at import time, 1.1 s of the
2.4 s papermill needs to run an empty notebook on this machine. nbformat's notebook schema has no
IRI fields, so hiding the module changes nothing but the start-up time (1.1 s for an empty
notebook): ≈ 2 core-minutes over the 113 notebooks of the full study.
"""
import sys

# None in sys.modules makes `import rfc3987_syntax` raise ImportError, which jsonschema expects
# and handles by leaving the "iri" format unchecked.
sys.modules.setdefault("rfc3987_syntax", None)

from papermill.cli import papermill  # noqa: E402  (must come after the line above)

if __name__ == "__main__":
    papermill(prog_name="papermill")
