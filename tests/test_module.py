"""Specification of wannflax.module: evaluating a genome, by hand-computed values.

The semantics (REFERENCE.md section 1): the bias node is the constant 1, inputs
get no activation, every later node applies its activation to the weighted sum
of its enabled incoming connections, in feed-forward order. Under search every
connection carries the same shared weight w.
"""

import itertools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wannflax import activations, compile, graph
from wannflax.genome import Genome
from wannflax.module import make_module

PAPER_WEIGHTS = jnp.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])


def with_weights(variables, conn_weights):
    """The compiled variables with per-connection weights (padding slots 0)."""
    weights = np.zeros(variables["params"]["conn_weights"].shape, np.float32)
    weights[: len(conn_weights)] = conn_weights
    return {**variables, "params": {"conn_weights": jnp.asarray(weights)}}


def column(values):
    return jnp.asarray(values, jnp.float32)[:, None]


# -- exact values for small networks -------------------------------------------


def test_hidden_chain_is_evaluated_even_when_slot_order_is_not_topological():
    # x -> h1 (tanh) -> h2 (relu) -> out. Nodes: 0 bias, 1 x, 2 out. The deeper
    # node h2 has the SMALLER id (3) and h1 the larger (4), so evaluating slots
    # in id order would read h1 before it is computed.
    genome = Genome.from_edges(
        1, 1, [(1, 4), (4, 3), (3, 2)], activations={4: "tanh", 3: "relu"}
    )
    module, variables = compile(genome)
    # Slots: 0 is x->h1 (0.5), 1 is h1->h2 (2), 2 is h2->out (-1.5).
    variables = with_weights(variables, [0.5, 2.0, -1.5])

    outputs = module.apply(variables, column([1.0, -1.0, 2.0]))

    # x = 1:  h1 = tanh(0.5) = 0.46211716; h2 = relu(0.92423431); out = -1.38635147
    # x = -1: h1 = tanh(-0.5) < 0, so h2 = relu(-0.924) = 0 and out = 0
    # x = 2:  h1 = tanh(1) = 0.76159416; h2 = 1.52318831; out = -2.28478247
    np.testing.assert_allclose(
        outputs, column([-1.38635147, 0.0, -2.28478247]), atol=1e-6
    )


def test_a_deep_linear_chain_numbered_backwards_multiplies_every_weight():
    # x -> 6 -> 5 -> 4 -> 3 -> out, ids decreasing with depth; four hidden
    # layers plus the output is five activation steps. All linear, shared w = 2:
    # out = 2^5 x = 32 x.
    genome = Genome.from_edges(1, 1, [(1, 6), (6, 5), (5, 4), (4, 3), (3, 2)])
    module, variables = compile(genome, shared_weight=2.0)

    outputs = module.apply(variables, column([1.0, -0.25]))

    np.testing.assert_allclose(outputs, column([32.0, -8.0]), atol=1e-6)


def test_fan_in_of_three_sums_the_weighted_sources_before_the_activation():
    # x1, x2, x3 -> h (square) -> out, weights 0.5, -1, 2 then 1.5.
    genome = Genome.from_edges(
        3, 1, [(1, 5), (2, 5), (3, 5), (5, 4)], activations={5: "square"}
    )
    module, variables = compile(genome)
    variables = with_weights(variables, [0.5, -1.0, 2.0, 1.5])
    x = jnp.array([[1.0, 2.0, 3.0], [2.0, 1.0, 0.0]])

    outputs = module.apply(variables, x)

    # row 1: pre = 0.5 - 2 + 6 = 4.5 -> h = 20.25 -> out = 30.375
    # row 2: pre = 1 - 1 + 0 = 0 -> h = 0 -> out = 0
    np.testing.assert_allclose(outputs, column([30.375, 0.0]), atol=1e-5)


def test_an_output_may_feed_another_output():
    # 1 input, outputs 2 (square) and 3 (tanh); x -> out1 (1), out1 -> out2
    # (0.5), bias -> out2 (-1).
    genome = Genome.from_edges(
        1, 2, [(1, 2), (2, 3), (0, 3)], activations={2: "square", 3: "tanh"}
    )
    module, variables = compile(genome)
    variables = with_weights(variables, [1.0, 0.5, -1.0])

    outputs = module.apply(variables, column([1.0, -2.0]))

    # x = 1:  out1 = 1^2 = 1; out2 = tanh(0.5 * 1 - 1) = tanh(-0.5) = -0.46211716
    # x = -2: out1 = 4;       out2 = tanh(0.5 * 4 - 1) = tanh(1)    =  0.76159416
    np.testing.assert_allclose(
        outputs, jnp.array([[1.0, -0.46211716], [4.0, 0.76159416]]), atol=1e-6
    )


def test_a_dead_hidden_node_does_not_change_the_outputs():
    # x -> out (w), plus x -> 3 -> 4 with no path from 3 or 4 to the output.
    def outputs(dead_activation, dead_weight):
        genome = Genome.from_edges(
            1,
            1,
            [(1, 2), (1, 3), (3, 4)],
            activations={3: dead_activation, 4: dead_activation},
        )
        module, variables = compile(genome)
        variables = with_weights(variables, [1.5, dead_weight, dead_weight])
        return module.apply(variables, column([2.0, -1.0]))

    # out = 1.5 x whatever the dead nodes compute.
    expected = column([3.0, -1.5])
    for dead_activation, dead_weight in itertools.product(
        ["gaussian", "cos"], [0.5, -100.0]
    ):
        np.testing.assert_array_equal(outputs(dead_activation, dead_weight), expected)


def test_disabled_connections_contribute_nothing_whatever_their_weight():
    # Enabled: x -> out. Disabled: bias -> out and x -> 3 -> out via 3 -> out.
    genome = Genome.from_edges(
        1,
        1,
        [(1, 2), (0, 2, False), (1, 3), (3, 2, False)],
        activations={3: "gaussian"},
    )
    module, variables = compile(genome)
    variables = with_weights(variables, [0.5, 100.0, 1.0, -7.0])

    outputs = module.apply(variables, column([2.0, -4.0]))

    # Only x -> out counts: out = 0.5 x.
    np.testing.assert_allclose(outputs, column([1.0, -2.0]), atol=1e-6)


@pytest.mark.parametrize("shared_weight", [-2.0, -0.5, 1.0, 2.0])
def test_the_bias_is_the_constant_one_so_a_bias_edge_adds_w(shared_weight):
    # bias -> out (linear) and bias -> out2 (gaussian); no input edges.
    genome = Genome.from_edges(1, 2, [(0, 2), (0, 3)], activations={3: "gaussian"})
    module, variables = compile(genome, shared_weight)

    outputs = module.apply(variables, column([5.0, -3.0, 0.0]))

    # out1 = w * 1 for every row; out2 = exp(-w^2 / 2).
    expected = [shared_weight, math.exp(-(shared_weight**2) / 2)]
    np.testing.assert_allclose(outputs, jnp.array([expected] * 3), atol=1e-6)


def test_a_node_without_inputs_applies_its_activation_to_zero():
    # Hidden 3 (gaussian) has no incoming edge: its value is exp(0) = 1, and
    # 3 -> out with w = 0.5 gives out = 0.5 for every input.
    genome = Genome.from_edges(1, 1, [(3, 2)], activations={3: "gaussian"})
    module, variables = compile(genome, shared_weight=0.5)

    outputs = module.apply(variables, column([1.0, -8.0]))

    np.testing.assert_allclose(outputs, column([0.5, 0.5]), atol=1e-6)


# -- the activation table --------------------------------------------------------

# REFERENCE.md section 1, written in float64 numpy independently of the library.
ACTIVATION_FORMULAS = {
    "linear": lambda x: x,
    "step": lambda x: np.where(x > 0, 1.0, 0.0),
    "sin": lambda x: np.sin(np.pi * x),
    "gaussian": lambda x: np.exp(-(x**2) / 2.0),
    "tanh": np.tanh,
    "sigmoid": lambda x: (np.tanh(x / 2.0) + 1.0) / 2.0,
    "inverse": lambda x: -x,
    "abs": np.abs,
    "relu": lambda x: np.maximum(x, 0.0),
    "cos": lambda x: np.cos(np.pi * x),
    "square": lambda x: x**2,
}
GRID = np.linspace(-3.0, 3.0, 601, dtype=np.float32)  # steps of 0.01, incl. 0


def test_the_table_starts_with_the_papers_eleven_functions_in_release_order():
    assert activations.activation_names()[:11] == (
        "linear",
        "step",
        "sin",
        "gaussian",
        "tanh",
        "sigmoid",
        "inverse",
        "abs",
        "relu",
        "cos",
        "square",
    )
    # Release id k is table id k - 1.
    for paper_id in range(1, 12):
        assert activations.from_paper_id(paper_id) == paper_id - 1


@pytest.mark.parametrize("name", list(ACTIVATION_FORMULAS))
def test_each_activation_matches_its_formula_through_a_compiled_network(name):
    # x -> out with w = 1 and the activation on the output: out = f(x).
    genome = Genome.from_edges(1, 1, [(1, 2)], activations={2: name})
    module, variables = compile(genome)

    outputs = np.asarray(module.apply(variables, GRID[:, None]))[:, 0]

    expected = ACTIVATION_FORMULAS[name](GRID.astype(np.float64))
    np.testing.assert_allclose(outputs, expected, rtol=0, atol=1e-6)


def test_all_activations_in_one_network_match_their_formulas():
    # One output per function, so the module evaluates the whole table at once
    # (sin/cos share one sine, tanh/sigmoid one tanh on this path).
    names = list(ACTIVATION_FORMULAS)
    genome = Genome.from_edges(
        1,
        len(names),
        [(1, 2 + i) for i in range(len(names))],
        activations={2 + i: name for i, name in enumerate(names)},
    )
    module, variables = compile(genome)

    outputs = np.asarray(module.apply(variables, GRID[:, None]))

    for i, name in enumerate(names):
        expected = ACTIVATION_FORMULAS[name](GRID.astype(np.float64))
        np.testing.assert_allclose(outputs[:, i], expected, atol=1e-6, err_msg=name)


def test_step_is_zero_at_zero_and_one_just_above():
    genome = Genome.from_edges(1, 1, [(1, 2)], activations={2: "step"})
    module, variables = compile(genome)

    outputs = module.apply(variables, column([-1e-6, 0.0, 1e-6]))

    np.testing.assert_array_equal(outputs, column([0.0, 0.0, 1.0]))


# -- shapes, dtypes, padding -----------------------------------------------------


def test_outputs_are_float32_batch_by_outputs_even_for_integer_inputs():
    genome = Genome.from_edges(2, 3, [(1, 3), (2, 4), (0, 5)])
    module, variables = compile(genome, shared_weight=0.5)

    outputs = module.apply(variables, jnp.array([[1, 2], [3, 4]], jnp.int32))

    chex.assert_shape(outputs, (2, 3))
    chex.assert_type(outputs, jnp.float32)
    # Integer inputs are promoted, not the weights truncated: out = 0.5 * x1,
    # 0.5 * x2 and 0.5 * bias.
    np.testing.assert_allclose(outputs, [[0.5, 1.0, 0.5], [1.5, 2.0, 0.5]])


def test_a_batch_of_the_wrong_width_is_refused():
    genome = Genome.from_edges(2, 1, [(1, 3)])
    module, variables = compile(genome)

    with pytest.raises(ValueError, match="expects \\[batch, 2\\]"):
        module.apply(variables, jnp.ones((4, 3)))


def test_padding_slots_do_not_change_the_outputs():
    edges = [(1, 6), (6, 5), (5, 3), (2, 4, False), (0, 4), (2, 5)]
    acts = {5: "sin", 6: "tanh", 4: "sigmoid", 3: "gaussian"}
    tight = Genome.from_edges(2, 2, edges, activations=acts)
    roomy = Genome.from_edges(2, 2, edges, acts, max_nodes=20, max_conns=33)
    assert (tight.max_nodes, tight.max_conns) == (7, 6)
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
    tight_module, tight_variables = compile(tight)
    roomy_module, roomy_variables = compile(roomy)
    tight_apply, roomy_apply = jax.jit(tight_module.apply), jax.jit(roomy_module.apply)

    for shared_weight in PAPER_WEIGHTS.tolist():
        np.testing.assert_allclose(
            tight_apply(with_weights(tight_variables, [shared_weight] * 6), x),
            roomy_apply(with_weights(roomy_variables, [shared_weight] * 6), x),
            rtol=0,
            atol=1e-7,
        )


# -- the shared-weight sweep -----------------------------------------------------


def random_genome(rng, num_inputs=3, num_outputs=2, max_nodes=16, max_conns=40):
    """A random feed-forward genome, hidden ids in a random (non-topological) order.

    Outputs and hidden nodes are put in a random evaluation order; an edge may
    go from the bias, an input or an earlier node to any later one (outputs may
    feed outputs). About one edge in six is disabled.
    """
    num_fixed = 1 + num_inputs + num_outputs
    num_hidden = int(rng.integers(0, max_nodes - num_fixed + 1))
    later = rng.permutation(
        list(range(num_inputs + 1, num_fixed + num_hidden))
    ).tolist()
    order = list(range(num_inputs + 1)) + later
    pairs = [
        (source, target)
        for i, source in enumerate(order)
        for target in order[max(i + 1, num_inputs + 1) :]
    ]
    chosen = rng.permutation(len(pairs))[: int(rng.integers(1, max_conns + 1))]
    edges = [(*pairs[i], bool(rng.random() > 1 / 6)) for i in sorted(chosen)]
    pool = activations.CLASSIFICATION_POOL
    # Hidden ids above the largest one an edge names do not exist.
    largest = max([num_fixed - 1] + [max(edge[:2]) for edge in edges])
    acts = {n: pool[int(rng.integers(len(pool)))] for n in later if n <= largest}
    return Genome.from_edges(
        num_inputs, num_outputs, edges, acts, max_nodes=max_nodes, max_conns=max_conns
    )


RANDOM_GENOMES = [random_genome(np.random.default_rng(seed)) for seed in range(12)]


def test_random_genomes_are_valid_and_nontrivial():
    for genome in RANDOM_GENOMES:
        genome.validate()
    assert sum(int(g.num_hidden()) > 3 for g in RANDOM_GENOMES) >= 6


def test_the_sweep_equals_apply_with_every_connection_weight_set_to_w():
    # One module for the whole capacity (as the search uses it: depth computed
    # inside jit), so the comparison runs as one compiled program.
    module = make_module(RANDOM_GENOMES[0], activations.CLASSIFICATION_POOL)
    population = jax.tree.map(lambda *leaves: jnp.stack(leaves), *RANDOM_GENOMES)
    x = jax.random.uniform(jax.random.PRNGKey(1), (16, 3), minval=-1, maxval=1)

    @jax.jit
    def sweep_and_apply(population):
        def one(genome):
            swept = module.apply(
                {"genome": genome.arrays()}, x, PAPER_WEIGHTS, method=module.sweep
            )

            def apply_with(w):
                conn_weights = jnp.full((genome.max_conns,), w)
                variables = {
                    "params": {"conn_weights": conn_weights},
                    "genome": genome.arrays(),
                }
                return module.apply(variables, x)

            return swept, jax.vmap(apply_with)(PAPER_WEIGHTS)

        return jax.vmap(one)(population)

    swept, applied = sweep_and_apply(population)

    chex.assert_shape(swept, (len(RANDOM_GENOMES), 6, 16, 2))
    chex.assert_tree_all_finite(swept)
    np.testing.assert_allclose(swept, applied, rtol=1e-6, atol=1e-6)


def test_the_sweep_over_the_used_width_equals_the_full_sweep():
    # Slots past the last valid node hold nothing, so cutting them off is exact.
    module = make_module(RANDOM_GENOMES[0], activations.CLASSIFICATION_POOL)
    x = jax.random.uniform(jax.random.PRNGKey(2), (8, 3), minval=-1, maxval=1)
    for genome in RANDOM_GENOMES[:5]:  # each width compiles anew
        width = int(graph.used_width(genome))
        last_valid = int(np.flatnonzero(np.asarray(genome.node_valid))[-1])
        assert width == max(last_valid + 1 - 4, 2)
        variables = {"genome": genome.arrays()}
        full = module.apply(variables, x, PAPER_WEIGHTS, method=module.sweep)
        cut = module.apply(variables, x, PAPER_WEIGHTS, width, method=module.sweep)
        np.testing.assert_allclose(cut, full, rtol=1e-6, atol=1e-6)


def test_the_sweep_of_a_compiled_genome_matches_its_apply():
    genome = RANDOM_GENOMES[3]
    module, variables = compile(genome)
    x = jax.random.uniform(jax.random.PRNGKey(2), (5, 3), minval=-1, maxval=1)

    swept = module.apply(variables, x, PAPER_WEIGHTS, method=module.sweep)

    chex.assert_shape(swept, (6, 5, 2))
    chex.assert_type(swept, jnp.float32)
    apply = jax.jit(module.apply)
    for k, w in enumerate(PAPER_WEIGHTS.tolist()):
        np.testing.assert_allclose(
            swept[k],
            apply(with_weights(variables, [w] * genome.max_conns), x),
            rtol=1e-6,
            atol=1e-6,
        )
    # compile() fixes the depth as a static int; the same network with the
    # depth computed inside jit (num_layers=None, as in the search) agrees.
    traced_module = make_module(genome, activations.CLASSIFICATION_POOL)
    np.testing.assert_allclose(
        traced_module.apply(variables, x, PAPER_WEIGHTS, method=traced_module.sweep),
        swept,
        rtol=1e-6,
        atol=1e-6,
    )


def test_the_sweep_through_a_chain_scales_each_layer_by_w():
    # x -> h (linear) -> out: out = w * (w * x) = w^2 x for every w.
    genome = Genome.from_edges(1, 1, [(1, 3), (3, 2)])
    module, variables = compile(genome)

    swept = module.apply(
        variables, column([1.0, 3.0]), PAPER_WEIGHTS, method=module.sweep
    )

    expected = PAPER_WEIGHTS[:, None, None] ** 2 * column([1.0, 3.0])[None]
    np.testing.assert_allclose(swept, expected, atol=1e-6)


# -- reverse-mode gradients ------------------------------------------------------


def test_gradient_of_a_two_weight_chain_matches_the_hand_derivative():
    # out = w2 * tanh(w1 * x). Slot 2 (bias -> out) is disabled; slots 3..5 are
    # padding. d out / d w1 = w2 (1 - tanh^2(w1 x)) x and d out / d w2 = tanh(w1 x).
    genome = Genome.from_edges(
        1, 1, [(1, 3), (3, 2), (0, 2, False)], activations={3: "tanh"}, max_conns=6
    )
    module, variables = compile(genome)
    conn_weights = jnp.array([0.5, 2.0, 3.0, 4.0, 5.0, 6.0])

    def output_sum(conn_weights):
        params = {**variables, "params": {"conn_weights": conn_weights}}
        return module.apply(params, column([1.0])).sum()

    gradient = jax.jit(jax.grad(output_sum))(conn_weights)

    # tanh(0.5) = 0.46211716, 1 - tanh^2 = 0.78644773:
    # d/dw1 = 2 * 0.78644773 * 1 = 1.57289546; d/dw2 = 0.46211716.
    chex.assert_tree_all_finite(gradient)
    np.testing.assert_allclose(
        gradient, [1.57289546, 0.46211716, 0.0, 0.0, 0.0, 0.0], atol=1e-6
    )


def test_gradients_are_finite_and_zero_on_disabled_and_padding_slots():
    # A static depth of max_nodes is exact for every genome of the capacity
    # (extra steps recompute the same values), so one reverse-mode program
    # serves the whole batch of random genomes.
    module = make_module(
        RANDOM_GENOMES[0], activations.CLASSIFICATION_POOL, num_layers=16
    )
    population = jax.tree.map(lambda *leaves: jnp.stack(leaves), *RANDOM_GENOMES)
    x = jax.random.uniform(jax.random.PRNGKey(3), (8, 3), minval=-1, maxval=1)

    def loss(conn_weights, genome):
        variables = {
            "params": {"conn_weights": conn_weights},
            "genome": genome.arrays(),
        }
        return jnp.mean(module.apply(variables, x) ** 2)

    conn_weights = jnp.where(population.conn_valid, 0.5, 0.0)
    gradients = jax.jit(jax.vmap(jax.grad(loss)))(conn_weights, population)

    chex.assert_shape(gradients, (len(RANDOM_GENOMES), 40))
    chex.assert_tree_all_finite(gradients)
    inactive = ~np.asarray(population.active_conns())
    np.testing.assert_array_equal(np.asarray(gradients)[inactive], 0.0)
    # Some connection of most genomes reaches an output, so it has a gradient.
    assert np.sum(np.any(np.asarray(gradients) != 0.0, axis=1)) >= 8
