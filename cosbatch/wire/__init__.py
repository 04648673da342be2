"""Wire formats: the S3 Control and COS dialects of the batch job API (element and operation
names, botocore's s3control shapes, the XML codec), translated to and from the models.

It must not import the controller, the store, the storage clients or the API.
"""
