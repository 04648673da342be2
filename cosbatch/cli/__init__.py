"""The `cosbatch` command line: `aws s3control` job commands plus run and quickstart."""
