"""Data access: the only package that touches PynamoDB and boto3 (STYLE.md practice 1)."""
