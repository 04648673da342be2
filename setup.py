"""Shim for Beam's --setup_file: remote workers install this package with it.

All metadata lives in pyproject.toml; this file only lets `python setup.py sdist`
(what Beam runs for --setup_file) build the same package.
"""

from setuptools import setup

setup()
