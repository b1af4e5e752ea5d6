"""Research code can subclass the module and register activations."""

import jax
import jax.numpy as jnp
import numpy as np

import wannflax
from wannflax import WANN, Genome
from wannflax.module import compile
from wannflax.problems import make_supervised
from wannflax.search import ArchitectureSearch, SearchConfig
from wannflax.training import WeightTrainer, WeightTrainerConfig


class MaxAggregation(WANN):
    """Each node takes the largest weighted input instead of the sum."""

    def aggregate(self, values, weights):
        weighted = values[..., :, None] * weights  # [..., sources, targets]
        present = weights != 0
        largest = jnp.max(jnp.where(present, weighted, -jnp.inf), axis=-2)
        return jnp.where(jnp.any(present, axis=0), largest, 0.0)


def test_a_subclass_changes_the_node_update_everywhere():
    # out = max(w * x1, w * x2) through a linear hidden node h = max(w*bias, w*x1).
    genome = Genome.from_edges(2, 1, [(0, 4), (1, 4), (4, 3), (2, 3)])
    module, variables = compile(genome, 0.5, module_class=MaxAggregation)
    x = jnp.array([[4.0, 1.0], [-2.0, 3.0]])
    # Row 0: h = max(0.5, 2) = 2; out = max(0.5 * 2, 0.5 * 1) = 1.
    # Row 1: h = max(0.5, -1) = 0.5; out = max(0.25, 1.5) = 1.5.
    np.testing.assert_allclose(module.apply(variables, x), [[1.0], [1.5]], atol=1e-6)
    swept = module.apply(
        {"genome": variables["genome"]}, x, jnp.array([0.5]), method=module.sweep
    )
    np.testing.assert_allclose(swept[0], [[1.0], [1.5]], atol=1e-6)


def test_search_and_training_accept_a_module_subclass():
    problem = make_supervised("xor", batch_size=4)
    config = SearchConfig(pop_size=16, max_nodes=12, max_connections=32, seed=1)
    search = ArchitectureSearch(problem, config, module_class=MaxAggregation)
    champion = search.run(3, log_every=0)
    assert isinstance(search.module, MaxAggregation)
    trainer = WeightTrainer(
        champion, problem, WeightTrainerConfig(learning_rate=0.01), MaxAggregation
    )
    trainer.fit(2, log_every=0)
    assert isinstance(trainer.module, MaxAggregation)
    assert np.all(np.isfinite(trainer.get_network()(problem.x_train)))


def test_a_registered_activation_is_usable_by_name():
    name = "softsign_for_extension_tests"
    if name not in wannflax.activations.ACTIVATIONS:
        wannflax.register_activation(name, lambda x: x / (1 + jnp.abs(x)))
    genome = Genome.from_edges(1, 1, [(1, 2)], activations={2: name})
    module, variables = compile(genome, 1.0)
    # softsign(3) = 3 / 4.
    np.testing.assert_allclose(module.apply(variables, jnp.array([[3.0]])), [[0.75]])
    jax.block_until_ready(module.apply(variables, jnp.ones((2, 1))))
