import atexit
import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Prepared datasets and feature extractors go to a throwaway cache, never the user's.
_cache = tempfile.mkdtemp(prefix="ganstudio-test-cache-")
os.environ["GANSTUDIO_CACHE_DIR"] = _cache
atexit.register(shutil.rmtree, _cache, ignore_errors=True)
