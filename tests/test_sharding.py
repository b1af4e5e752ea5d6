"""Meshes and population sizes: the sharding helpers on this process's devices."""

import jax
import pytest

from wannflax import sharding


def test_default_mesh_puts_every_device_on_the_population_axis():
    mesh = sharding.make_mesh()
    assert mesh.axis_names == ("population", "data")
    assert dict(mesh.shape) == {"population": jax.device_count(), "data": 1}


def test_mesh_errors_name_the_bad_axis_and_the_device_count():
    with pytest.raises(ValueError, match="Unknown mesh axis 'model'.*population, data"):
        sharding.make_mesh({"model": 1})
    with pytest.raises(ValueError, match="Only one mesh axis may be -1"):
        sharding.make_mesh({"population": -1, "data": -1})
    with pytest.raises(ValueError, match=r"needs 3 devices; 1 are available"):
        sharding.make_mesh({"population": 3}, devices=jax.devices()[:1])


def test_a_population_that_does_not_split_names_the_nearest_sizes():
    assert sharding.check_divisible(64, 4) == 64
    with pytest.raises(ValueError, match="pop_size 66 does not split over 4 devices; "
                       "the nearest valid sizes are 64 and 68"):
        sharding.check_divisible(66, 4)
    with pytest.raises(ValueError, match="nearest valid sizes are 4 \\(or"):
        sharding.check_divisible(3, 4)
    assert sharding.check_divisible(66, 4, pad=True) == 68


def test_distributed_stays_off_unless_asked(monkeypatch):
    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
    monkeypatch.delenv("COORDINATOR_ADDRESS", raising=False)
    assert sharding.maybe_initialize_distributed("auto") is False
    assert sharding.maybe_initialize_distributed(False) is False
    with pytest.raises(ValueError, match="True, False or 'auto'"):
        sharding.maybe_initialize_distributed("yes")
    assert sharding.is_primary()
