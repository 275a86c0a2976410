"""A small version of ``benchmarks/bench_load.py``: concurrent clients doing mixed
operations (create bucket, upload small and medium files, list, download, delete)
against one local network must see zero errors and zero mismatched bytes.
"""

from __future__ import annotations

import pytest

from benchmarks.bench_load import MIX, run_load
from storj.local.pytest_plugin import storj_network  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


def test_concurrent_mixed_operations(storj_network, tmp_path, record_property):  # noqa: F811
    result = run_load(storj_network.bridge_url, clients=4, ops=12, seed=3, tmp_dir=tmp_path,
                      deadline=120)
    summary = result.summary()
    assert result.errors == []
    assert result.mismatches == 0
    assert result.total_ops == 4 * 12
    assert set(result.operations) <= set(MIX)
    assert result.operations["download"] > 0 and result.bytes_down > 0
    assert summary["metadata_calls"] > 0
    record_property("bytes_checked", result.bytes_down)
    record_property("ops_per_second", summary["ops_per_second"])


@pytest.mark.slow
def test_sixteen_clients(storj_network, tmp_path, record_property):  # noqa: F811
    result = run_load(storj_network.bridge_url, clients=16, ops=20, seed=4, tmp_dir=tmp_path,
                      deadline=300)
    assert result.errors == []
    assert result.mismatches == 0
    assert result.total_ops == 16 * 20
    record_property("bytes_checked", result.bytes_down)
