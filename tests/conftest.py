import atexit
import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A fixed thread count: the default adapts it to the machine's load while a run trains
# (core.training.thread_tuner, tested on its own), which would make two runs of a test
# differ in their last bits on a busy CI machine.
os.environ.setdefault("GANSTUDIO_THREADS", "auto")

# Prepared datasets and feature extractors go to a throwaway cache, never the user's.
_cache = tempfile.mkdtemp(prefix="ganstudio-test-cache-")
os.environ["GANSTUDIO_CACHE_DIR"] = _cache
atexit.register(shutil.rmtree, _cache, ignore_errors=True)
