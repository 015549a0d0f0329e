"""Courses, classes, rosters, the player and credited learning time."""
