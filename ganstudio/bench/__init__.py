"""ganstudio.bench"""
