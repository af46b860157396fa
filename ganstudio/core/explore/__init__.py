"""ganstudio.core.explore"""
