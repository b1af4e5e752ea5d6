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


class ProductAggregation(WANN):
    """Each node multiplies its weighted inputs (a node with none gives 0)."""

    def aggregate(self, values, weights):
        weighted = values[..., :, None] * weights  # [..., sources, targets]
        present = weights != 0
        product = jnp.prod(jnp.where(present, weighted, 1.0), axis=-2)
        return jnp.where(jnp.any(present, axis=0), product, 0.0)

    @staticmethod
    def torch_aggregate(weighted, present):
        import torch

        product = torch.where(present, weighted, torch.ones_like(weighted)).prod(-1)
        return torch.where(present.any(dim=-1), product, torch.zeros_like(product))


def test_a_product_aggregation_flows_through_search_training_and_export(tmp_path):
    import torch

    # By hand first: out = (w*x1) * (w*h), h = tanh((w*1) * (w*x2)).
    genome = Genome.from_edges(
        2, 1, [(1, 3), (4, 3), (0, 4), (2, 4)], activations={4: "tanh"}
    )
    module, variables = compile(genome, 0.5, module_class=ProductAggregation)
    x = jnp.array([[2.0, 3.0]])
    expected = (0.5 * 2.0) * (0.5 * np.tanh(0.5 * 0.5 * 3.0))
    np.testing.assert_allclose(module.apply(variables, x), [[expected]], rtol=1e-6)

    # Proxies read the nodes through the subclass too: the input-output
    # gradient map (AZ-NAS trainability) differs from the weighted sum's.
    batch = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
    product_score = wannflax.proxies.compute(
        "az_trainability", module, variables, batch
    )
    summed = compile(genome, 0.5)
    assert product_score != wannflax.proxies.compute("az_trainability", *summed, batch)

    problem = make_supervised("xor", batch_size=4)
    config = SearchConfig(pop_size=16, max_nodes=12, max_connections=32, seed=2)
    search = ArchitectureSearch(problem, config, module_class=ProductAggregation)
    champion = search.run(4, log_every=0)
    trainer = WeightTrainer(
        champion, problem, WeightTrainerConfig(learning_rate=0.01), ProductAggregation
    )
    trainer.fit(3, log_every=0)
    params = trainer.get_weights()
    flax_out = np.asarray(trainer.get_network()(problem.x_train))

    exported = wannflax.export.to_torch(champion, params, ProductAggregation)
    with torch.no_grad():
        torch_out = exported(torch.as_tensor(np.asarray(problem.x_train))).numpy()
    np.testing.assert_allclose(torch_out, flax_out, rtol=1e-6, atol=1e-6)
    paths = wannflax.export_to_pytorch(
        champion, params, tmp_path / "product.pt2", module_class=ProductAggregation
    )
    program = torch.export.load(str(paths.program)).module()
    with torch.no_grad():
        loaded = program(torch.as_tensor(np.asarray(problem.x_train))).numpy()
    np.testing.assert_allclose(loaded, flax_out, rtol=1e-6, atol=1e-6)


def test_export_refuses_an_aggregation_without_its_torch_twin():
    import pytest

    from wannflax.export import to_torch

    genome = Genome.from_edges(2, 1, [(1, 3), (2, 3)])
    with pytest.raises(NotImplementedError, match="MaxAggregation overrides aggregate"):
        to_torch(genome, compile(genome, 1.0)[1], MaxAggregation)
