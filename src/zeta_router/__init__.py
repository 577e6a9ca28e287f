"""zeta-router: a fast, task-aware, self-explaining gateway for self-hosted language models."""

__version__ = "0.1.0"
