"""The `cosbatch` command line: `aws s3control` job commands plus run and quickstart.

A surface: it calls the controller; nothing below imports it.
"""
