"""ganstudio.core.training"""
