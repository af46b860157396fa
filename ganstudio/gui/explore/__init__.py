"""ganstudio.gui.explore"""
