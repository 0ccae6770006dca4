"""notesutil: pure-Python text helpers for the example's notes (a second local wheel, no compiler needed)."""
from setuptools import setup

setup(
    name="notesutil",
    version="1.0.0",
    description="Summaries and word counts for short notes",
    packages=["notesutil"],
    python_requires=">=3.8",
)
