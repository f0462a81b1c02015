"""The kernels notebooks run in (Unix sockets, not TCP) and the environment they inherit."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import default


class IpcKernelManager(AsyncKernelManager):
    """Kernels talk to us over Unix sockets in the Jupyter runtime dir, not loopback TCP.

    A notebook that handles certificates should not expose its kernel to every local user
    (and ipykernel warns about unencrypted TCP on every start).
    """

    transport = "ipc"

    @default("ip")
    def _ipc_path(self) -> str:
        # absolute, so the kernel (started in the notebook's folder) and we agree on the sockets
        folder = Path(jupyter_runtime_dir())
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / f"kernel-{uuid.uuid4().hex[:12]}-ipc")


@contextlib.contextmanager
def environment(name: str, value: str) -> Iterator[None]:
    """Set ``$name`` for the block (kernels started inside inherit it), then restore it."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
