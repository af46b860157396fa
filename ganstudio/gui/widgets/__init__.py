"""ganstudio.gui.widgets"""
