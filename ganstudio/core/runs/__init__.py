"""ganstudio.core.runs.reader"""
