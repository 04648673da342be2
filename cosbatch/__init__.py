"""cosbatch: self-hostable Batch Operations for COS and S3-compatible object storage."""

__version__ = "0.1.0"
