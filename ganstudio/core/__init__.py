"""Qt-free engine: datasets, models, losses, the training loop and rendering to arrays.

Nothing under ``ganstudio.core`` may import Qt; ``tests/core/test_no_qt.py`` checks it.
"""
