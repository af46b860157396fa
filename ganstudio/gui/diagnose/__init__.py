"""ganstudio.gui.diagnose"""
