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
    with pytest.raises(
        ValueError,
        match="pop_size 66 does not split over 4 devices; "
        "the nearest valid sizes are 64 and 68",
    ):
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


@pytest.mark.parametrize(
    "value, expected",
    [
        ("True", True),
        ("true", True),
        ("TRUE", True),
        ("False", False),
        ("false", False),
        ("auto", "auto"),
        (True, True),
        (False, False),
    ],
)
def test_distributed_takes_the_strings_a_command_line_override_gives(value, expected):
    # --config.distributed=True arrives as the string "True": the default is
    # the string "auto", so ml_collections keeps the field a string.
    parsed = sharding.parse_distributed(value)
    assert parsed == expected and type(parsed) is type(expected)


@pytest.mark.parametrize("value", ["yes", "1", "", "truth", "Auto", None, 2])
def test_distributed_refuses_anything_else_naming_it(value):
    with pytest.raises(ValueError, match=f"True, False or 'auto', got {value!r}"):
        sharding.parse_distributed(value)


def test_distributed_false_as_a_string_stays_off(monkeypatch):
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "host0:1234")
    # Without the fix "false" was refused; joining would need the coordinator.
    assert sharding.maybe_initialize_distributed("false") is False
    assert sharding.maybe_initialize_distributed("FALSE") is False


_SHARDED_RUN = r"""
import json, os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
import jax
import numpy as np
from wannflax import Genome, sharding
from wannflax.checkpoint import Checkpointer
from wannflax.es_training import ESTrainer, ESTrainerConfig
from wannflax.problems import make_supervised, swingup
from wannflax.search import ArchitectureSearch, SearchConfig

assert jax.device_count() == 4
mesh = sharding.make_mesh()
problem = make_supervised("iris", batch_size=60)
# Chunks of 4 genomes on one device, one chunk of 4 per device on the mesh:
# the same compiled chunk program scores every genome in both runs.
config = SearchConfig(pop_size=16, max_nodes=16, max_connections=48, seed=3,
                      population_chunk=4)
plain = ArchitectureSearch(problem, config)
split = ArchitectureSearch(problem, config, mesh=mesh)
assert len(split.state.population.conn_source.sharding.device_set) == 4
plain.run(4, log_every=0)
split.run(4, log_every=0)
same_state = all(
    np.array_equal(a, b)
    for a, b in zip(jax.tree.leaves(plain.state), jax.tree.leaves(split.state))
)
Checkpointer(sys.argv[1]).save(4, split.state, split.history)

genome = Genome.from_edges(5, 1, [(1, 6), (3, 6), (4, 7), (5, 7), (7, 6)],
                           activations={6: "tanh", 7: "tanh"})
task = swingup.SwingUpProblem(episodes=2, params=swingup.SwingUpParams(max_steps=60))
es = {}
for name in ("OpenES", "CMA_ES"):
    settings = ESTrainerConfig(strategy=name, population_size=8, shared_weight=0.5)
    one = ESTrainer(genome, task, settings).fit(3, log_every=0)
    four = ESTrainer(genome, task, settings, mesh=mesh).fit(3, log_every=0)
    es[name] = one.history == four.history and all(
        np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(one.state), jax.tree.leaves(four.state))
    )
print(json.dumps({
    "history": plain.history == split.history,
    "state": same_state,
    "es": es,
    "plain": plain.history,
}))
"""

_RESTORE = r"""
import json, sys
import jax
import numpy as np
from wannflax.checkpoint import Checkpointer
from wannflax.problems import make_supervised
from wannflax.search import ArchitectureSearch, SearchConfig

assert jax.device_count() == 1
problem = make_supervised("iris", batch_size=60)
config = SearchConfig(pop_size=16, max_nodes=16, max_connections=48, seed=3,
                      population_chunk=4)
search = ArchitectureSearch(problem, config)
print(json.dumps({"generation": search.restore(Checkpointer(sys.argv[1])),
                  "history": search.history}))
"""


def _python(script, *args, env=None):
    import json
    import os
    import subprocess
    import sys

    environment = dict(os.environ)
    environment.pop("XLA_FLAGS", None)
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_search_and_es_split_over_four_devices_equal_the_unsharded_runs(tmp_path):
    checkpoint = str(tmp_path / "sharded")
    sharded = _python(_SHARDED_RUN, checkpoint)
    # Same champion, same metrics, same populations, bit for bit.
    assert sharded["history"] and sharded["state"]
    assert sharded["es"] == {"OpenES": True, "CMA_ES": True}
    # Written under a 4-device mesh, read back on a single CPU device.
    restored = _python(_RESTORE, checkpoint)
    assert restored["generation"] == 4
    assert restored["history"] == sharded["plain"]


def test_mesh_strings_from_flags():
    assert sharding.parse_mesh("population=4,data=2") == {"population": 4, "data": 2}
    assert sharding.parse_mesh("population=-1") == {"population": -1}
    with pytest.raises(ValueError, match="'population:4' is not axis=size"):
        sharding.parse_mesh("population:4")
