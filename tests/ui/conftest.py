"""Fixtures of the API tests: a throwaway PostgreSQL cluster (real server binaries, never skipped)."""

from __future__ import annotations

import itertools
from typing import Iterator

import pytest

from evals.pg_cluster import PostgresCluster

_databases = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL server for the test session (initdb + pg_ctl in a temp folder, a unix socket there).

    Missing binaries fail the tests (PostgresMissing): the production store is not optional in CI."""
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> str:
    """A fresh, empty database of the cluster for one test."""
    return pg_cluster.create_database(f"t{next(_databases)}")
