"""Test and benchmark support: a protocol-faithful fake model server and a gateway harness."""

from .fake_backend import FakeBackend, Faults
from .harness import Harness, LoopThread

__all__ = ["FakeBackend", "Faults", "Harness", "LoopThread"]
