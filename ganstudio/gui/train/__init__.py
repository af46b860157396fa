"""ganstudio.gui.train"""
