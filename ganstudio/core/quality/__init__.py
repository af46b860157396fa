"""ganstudio.core.quality.monitor"""
