"""Test and benchmark support: a protocol-faithful fake model server and a gateway harness."""

from zeta_router.testing.fake_backend import FakeBackend
from zeta_router.testing.faults import Faults
from zeta_router.testing.harness import Harness, LoopThread

__all__ = ["FakeBackend", "Faults", "Harness", "LoopThread"]
