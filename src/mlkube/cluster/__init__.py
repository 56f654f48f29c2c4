"""Talking to a Kubernetes API server: the only package that does cluster I/O."""
