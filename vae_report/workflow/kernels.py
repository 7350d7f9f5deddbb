"""The Jupyter kernels the workflow's notebooks run in: sockets that cannot collide.

Over TCP, each kernel picks free ports itself; two kernels started at the same moment can pick
the same port (papermill #511): measured with this project's venv, 8 notebooks at once × 30
rounds, 3 of 480 starts failed — "Address already in use", "Kernel died before replying to
kernel_info", and one client blocked for good in ``kernel_info()``. Plain ``transport="ipc"`` is
worse: every kernel's sockets are named ``kernel-ipc-<n>`` in the working folder, and two kernels
take the same names (4 of 8 hung). :class:`IsolatedKernelManager` gives each kernel IPC sockets in
a folder of its own (``tempfile.mkdtemp``: unique by construction), removed when the kernel
stops: 0 failures in 240 starts, and no "running over TCP without encryption" warning.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from jupyter_client.manager import AsyncKernelManager

#: Where the per-kernel socket folders go. A Unix socket path must stay under ~100 bytes, so a
#: short system folder, not the project's (which may sit deep in a home directory).
SOCKET_ROOT = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()


class IsolatedKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel talks over IPC sockets in a fresh folder.

    Hand it to papermill as ``kernel_manager_class``; the folder is made when the manager is
    created and removed with the kernel's other resources.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.socket_dir = tempfile.mkdtemp(prefix="vae-kernel-", dir=SOCKET_ROOT)
        self.transport = "ipc"
        self.ip = os.path.join(self.socket_dir, "kernel")

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


#: The dotted name papermill and nbclient accept for ``kernel_manager_class``.
KERNEL_MANAGER = f"{__name__}.{IsolatedKernelManager.__name__}"
