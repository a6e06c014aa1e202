"""One cluster for the whole run (starting it costs seconds; every test uses fresh accounts)."""

from collections.abc import Iterator

import pytest

from harness import Cluster, Config


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    # Every process it starts is stopped when the run ends, whatever the tests did.
    with Cluster.start(Config.from_environment()) as running:
        yield running
