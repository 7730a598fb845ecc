"""The commit pauses the cyclic garbage collector while it holds the million target lines; it must run
again afterwards, whatever happened inside and whichever of two overlapping commits ends first."""
from __future__ import annotations

import gc

import pytest

from backend.draws.eligibility import collector_paused


@pytest.fixture(autouse=True)
def _collector_back():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_paused_inside_running_after_even_on_an_error():
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("不能摇号")
    assert gc.isenabled()


def test_overlapping_pauses_end_with_the_collector_running():
    gc.enable()
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)     # the first to end leaves the collector running
    assert gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_paused_before_stays_paused():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
