"""Lock files as other processes leave them, for the tests of run folders."""

import json
import os
import socket

from ganstudio.core.runs.layout import LOCK


def write_lock(folder, **fields):
    """A lock file as another process would have left it (this process, unless ``pid``)."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": "2030-01-02 03:04:05",
        "started_at": 1893553445.0,
        "token": "someone-else",
        "boot_id": None,
        "process_start": None,
        "torchrun": None,
    } | fields
    (folder / LOCK).write_text(json.dumps(doc))
    return doc
