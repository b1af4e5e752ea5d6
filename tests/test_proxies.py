"""Specification of wannflax.proxies: zero-cost proxies on WANN genomes.

The hand-computable values of REFERENCE.md section 2 come first, then values
derived here for small graphs, then properties every proxy must have: padding
never counts, dead nodes never count, a fixed key gives a fixed score, a
population scored at once equals its genomes scored one by one, undefined cases
give UNDEFINED (-inf), never NaN.

Mapping used throughout (wannflax/proxies/structure.py): a node's layer or
stage is its depth, a connection belongs to its target's layer, units are the
live hidden and output nodes, the bias is an input of value 1.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wannflax import activations, compile
from wannflax.genome import Genome
from wannflax.module import make_module
from wannflax.proxies import (
    PROXIES,
    UNDEFINED,
    aggregate,
    compute,
    compute_population,
    population_variables,
    ranks,
    register_proxy,
)
from wannflax.proxies.az_nas import spectral_entropy
from wannflax.registry import UnknownNameError

ALL_PROXIES = (
    "az_expressivity",
    "az_progressivity",
    "az_trainability",
    "complexity",
    "complexity_flops",
    "fisher",
    "grad_norm",
    "grasp",
    "jacob_cov",
    "naswot",
    "plain",
    "snip",
    "synflow",
)
# q = 1 / (1 + e): the softmax weight of the wrong class for logits (1, 0).
Q = 1.0 / (1.0 + math.e)

# Most graphs below have 2 inputs (nodes 1, 2) and 2 outputs (3, 4) at one
# capacity and are scored on batches of 4, so one module and one compiled
# program per proxy serve them all (compiling dominates this file's run time).
# Three steps reach the deepest node used, and exceed most genomes' depth
# (extra steps must change nothing); unused inputs and outputs change nothing
# derived below unless a comment says so.
SMALL = {"max_nodes": 12, "max_conns": 16}
USED_ACTIVATIONS = ("linear", "gaussian", "tanh", "abs", "relu", "square")


def small_genome(edges, acts=None, **capacity):
    return Genome.from_edges(2, 2, edges, activations=acts, **(capacity or SMALL))


SMALL_MODULE = make_module(
    small_genome([]), activation_names=USED_ACTIVATIONS, num_layers=3
)


def variables_of(genome, weights=(), pad_weight=0.0):
    """Compiled variables with per-connection ``weights`` (padding: pad_weight)."""
    _, variables = compile(genome)
    conn_weights = np.full(genome.max_conns, pad_weight, np.float32)
    conn_weights[: len(weights)] = weights
    return {**variables, "params": {"conn_weights": jnp.asarray(conn_weights)}}


def stack(variables_list):
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *variables_list)


# -- the graphs of the property tests ----------------------------------------------

# x1, x2 -> 5 (tanh); bias, 5 -> 6 (relu); 6, x2 -> out 3; x1, 5 -> out 4; plus a
# disabled 2 -> 6 whose weight 2.5 must never count. Depths: 5:1, 6:2, 3:3, 4:2.
MAIN_EDGES = [
    (1, 5),
    (2, 5),
    (0, 6),
    (5, 6),
    (6, 3),
    (2, 3),
    (1, 4),
    (5, 4),
    (2, 6, False),
]
MAIN_WEIGHTS = [0.8, -1.1, 0.3, 1.5, -0.9, 0.6, 1.2, -0.4, 2.5]
MAIN_ACTS = {5: "tanh", 6: "relu"}
# A dead chain x1 -> 7 (abs) -> 8 (gaussian) -> 9 (tanh) <- x2, reaching no
# output.
DEAD_EDGES = [(1, 7), (7, 8), (8, 9), (2, 9)]
DEAD_WEIGHTS = [2.0, -1.3, 0.7, 0.5]
DEAD_ACTS = {7: "abs", 8: "gaussian", 9: "tanh"}
# Three chained squares with weight 1e4: with |x1| >= 0.5 the output is
# (((5e3)^2 * 1e4)^2 * 1e4)^2 > 1e53, inf in float32.
OVERFLOW_EDGES = [(1, 5), (5, 6), (6, 3), (2, 4)]
OVERFLOW_ACTS = {5: "square", 6: "square", 3: "square"}

X = jnp.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 0.8], [-1.2, -0.3]])
Y = jnp.array([0, 1, 1, 0])
KEY = jax.random.key(7)


def population_genomes(**capacity):
    """(genome, weights) of: main, main with dead nodes, overflow, no edges."""
    return [
        (small_genome(MAIN_EDGES, MAIN_ACTS, **capacity), MAIN_WEIGHTS),
        (
            small_genome(
                MAIN_EDGES + DEAD_EDGES, {**MAIN_ACTS, **DEAD_ACTS}, **capacity
            ),
            MAIN_WEIGHTS + DEAD_WEIGHTS,
        ),
        (small_genome(OVERFLOW_EDGES, OVERFLOW_ACTS, **capacity), [1e4] * 3 + [1.0]),
        (small_genome([], **capacity), []),
    ]


MAIN, WITH_DEAD, OVERFLOW, NO_EDGES = range(4)


@pytest.fixture(scope="module")
def one_by_one():
    """scores[proxy][genome] from ``compute``, one genome at a time."""
    population = [variables_of(g, w) for g, w in population_genomes()]
    return {
        name: np.array(
            [compute(name, SMALL_MODULE, v, X, Y, key=KEY) for v in population],
            np.float32,
        )
        for name in ALL_PROXIES
    }


@pytest.fixture(scope="module")
def vmapped():
    """scores[proxy] [4] from one ``compute_population`` call."""
    population = stack([variables_of(g, w) for g, w in population_genomes()])
    scores = compute_population(ALL_PROXIES, SMALL_MODULE, population, X, Y, KEY)
    return {name: np.asarray(value) for name, value in scores.items()}


# -- REFERENCE.md section 2: hand-computable values --------------------------------


def test_synflow_of_a_relu_chain_is_twice_the_weight_product():
    # x1 -> 5 (relu) -> out 3 (linear), w1 = -3, w2 = 0.5; x2 and out 4 take no
    # part.
    genome = small_genome([(1, 5), (5, 3)], {5: "relu"})
    variables = variables_of(genome, [-3.0, 0.5])

    score = compute("synflow", SMALL_MODULE, variables, X)

    # 2 |w1 w2| = 2 * 3 * 0.5 = 3; synflow is reported as its logarithm.
    assert score == pytest.approx(math.log(3.0), abs=1e-6)
    assert math.exp(score) == pytest.approx(3.0, rel=1e-6)


def test_synflow_of_a_sequential_net_is_depth_times_the_abs_path_sum():
    # Bias-free 2 -> 2 -> 1: x1, x2 -> 5 (tanh), 6 (abs) -> out 3 (out 4 has no
    # path). SynFlow treats every node as the identity, so the activations do
    # not matter: |W1| 1 = (|1| + |0.5|, |-2| + |1|) = (1.5, 3);
    # |W2| (1.5, 3) = 3*1.5 + 1*3 = 7.5; two weight layers: 2 * 7.5 = 15.
    genome = small_genome(
        [(1, 5), (2, 5), (1, 6), (2, 6), (5, 3), (6, 3)], {5: "tanh", 6: "abs"}
    )
    variables = variables_of(genome, [1.0, 0.5, -2.0, 1.0, 3.0, -1.0])

    score = compute("synflow", SMALL_MODULE, variables, X)

    assert score == pytest.approx(math.log(15.0), abs=1e-6)


def test_naswot_of_codes_10_and_11_is_ln_3():
    # out 3 = bias (always on), out 4 = x1 (off for x1 = -1, on for x1 = 1):
    # codes [1, 0] and [1, 1], K = [[2, 1], [1, 2]], det 3.
    genome = small_genome([(0, 3), (1, 4)])
    variables = variables_of(genome, [1.0, 1.0])
    x = jnp.array([[-1.0, 0.0], [1.0, 0.0]])

    assert compute("naswot", SMALL_MODULE, variables, x) == pytest.approx(
        math.log(3.0), abs=1e-6
    )


def classifier_variables():
    # z = (a, b) x1 with a = 1, b = 0: x1 -> out 3 (a), x1 -> out 4 (b); x2 unused.
    return variables_of(small_genome([(1, 3), (1, 4)]), [1.0, 0.0])


# The sample x = 1 with label 0, four times: the mean loss over copies of one
# sample is that sample's loss, so the gradients are the single sample's.
CLASSIFIER_X = jnp.array([[1.0, 0.0]] * 4)
CLASSIFIER_Y = jnp.array([0] * 4)


@pytest.mark.parametrize(
    "name, expected",
    [
        # dL/dz = (-q, q); dL/da = -q, dL/db = q. |a (-q)| + |b q| = q.
        ("snip", Q),
        # One layer (both targets have depth 1): ||(-q, q)|| = q sqrt 2.
        ("grad_norm", Q * math.sqrt(2.0)),
        # a (-q) + b q = -q.
        ("plain", -Q),
        # H = p0 p1 [[1, -1], [-1, 1]], H g = 2 q p0 p1 (-1, 1), -theta . H g
        # = 2 q p0 p1 = 2 q^2 (1 - q).
        ("grasp", 2.0 * Q * Q * (1.0 - Q)),
        # Unit 3: pre 1, and dL/dpre of each copy is -q / 4 (L is the mean over
        # the 4 copies): (1/2) mean (q / 4)^2 = q^2 / 32; unit 4: pre 0 adds 0.
        ("fisher", Q * Q / 32.0),
    ],
)
def test_linear_classifier_values(name, expected):
    score = compute(
        name, SMALL_MODULE, classifier_variables(), CLASSIFIER_X, CLASSIFIER_Y
    )

    assert score == pytest.approx(expected, rel=1e-6)


def test_az_expressivity_of_an_isotropic_covariance_is_ln_c():
    entropy = jax.jit(spectral_entropy)
    # Six samples +-e_i in R^3: covariance (1/3) I, normalised eigenvalues 1/3.
    features = jnp.concatenate([jnp.eye(3), -jnp.eye(3)])
    assert entropy(features) == pytest.approx(math.log(3.0), abs=1e-6)
    # A masked-out column, however wild, is not part of the stage.
    wild = jnp.concatenate([features, jnp.arange(6.0)[:, None] ** 3], axis=1)
    mask = jnp.array([True, True, True, False])
    assert entropy(wild, mask) == pytest.approx(math.log(3.0), abs=1e-6)
    # Features that do not vary have no spread: 0, not NaN. (0.1 is not exact
    # in binary, so a mean-centred column would keep rounding noise.)
    assert entropy(jnp.full((6, 4), 0.1)) == 0.0


ISOTROPIC_X = jnp.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])


def test_az_expressivity_and_progressivity_of_an_isotropic_stage():
    # out 3 = x1, out 4 = x2 on the four sign patterns: stage 1 has covariance
    # I over 2 nodes (ln 2), as has stage 0, the inputs: no increase.
    variables = variables_of(small_genome([(1, 3), (2, 4)]), [1.0, 1.0])

    expressivity = compute("az_expressivity", SMALL_MODULE, variables, ISOTROPIC_X)
    progressivity = compute("az_progressivity", SMALL_MODULE, variables, ISOTROPIC_X)

    assert expressivity == pytest.approx(math.log(2.0), abs=1e-6)
    assert progressivity == pytest.approx(0.0, abs=1e-6)


def test_a_collapsing_stage_has_no_expressivity_and_loses_ln_2():
    # out 3 = x1 + x2 (2, 0, 0, -2), out 4 = 0: stage 1 varies along one
    # direction only (entropy 0), down from the inputs' ln 2.
    variables = variables_of(small_genome([(1, 3), (2, 3)]), [1.0, 1.0])

    expressivity = compute("az_expressivity", SMALL_MODULE, variables, ISOTROPIC_X)
    progressivity = compute("az_progressivity", SMALL_MODULE, variables, ISOTROPIC_X)

    assert expressivity == pytest.approx(0.0, abs=1e-6)
    assert progressivity == pytest.approx(-math.log(2.0), abs=1e-6)


# -- values derived for small graphs ------------------------------------------------


def test_grad_norm_sums_one_norm_per_layer_of_a_two_layer_classifier():
    # x1 -> 5 (linear, 1) -> out 3 (1); x1 -> out 4 (0). Logits (1, 0) again,
    # dL/dz = (-q, q). Gradients: x1->5: -q (through w = 1), 5->3: -q, x1->4: q.
    # Layers by target depth: {x1->5, x1->4} in layer 1, {5->3} in layer 2.
    variables = variables_of(small_genome([(1, 5), (5, 3), (1, 4)]), [1.0, 1.0, 0.0])

    def score(name):
        return compute(name, SMALL_MODULE, variables, CLASSIFIER_X, CLASSIFIER_Y)

    # sqrt(q^2 + q^2) + q, not one norm over all weights (q sqrt 3).
    assert score("grad_norm") == pytest.approx(Q * (1 + math.sqrt(2.0)), rel=1e-6)
    # |1 * -q| + |1 * -q| + |0 * q| = 2q.
    assert score("snip") == pytest.approx(2 * Q, rel=1e-6)
    # Units 5 and 3 both have pre 1 and dL/dpre -q / 4 per copy: 2 q^2 / 32.
    assert score("fisher") == pytest.approx(Q * Q / 16.0, rel=1e-6)


def test_az_trainability_of_a_chain_is_the_mean_block_score():
    # x1 -> 5 (relu, -3) -> out 3 (0.5) -> out 4 (1), one unit per stage, so
    # the probe's square is 1 and the estimate is the mean Jacobian, exactly
    # (x2 feeds nothing, so its row of each estimate is 0). Batch x1 = -1, 1,
    # -1, 1: block 1 d relu(-3 x1)/dx1 = -3 or 0, mean -1.5; block 2 0.5;
    # block 3 1. Each scores -s - 1/(s + 1e-6) + 2: -1/6, -1/2 and 0 (s = 1 is
    # the best); the mean is -2/9.
    genome = small_genome([(1, 5), (5, 3), (3, 4)], {5: "relu"})
    variables = variables_of(genome, [-3.0, 0.5, 1.0])
    x = jnp.array([[-1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])

    score = compute("az_trainability", SMALL_MODULE, variables, x)

    assert score == pytest.approx(-2.0 / 9.0, rel=1e-5)


def test_jacob_cov_of_alternating_orthogonal_gradients():
    # sum of outputs = relu(x1) + relu(x2): Jacobian rows (1, 0), (0, 1), (1, 0),
    # (0, 1); centred they are +-(1, -1)/2, so the correlation matrix is the
    # rank-one s s^T for s = (1, -1, 1, -1): eigenvalues 4, 0, 0, 0.
    # Score -(ln(4 + k) + 1/(4 + k) + 3 (ln k + 1/k)), k = 1e-5.
    genome = small_genome([(1, 5), (5, 3), (2, 6), (6, 3)], {5: "relu", 6: "relu"})
    variables = variables_of(genome, [1.0] * 4)
    x = jnp.array([[1.0, -1.0], [-1.0, 1.0], [2.0, -1.0], [-1.0, 2.0]])

    score = compute("jacob_cov", SMALL_MODULE, variables, x)

    assert score == pytest.approx(-299967.09752, rel=1e-6)


def test_complexity_counts_enabled_connections_and_flops(one_by_one):
    # Main: 8 enabled connections (the disabled 2 -> 6 does not count);
    # flops 2 * 8 + tanh + relu = 18. With the dead chain: 12 and 2*12 + 5 = 29.
    assert one_by_one["complexity"][[MAIN, WITH_DEAD]].tolist() == [8.0, 12.0]
    assert one_by_one["complexity_flops"][[MAIN, WITH_DEAD]].tolist() == [18.0, 29.0]


# -- properties of every proxy ------------------------------------------------------


def test_population_scores_equal_one_by_one_scores(one_by_one, vmapped):
    # Same module, same batch, same key: vmapping over genomes changes nothing
    # (up to float summation order).
    for name in ALL_PROXIES:
        np.testing.assert_allclose(
            vmapped[name], one_by_one[name], rtol=2e-5, err_msg=name
        )


def test_a_shallow_module_scoring_in_chunks_equals_the_vmapped_scores(vmapped):
    # The classifier compiles to a module of depth 1 that knows only "linear";
    # scoring the population with it must still run every genome in full (its
    # depth is raised, the missing activations added), and evaluating two
    # genomes at a time (lax.map) must not change a score. naswot's codes
    # depend on every upstream activation and on a full-depth pass.
    module, _ = compile(small_genome([(1, 3), (1, 4)]))
    assert module.num_layers == 1 and module.activation_names == ("linear",)
    population = stack([variables_of(g, w) for g, w in population_genomes()])

    scores = compute_population("naswot", module, population, X, Y, KEY, chunk_size=2)

    np.testing.assert_allclose(scores["naswot"], vmapped["naswot"], rtol=2e-5)


def test_dead_nodes_change_no_proxy_but_complexity(one_by_one):
    # Nodes that reach no output are not units and carry no gradient or path.
    for name in ALL_PROXIES:
        if name.startswith("complexity"):
            continue
        np.testing.assert_allclose(
            one_by_one[name][WITH_DEAD], one_by_one[name][MAIN], rtol=2e-5, err_msg=name
        )


def test_padding_never_contributes(vmapped):
    # The same genomes at a larger capacity, with weight 7 in every padding
    # connection slot and a gaussian (value 1 at 0) in every padding node slot,
    # scored by a module that starts with no depth and only "linear" (compute
    # fits both to the population).
    capacity = {"max_nodes": 17, "max_conns": 23}
    padded = []
    for genome, weights in population_genomes(**capacity):
        genome = genome.replace(
            node_activation=jnp.where(
                genome.node_valid,
                genome.node_activation,
                activations.activation_id("gaussian"),
            )
        )
        padded.append(variables_of(genome, weights, pad_weight=7.0))
    module = make_module(small_genome([], **capacity), activation_names=("linear",))

    scores = compute_population(ALL_PROXIES, module, stack(padded), X, Y, KEY)

    for name in ALL_PROXIES:
        np.testing.assert_allclose(scores[name], vmapped[name], rtol=2e-5, err_msg=name)


def test_scores_are_deterministic_for_a_fixed_key(vmapped):
    population = stack([variables_of(g, w) for g, w in population_genomes()])

    again = compute_population(ALL_PROXIES, SMALL_MODULE, population, X, Y, KEY)
    other_key = compute_population(
        ALL_PROXIES, SMALL_MODULE, population, X, Y, jax.random.key(8)
    )

    for name in ALL_PROXIES:
        np.testing.assert_array_equal(again[name], vmapped[name], err_msg=name)
        # Only the trainability probes are random; the main graph's stage 2
        # has two nodes (6 and out 4), so its estimate depends on them.
        if name != "az_trainability":
            np.testing.assert_array_equal(other_key[name], vmapped[name])
    assert other_key["az_trainability"][MAIN] != vmapped["az_trainability"][MAIN]


def test_overflow_gives_undefined_never_nan(vmapped):
    # The overflowing genome's loss is inf or NaN, so every loss-based proxy is
    # undefined; synflow only multiplies |weights| (3 * (1e4)^3 along the one
    # path, plus 1 for the x2 -> out 4 connection) and stays finite.
    for name in ALL_PROXIES:
        assert not np.isnan(vmapped[name]).any(), name
        assert np.all(np.isfinite(vmapped[name]) | (vmapped[name] == UNDEFINED))
    for name in ("snip", "grasp", "fisher", "grad_norm", "plain", "jacob_cov"):
        assert vmapped[name][OVERFLOW] == UNDEFINED, name
    assert vmapped["synflow"][OVERFLOW] == pytest.approx(
        math.log(3 * 1e4**3 + 1), rel=1e-6
    )


def test_a_genome_without_connections(vmapped):
    # No input->output path: synflow (ln 0) and jacob_cov (all-zero Jacobian
    # rows) are undefined; every output code is 0 for every sample, so the
    # naswot kernel is all 2s and singular. The saliencies are exactly 0 (no
    # scored weight); the outputs do not vary (expressivity 0); the one
    # block's Jacobian is 0, so sigma = 0 and it scores -1/1e-6 + 2.
    scores = {name: vmapped[name][NO_EDGES] for name in ALL_PROXIES}
    for name in ("synflow", "jacob_cov", "naswot"):
        assert scores[name] == UNDEFINED, name
    for name in ("snip", "grasp", "fisher", "grad_norm", "plain", "complexity"):
        assert scores[name] == 0.0, name
    assert scores["az_expressivity"] == 0.0
    assert scores["az_trainability"] == pytest.approx(-999998.0, rel=1e-6)


def test_naswot_of_identical_samples_is_undefined():
    # Equal codes make two equal kernel rows: det K = 0.
    variables = variables_of(small_genome([(0, 3), (1, 4)]), [1.0, 1.0])
    x = jnp.array([[1.0, 0.0], [1.0, 0.0]])

    assert compute("naswot", SMALL_MODULE, variables, x) == UNDEFINED


def test_jacob_cov_of_a_single_input_network_is_undefined():
    # One input: each Jacobian row has one entry, zero variance.
    genome = Genome.from_edges(1, 1, [(1, 3), (3, 2)], activations={3: "relu"})
    module, variables = compile(genome)

    assert compute("jacob_cov", module, variables, jnp.array([[1.0], [2.0]])) == (
        UNDEFINED
    )


def test_synflow_of_40_layers_of_width_10_does_not_overflow():
    # 10 inputs -> 39 hidden layers of 10 -> 10 outputs, every pair of adjacent
    # layers fully connected, all weights -2: 40 layers of |W| = 2 * ones.
    # Each output sums 10^40 paths of weight 2^40; synflow = 40 * 10 * 20^40 =
    # 4.4e54, past float32's 3.4e38, so it must be computed in log space:
    # ln 400 + 40 ln 20.
    width, depth = 10, 40
    layers = [list(range(1, 11))]
    layers += [list(range(21 + 10 * k, 31 + 10 * k)) for k in range(depth - 1)]
    layers += [list(range(11, 21))]
    edges = [(s, t) for a, b in zip(layers, layers[1:]) for s in a for t in b]
    genome = Genome.from_edges(width, width, edges)
    module, variables = compile(genome, shared_weight=-2.0)
    assert 400 * 20.0**40 > float(np.finfo(np.float32).max)

    score = compute("synflow", module, variables, jnp.ones((1, width)))

    assert score == pytest.approx(math.log(400) + 40 * math.log(20), rel=1e-6)


def test_a_registered_proxy_is_scored_like_the_builtins():
    # overwrite: the registry is global and outlives one run of this test.
    @register_proxy("test_sum_of_weights", overwrite=True)
    def sum_of_weights(module, variables, x, y, key):
        return jnp.sum(variables["params"]["conn_weights"])

    assert "test_sum_of_weights" in PROXIES
    assert compute(
        "test_sum_of_weights", SMALL_MODULE, classifier_variables(), CLASSIFIER_X
    ) == pytest.approx(1.0)


def test_population_variables_match_stacked_compiled_variables():
    genomes = [g for g, _ in population_genomes()]
    population = jax.tree.map(lambda *leaves: jnp.stack(leaves), *genomes)

    variables = population_variables(population, shared_weight=0.5)

    expected = stack([compile(g, shared_weight=0.5)[1] for g in genomes])
    jax.tree.map(np.testing.assert_array_equal, variables, expected)


def test_every_proxy_is_registered():
    assert set(ALL_PROXIES) <= set(PROXIES.names())


# -- bad input ----------------------------------------------------------------------


def test_an_unknown_proxy_name_lists_the_registered_ones():
    variables = classifier_variables()
    with pytest.raises(UnknownNameError, match="'synflw'; the registered .*synflow"):
        compute("synflw", SMALL_MODULE, variables, CLASSIFIER_X)
    with pytest.raises(UnknownNameError, match="'synflw'.*az_expressivity"):
        compute_population(["snip", "synflw"], SMALL_MODULE, stack([variables]), X)


def test_a_label_proxy_without_labels_names_the_proxy():
    with pytest.raises(ValueError, match="'grasp' needs class labels"):
        compute("grasp", SMALL_MODULE, classifier_variables(), CLASSIFIER_X)


def test_a_batch_of_the_wrong_width_names_both_sizes():
    with pytest.raises(ValueError, match=r"\(4, 3\) \(3 features.*has 2 inputs"):
        compute("naswot", SMALL_MODULE, classifier_variables(), jnp.ones((4, 3)))


def test_labels_outside_the_classes_are_refused():
    with pytest.raises(ValueError, match=r"'snip'.*0\.\.1.*got 0\.\.2"):
        compute(
            "snip",
            SMALL_MODULE,
            classifier_variables(),
            X,
            jnp.array([0, 2, 1, 0]),
        )


def test_variables_of_another_capacity_or_without_the_genome_are_refused():
    module, _ = compile(small_genome([], max_nodes=9, max_conns=4))
    with pytest.raises(ValueError, match="max_conns=4"):
        compute("snip", module, classifier_variables(), CLASSIFIER_X, CLASSIFIER_Y)
    params_only = {"params": classifier_variables()["params"]}
    with pytest.raises(ValueError, match="'genome' collections; got the keys"):
        compute("snip", SMALL_MODULE, params_only, CLASSIFIER_X, CLASSIFIER_Y)


# -- aggregation --------------------------------------------------------------------

# Proxy a: 1, 3, 2 -> ranks 1, 3, 2. Proxy b: UNDEFINED, 5, 5 -> the undefined
# genome is worst (1), the tie shares ranks 2 and 3 (2.5 each).
SCORES = {"a": jnp.array([1.0, 3.0, 2.0]), "b": jnp.array([UNDEFINED, 5.0, 5.0])}


def test_ranks_average_ties_and_put_undefined_and_nan_last():
    np.testing.assert_array_equal(ranks(SCORES["b"]), [1.0, 2.5, 2.5])
    np.testing.assert_array_equal(
        ranks(jnp.array([jnp.nan, 0.5, UNDEFINED, 0.5, 2.0])), [1.5, 3.5, 1.5, 3.5, 5]
    )


def test_az_log_rank_sums_log_normalised_ranks():
    # ln(r_a / 3) + ln(r_b / 3).
    expected = [
        2 * math.log(1 / 3),
        math.log(1.0) + math.log(2.5 / 3),
        math.log(2 / 3) + math.log(2.5 / 3),
    ]
    np.testing.assert_allclose(aggregate("az_log_rank", SCORES), expected, rtol=1e-6)
    # Weight 2 on a doubles its term.
    weighted = [
        3 * math.log(1 / 3),
        math.log(2.5 / 3),
        2 * math.log(2 / 3) + math.log(2.5 / 3),
    ]
    np.testing.assert_allclose(
        aggregate("az_log_rank", SCORES, {"a": 2.0}), weighted, rtol=1e-6
    )


def test_mean_rank_and_geometric_mean_of_normalised_ranks():
    # Normalised ranks: a (1/3, 1, 2/3), b (1/3, 5/6, 5/6).
    np.testing.assert_allclose(
        aggregate("mean_rank", SCORES), [1 / 3, 11 / 12, 3 / 4], rtol=1e-6
    )
    np.testing.assert_allclose(
        aggregate("geometric_mean", SCORES),
        [1 / 3, math.sqrt(5 / 6), math.sqrt(5 / 9)],
        rtol=1e-6,
    )
    # Weights 2 : 1 -> (2 r_a + r_b) / 3 and r_a^(2/3) r_b^(1/3).
    np.testing.assert_allclose(
        aggregate("mean_rank", SCORES, {"a": 2.0}), [1 / 3, 17 / 18, 13 / 18], rtol=1e-6
    )
    np.testing.assert_allclose(
        aggregate("geometric_mean", SCORES, {"a": 2.0}),
        [1 / 3, (5 / 6) ** (1 / 3), (2 / 3) ** (2 / 3) * (5 / 6) ** (1 / 3)],
        rtol=1e-6,
    )


def test_aggregation_refuses_bad_names_and_weights():
    with pytest.raises(UnknownNameError, match="az_log_rank"):
        aggregate("median", SCORES)
    with pytest.raises(ValueError, match=r"\['c'\].*a, b"):
        aggregate("mean_rank", SCORES, {"c": 1.0})
    with pytest.raises(ValueError, match="non-negative"):
        aggregate("mean_rank", SCORES, {"a": -1.0})
    with pytest.raises(ValueError, match="same population"):
        aggregate("mean_rank", {"a": jnp.zeros(3), "b": jnp.zeros(2)})
