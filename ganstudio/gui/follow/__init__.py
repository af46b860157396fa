"""ganstudio.gui.follow"""
