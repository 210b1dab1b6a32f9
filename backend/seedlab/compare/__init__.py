"""Comparing two jobs on one final metric: is B better than A beyond seed noise?"""
