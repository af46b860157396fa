"""ganstudio.gui.window"""
