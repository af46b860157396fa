"""The desktop window: PySide6 + pyqtgraph on top of ``ganstudio.core``.

Modules here only show state and turn clicks into calls on core. Work runs in QThreads and
comes back as Qt signals carrying frozen, Qt-free payloads; no widget is touched from a
worker thread. PyTorch is imported lazily, after the window is on screen.
"""
