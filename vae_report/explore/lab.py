"""JupyterLab on the project (``make lab``): the project's notebooks are saved without outputs.

JupyterLab's autosave writes a notebook's outputs into its file: opening ``explore.ipynb`` for two
minutes turned 8 KB into 1.6 MB, left ``git status`` dirty, stamped every later render
``+dirty``, made the workflow plan reruns, and saved widget state that reloads as "model not
found". :class:`ProjectContentsManager` is the Jupyter server's contents manager for ``make lab``:
a notebook under ``notebooks/`` is saved with its outputs, execution counts and widget state
stripped, and not written at all when what is left equals the file — so exploring changes
nothing on disk, and editing a step's code saves the code.
"""
from __future__ import annotations

import copy
from typing import Any

from jupyter_server.services.contents.filemanager import FileContentsManager

#: The folder (relative to the server's root) whose notebooks are kept free of outputs.
PROJECT_NOTEBOOKS = "notebooks/"


def stripped(nb: dict[str, Any]) -> dict[str, Any]:
    """A copy of notebook JSON ``nb`` without outputs, execution counts or widget state."""
    nb = copy.deepcopy(nb)
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    return nb


class ProjectContentsManager(FileContentsManager):
    """Saves the project's notebooks (:data:`PROJECT_NOTEBOOKS`) without outputs, and leaves the
    file untouched when only outputs changed; every other file as JupyterLab's own manager."""

    def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        path = path.strip("/")
        if not (model.get("type") == "notebook" and path.startswith(PROJECT_NOTEBOOKS)
                and model.get("content") is not None):
            return super().save(model, path)
        content = stripped(model["content"])
        if self.file_exists(path):
            current = self.get(path, content=True, type="notebook")["content"]
            if _cells(current) == _cells(content):
                # nothing but outputs (or the metadata JupyterLab adds) changed: the file, and
                # its time stamp, stay as they are
                return self.get(path, content=False)
            # the code changed: save it, under the file's own notebook metadata (JupyterLab's
            # adds versions that would show as a change of their own)
            content["metadata"] = current.get("metadata", content.get("metadata", {}))
        return super().save({**model, "content": content}, path)


def _cells(nb: Any) -> list[tuple[str, str]]:
    """What a notebook says: each cell's type and source (text, whether stored as a list)."""
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
            for c in nb["cells"]]
