"""Specification of wannflax.network_io: our network file and the release's.

The release's formats are described in shared/data/wann_paper/README.md. The
reference forward below is written from that description alone: nodes are
processed in FILE order, the bias is 1, inputs are raw, every later node
applies its activation to the weighted sum of its enabled incoming
connections, and the outputs are the last nodes.
"""

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wannflax import activations, compile
from wannflax.genome import Genome, InvalidGenomeError
from wannflax.network_io import (
    load_network,
    load_wann_network,
    load_wann_out,
    read_wann_tuned_weights,
    save_network,
    save_wann_out,
)

# The shared data folder sits beside the checkout.
DATA = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "..",
    "shared",
    "data",
    "wann_paper",
)
SWING_OUT = os.path.join(DATA, "swing.out")
SWING_TUNED = os.path.join(DATA, "cartpole_swingup.wann.json")
SWING_TUNED_BIAS = -1.5
PAPER_WEIGHTS = (-2.0, -1.5, -1.0, 0.5, 1.0, 2.0)

needs_swing = pytest.mark.skipif(
    not os.path.exists(SWING_OUT), reason="release data not available"
)

# -- the reference forward of the release format -----------------------------------

REFERENCE_ACTIVATIONS = {
    1: lambda v: v,
    2: lambda v: (v > 0).astype(v.dtype),
    3: lambda v: np.sin(np.pi * v),
    4: lambda v: np.exp(-(v**2) / 2.0),
    5: np.tanh,
    6: lambda v: (np.tanh(v / 2.0) + 1.0) / 2.0,
    7: lambda v: -v,
    8: np.abs,
    9: lambda v: np.maximum(v, 0.0),
    10: lambda v: np.cos(np.pi * v),
    11: lambda v: v**2,
}


def read_release_matrix(path):
    matrix = np.loadtxt(path, delimiter=",", ndmin=2)
    n = matrix.shape[0]
    assert matrix.shape == (n, n + 1)
    return matrix[:, :n], matrix[:, n]


def reference_forward(path, x, num_inputs, num_outputs, weights=None):
    """float64 forward in file order.

    weights: None (the stored numbers), a scalar shared weight, or one value
    per enabled entry in row-major order.
    """
    conns, act = read_release_matrix(path)
    n = conns.shape[0]
    enabled = (conns != 0) & ~np.isnan(conns)
    w = np.zeros((n, n))
    w[enabled] = conns[enabled] if weights is None else weights
    x = np.asarray(x, np.float64)
    values = np.zeros((x.shape[0], n))
    values[:, 0] = 1.0
    values[:, 1 : num_inputs + 1] = x
    for node in range(num_inputs + 1, n):
        fn = REFERENCE_ACTIVATIONS.get(int(act[node]), lambda v: v)
        values[:, node] = fn(values @ w[:, node])
    return values[:, n - num_outputs :]


def tuned_offsets():
    with open(SWING_TUNED) as handle:
        return np.asarray(json.load(handle)[0], np.float64)


def forward64(module, variables, x):
    """The module in float64, so comparisons test semantics, not rounding."""
    with jax.enable_x64(True):
        return np.asarray(module.apply(variables, jnp.asarray(x, jnp.float64)))


def observations(count=50, seed=0):
    return np.random.default_rng(seed).normal(size=(count, 5))


# -- the champion of the release ------------------------------------------------------


@needs_swing
def test_swing_out_has_the_documented_shape_and_one_tuned_weight_per_enabled_edge():
    genome, params = load_wann_network(SWING_OUT, 5, 1)
    conns, act = read_release_matrix(SWING_OUT)

    assert params is None
    assert genome.max_nodes == 29  # bias, 5 inputs, 22 hidden, 1 output
    assert int(genome.num_hidden()) == 22
    enabled = int(((conns != 0) & ~np.isnan(conns)).sum())
    disabled = int(np.isnan(conns).sum())
    assert (enabled, disabled) == (52, 10)
    assert int(genome.num_connections()) == 52
    assert genome.max_conns == 62  # enabled and disabled entries, no padding
    assert len(tuned_offsets()) == 52
    offsets, score = read_wann_tuned_weights(SWING_TUNED)
    np.testing.assert_array_equal(offsets, tuned_offsets())
    assert score == 932
    # Node mapping: file row 28 (the output) is our node 6; file rows 6..27
    # (hidden) are our nodes 7..28 in file order.
    node_act = np.asarray(genome.node_activation)
    assert node_act[6] == activations.from_paper_id(int(act[28]))
    for row in range(6, 28):
        assert node_act[row + 1] == activations.from_paper_id(int(act[row]))
    # Slot order is row-major over the file matrix, in our numbering.
    file_to_ours = list(range(6)) + list(range(7, 29)) + [6]
    rows, cols = np.nonzero(conns != 0)
    expected = [
        (file_to_ours[r], file_to_ours[c], not np.isnan(conns[r, c]))
        for r, c in zip(rows, cols, strict=True)
    ]
    assert genome.edges() == expected


@needs_swing
def test_swing_out_under_each_shared_weight_matches_the_reference_forward():
    genome, _ = load_wann_network(SWING_OUT, 5, 1)
    x = observations()
    for weight in PAPER_WEIGHTS:
        module, variables = compile(genome, shared_weight=weight)
        expected = reference_forward(SWING_OUT, x, 5, 1, weights=weight)

        np.testing.assert_allclose(
            forward64(module, variables, x), expected, rtol=0, atol=1e-5
        )
        # The ordinary float32 path agrees up to float32 rounding (outputs
        # reach about 40 here, so 1e-5 is taken relative to that scale).
        out32 = np.asarray(module.apply(variables, jnp.asarray(x, jnp.float32)))
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(out32, expected, rtol=0, atol=1e-5 * scale)


@needs_swing
def test_swing_out_with_tuned_weights_matches_the_reference_forward():
    genome, params = load_wann_network(
        SWING_OUT, 5, 1, tuned_weights=SWING_TUNED, tuned_bias=SWING_TUNED_BIAS
    )
    offsets = tuned_offsets()
    conn_weights = np.asarray(params["conn_weights"])
    assert conn_weights.dtype == np.float32 and conn_weights.shape == (62,)
    enabled = np.asarray(genome.conn_enabled)
    np.testing.assert_array_equal(
        conn_weights[enabled], (offsets + SWING_TUNED_BIAS).astype(np.float32)
    )
    assert np.all(conn_weights[~enabled] == 0.0)

    module, variables = compile(genome, shared_weight=SWING_TUNED_BIAS)
    variables = {**variables, "params": params}
    x = observations(seed=1)
    expected = reference_forward(SWING_OUT, x, 5, 1, weights=offsets + SWING_TUNED_BIAS)
    np.testing.assert_allclose(
        forward64(module, variables, x), expected, rtol=0, atol=1e-5
    )


@needs_swing
def test_swing_out_survives_export_and_reimport(tmp_path):
    genome, params = load_wann_network(
        SWING_OUT, 5, 1, tuned_weights=SWING_TUNED, tuned_bias=SWING_TUNED_BIAS
    )
    path = tmp_path / "swing_again.out"
    save_wann_out(path, genome, params)
    again, stored = load_wann_network(path, 5, 1, stored_weights=True)

    # Our file read by the release's reading of the format gives our outputs.
    x = observations(seed=2)
    module, variables = compile(genome)
    ours = forward64(module, {**variables, "params": params}, x)
    np.testing.assert_allclose(
        reference_forward(path, x, 5, 1), ours, rtol=0, atol=1e-5
    )
    module2, variables2 = compile(again)
    np.testing.assert_allclose(
        forward64(module2, {**variables2, "params": stored}, x), ours, atol=1e-9
    )
    assert int(again.num_connections()) == 52


# -- a small hand-written .out file ------------------------------------------------

# File nodes: 0 bias, 1 x1, 2 x2, 3 h1 (relu, id 9), 4 h2 (id 12: not a
# release id, so linear), 5 out (square, id 11). Input row 1 carries
# activation 7, which must be ignored (inputs get no activation).
# Entries, row-major: (0,3)=0.5, (1,3)=2, (1,5)=nan (disabled), (2,5)=-1,
# (3,4)=3, (4,5)=1.5.
SMALL_OUT = """\
0,0,0,0.5,0,0,1
0,0,0,2,0,nan,7
0,0,0,0,0,-1,1
0,0,0,0,3,0,9
0,0,0,0,0,1.5,12
0,0,0,0,0,0,11
"""
SMALL_X = np.array([[1.0, 2.0], [-3.0, 1.0]])


@pytest.fixture
def small_out(tmp_path):
    path = tmp_path / "small.out"
    path.write_text(SMALL_OUT)
    return path


def test_small_out_is_renumbered_outputs_first_with_row_major_slots(small_out):
    genome, _ = load_wann_network(small_out, 2, 1)

    # Ours: 0 bias, 1-2 inputs, 3 output (file row 5), 4 h1 (row 3), 5 h2 (row 4).
    assert genome.edges() == [
        (0, 4, True),
        (1, 4, True),
        (1, 3, False),
        (2, 3, True),
        (4, 5, True),
        (5, 3, True),
    ]
    names = [activations.activation_name(i) for i in genome.node_activation]
    assert names[3:] == ["square", "relu", "linear"]
    assert names[1] == "linear"  # the input row's 7 is ignored


@pytest.mark.parametrize(
    "weight, expected",
    [
        # h1 = relu(w (1 + x1)), h2 = w h1, out = (w x2 + w h2)^2
        (1.0, [16.0, 1.0]),  # x=(1,2): h1=2, h2=2, (2+2)^2; x=(-3,1): h1=0, 1^2
        (-2.0, [16.0, 196.0]),  # (1,2): h1=0, (-4)^2; (-3,1): h1=4, h2=-8, (-2+16)^2
    ],
)
def test_small_out_under_a_shared_weight_gives_hand_computed_outputs(
    small_out, weight, expected
):
    genome, _ = load_wann_network(small_out, 2, 1)
    module, variables = compile(genome, shared_weight=weight)

    outputs = module.apply(variables, jnp.asarray(SMALL_X, jnp.float32))

    np.testing.assert_allclose(outputs, np.array(expected)[:, None], atol=1e-5)
    np.testing.assert_allclose(
        reference_forward(small_out, SMALL_X, 2, 1, weights=weight),
        np.array(expected)[:, None],
    )


def test_small_out_with_stored_weights_gives_hand_computed_outputs(small_out):
    genome, params = load_wann_network(small_out, 2, 1, stored_weights=True)
    np.testing.assert_array_equal(
        params["conn_weights"], np.float32([0.5, 2.0, 0.0, -1.0, 3.0, 1.5])
    )
    module, variables = compile(genome)

    outputs = module.apply(
        {**variables, "params": params}, jnp.asarray(SMALL_X, jnp.float32)
    )

    # h1 = relu(0.5 + 2 x1), h2 = 3 h1, out = (-x2 + 1.5 h2)^2
    # x=(1,2): h1=2.5, h2=7.5, (-2 + 11.25)^2 = 85.5625; x=(-3,1): h1=0, 1.
    np.testing.assert_allclose(outputs, [[85.5625], [1.0]], rtol=1e-6)


def test_small_out_with_tuned_weights_gives_hand_computed_outputs(small_out, tmp_path):
    tuned = tmp_path / "small.wann.json"
    tuned.write_text("[[0.1, 0.2, 0.3, 0.4, 0.5], 7.5]")
    genome, params = load_wann_network(
        small_out, 2, 1, tuned_weights=tuned, tuned_bias=1.0
    )

    # Enabled entries row-major get 1.1, 1.2, 1.3, 1.4, 1.5; the disabled
    # slot (x1 -> out) holds 0.
    np.testing.assert_allclose(
        params["conn_weights"], [1.1, 1.2, 0.0, 1.3, 1.4, 1.5], rtol=1e-7
    )
    module, variables = compile(genome)
    outputs = module.apply(
        {**variables, "params": params}, jnp.asarray(SMALL_X, jnp.float32)
    )
    # x=(1,2): h1 = relu(1.1 + 1.2) = 2.3, h2 = 1.4 * 2.3 = 3.22,
    #          out = (1.3 * 2 + 1.5 * 3.22)^2 = 7.43^2 = 55.2049
    # x=(-3,1): h1 = relu(1.1 - 3.6) = 0, out = 1.3^2 = 1.69
    np.testing.assert_allclose(outputs, [[55.2049], [1.69]], rtol=1e-5)


def test_capacity_can_be_padded_and_padding_does_not_change_outputs(small_out):
    genome, params = load_wann_network(
        small_out, 2, 1, stored_weights=True, max_nodes=10, max_conns=9
    )
    assert (genome.max_nodes, genome.max_conns) == (10, 9)
    assert params["conn_weights"].shape == (9,)
    module, variables = compile(genome)
    outputs = module.apply({**variables, "params": params}, SMALL_X)
    np.testing.assert_allclose(outputs, [[85.5625], [1.0]], rtol=1e-6)

    with pytest.raises(InvalidGenomeError, match="6 nodes but max_nodes=5"):
        load_wann_network(small_out, 2, 1, max_nodes=5)
    with pytest.raises(InvalidGenomeError, match="max_conns=5"):
        load_wann_network(small_out, 2, 1, max_conns=5)


# -- malformed .out and tuned-weight files -------------------------------------------


def write(tmp_path, text, name="bad.out"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, num_inputs, message",
    [
        # a row with N values instead of N+1
        ("0,1,0,1\n0,0,1\n0,0,0,1\n", 1, r"row 1 \(line 2\) has 3 values.*needs 4"),
        # a non-numeric entry
        (
            "0,1,0,1\n0,0,x,1\n0,0,0,1\n",
            1,
            r"row 1, column 2 \(line 2\) is not a number: 'x'",
        ),
        # a connection into an input (file row 2 -> column 1)
        (
            "0,0,0,1,1\n0,0,0,1,1\n0,1,0,1,1\n0,0,0,0,1\n",
            2,
            r"row 2, column 1: a connection from input 2 into input 1",
        ),
        # a connection into the bias
        ("0,0,1,1\n1,0,1,1\n0,0,0,1\n", 1, r"row 1, column 0: .* into the bias"),
        # a backward edge closing a cycle between the hidden rows 2 and 3
        (
            "0,0,1,0,0,1\n0,0,0,0,1,1\n0,0,0,1,0,1\n0,0,1,0,1,1\n0,0,0,0,0,1\n",
            1,
            r"row 3, column 2: .*a backward edge.*cycle",
        ),
        # a self-loop
        (
            "0,0,1,0,1\n0,0,1,0,1\n0,0,1,1,1\n0,0,0,0,1\n",
            1,
            r"row 2, column 2: .*a self-loop",
        ),
        # an infinite weight
        ("0,0,inf,1\n0,0,1,1\n0,0,0,1\n", 1, r"row 0, column 2 holds inf"),
    ],
)
def test_malformed_out_files_are_rejected_naming_file_row_and_column(
    tmp_path, text, num_inputs, message
):
    path = write(tmp_path, text)
    with pytest.raises(InvalidGenomeError, match=message) as info:
        load_wann_network(path, num_inputs, 1)
    assert str(path) in str(info.value)


def test_a_file_with_fewer_nodes_than_the_task_needs_is_rejected(small_out):
    with pytest.raises(InvalidGenomeError, match=r"6 nodes.*at least 8"):
        load_wann_network(small_out, 5, 2)


def test_tuned_weights_must_match_the_enabled_connections_one_to_one(
    small_out, tmp_path
):
    tuned = write(tmp_path, "[[0.1, 0.2, 0.3, 0.4], 1.0]", "short.wann.json")
    with pytest.raises(ValueError, match=r"has 4 tuned weights .* has 5 enabled"):
        load_wann_network(small_out, 2, 1, tuned_weights=tuned, tuned_bias=-1.5)


def test_tuned_weights_need_their_bias_and_exclude_stored_weights(small_out):
    with pytest.raises(ValueError, match="tuned_bias"):
        load_wann_network(small_out, 2, 1, tuned_weights=small_out)
    with pytest.raises(ValueError, match="tuned_bias"):
        load_wann_network(small_out, 2, 1, tuned_bias=-1.5)
    with pytest.raises(ValueError, match="not both"):
        load_wann_network(
            small_out,
            2,
            1,
            tuned_weights=small_out,
            tuned_bias=1.0,
            stored_weights=True,
        )


@pytest.mark.parametrize(
    "text, message",
    [
        ("{}", r"expected \[\[p_0"),
        ("[[0.1, NaN], 3]", "tuned weight 1 is nan"),
        ('[[0.1, "a"], 3]', "tuned weight 1 is 'a'"),
        ("[[0.1", "not a JSON file"),
    ],
)
def test_malformed_tuned_weight_files_are_rejected(tmp_path, text, message):
    path = write(tmp_path, text, "bad.wann.json")
    with pytest.raises(ValueError, match=message):
        read_wann_tuned_weights(path)


# -- our own network file --------------------------------------------------------------


def example_genome():
    # Outputs 3, 4; hidden 6 feeds hidden 5 (id order is not topological);
    # one disabled connection; spare node and connection slots as padding.
    return Genome.from_edges(
        2,
        2,
        [(1, 6), (6, 5), (5, 3), (2, 5, False), (0, 3), (2, 4), (5, 4)],
        activations={6: "tanh", 5: "sin", 3: "sigmoid", 4: "abs"},
        max_nodes=9,
        max_conns=10,
    )


def example_params(genome, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "conn_weights": jnp.asarray(
            rng.normal(size=genome.max_conns).astype(np.float32) / 3.0
        )
    }


def test_save_load_network_round_trip_is_exact(tmp_path):
    genome = example_genome()
    params = example_params(genome)
    metadata = {"task": "xor", "shared_weight": -1.5, "seeds": [1, 2]}
    path = tmp_path / "net.json"

    save_network(path, genome, params, metadata)
    loaded, loaded_params, loaded_metadata = load_network(path)

    for name, value in genome.arrays().items():
        np.testing.assert_array_equal(getattr(loaded, name), value, err_msg=name)
    assert (loaded.num_inputs, loaded.num_outputs) == (2, 2)
    assert loaded_params["conn_weights"].dtype == np.float32
    np.testing.assert_array_equal(loaded_params["conn_weights"], params["conn_weights"])
    assert loaded_metadata == metadata
    document = json.loads(path.read_text())
    assert (document["format"], document["version"]) == ("wannflax.network", 1)
    assert document["genome"] == genome.to_dict()


def test_save_network_without_weights_loads_none_and_empty_metadata(tmp_path):
    path = tmp_path / "structure.json"
    save_network(path, example_genome())
    genome, params, metadata = load_network(path)
    assert params is None and metadata == {}
    assert json.loads(path.read_text())["conn_weights"] is None
    assert genome.edges() == example_genome().edges()


def test_save_network_accepts_compiled_params_and_the_module_agrees(tmp_path):
    genome = example_genome()
    module, variables = compile(genome, shared_weight=0.5)
    params = example_params(genome, seed=3)
    path = tmp_path / "trained.json"
    save_network(path, genome, params)
    loaded, loaded_params, _ = load_network(path)
    x = jnp.asarray(np.random.default_rng(4).normal(size=(8, 2)), jnp.float32)
    module2, variables2 = compile(loaded)
    np.testing.assert_array_equal(
        module.apply({**variables, "params": params}, x),
        module2.apply({**variables2, "params": loaded_params}, x),
    )


def test_save_network_refuses_to_overwrite_and_leaves_the_file_untouched(tmp_path):
    path = tmp_path / "net.json"
    save_network(path, example_genome(), metadata={"run": 1})
    before = path.read_bytes()

    with pytest.raises(FileExistsError, match="net.json"):
        save_network(path, example_genome(), metadata={"run": 2})
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["net.json"]  # no temp files left

    save_network(path, example_genome(), metadata={"run": 2}, overwrite=True)
    assert load_network(path)[2] == {"run": 2}
    assert sorted(os.listdir(tmp_path)) == ["net.json"]


def test_save_network_checks_the_weights_before_writing_anything(tmp_path):
    genome = example_genome()
    path = tmp_path / "net.json"
    weights = np.ones(genome.max_conns, np.float32)
    weights[4] = np.nan
    with pytest.raises(ValueError, match=r"conn_weights'\]\[4\] is .*nan"):
        save_network(path, genome, {"conn_weights": weights})
    weights[4] = np.inf
    with pytest.raises(ValueError, match=r"\[4\]"):
        save_network(path, genome, {"conn_weights": weights})
    with pytest.raises(ValueError, match=r"shape \(9,\).*must be \(10,\)"):
        save_network(path, genome, {"conn_weights": np.ones(9, np.float32)})
    with pytest.raises(ValueError, match="conn_weights"):
        save_network(path, genome, {"weights": np.ones(10, np.float32)})
    with pytest.raises(ValueError, match="JSON"):
        save_network(path, genome, metadata={"bad": object()})
    with pytest.raises(ValueError, match="JSON"):
        save_network(path, genome, metadata={"bad": math.nan})
    assert os.listdir(tmp_path) == []


def test_save_network_refuses_a_population(tmp_path):
    genome = example_genome()
    population = jax.tree.map(lambda leaf: jnp.stack([leaf, leaf]), genome)
    with pytest.raises(ValueError, match="population"):
        save_network(tmp_path / "pop.json", population)
    assert os.listdir(tmp_path) == []


def rewrite(path, **changes):
    document = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"format": "something.else"},
            r"field 'format' is 'something.else'.*wannflax.network",
        ),
        ({"version": 2}, r"field 'version' is 2, newer .*version 1"),
        ({"version": "1"}, r"field 'version' is '1'.*version 1"),
        ({"conn_weights": [1.0, 2.0]}, r"shape \(2,\).*must be \(10,\)"),
        ({"conn_weights": [1.0] * 9 + ["x"]}, "list of numbers"),
        ({"metadata": [1]}, "'metadata' must be an object"),
    ],
)
def test_load_network_rejects_other_formats_versions_and_bad_fields(
    tmp_path, changes, message
):
    path = tmp_path / "net.json"
    save_network(path, example_genome(), example_params(example_genome()))
    rewrite(path, **changes)
    with pytest.raises(ValueError, match=message) as info:
        load_network(path)
    assert str(path) in str(info.value)


def test_load_network_validates_the_genome(tmp_path):
    path = tmp_path / "net.json"
    save_network(path, example_genome())
    document = json.loads(path.read_text())
    document["genome"]["connections"].append(
        {"slot": 9, "source": 5, "target": 6, "enabled": False}
    )  # 6 -> 5 -> 6 is a cycle
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidGenomeError, match="cycle"):
        load_network(path)


# -- exporting to the release format ---------------------------------------------------


def test_save_wann_out_round_trip_gives_the_same_outputs(tmp_path):
    genome = example_genome()
    params = example_params(genome, seed=5)
    path = tmp_path / "net.out"
    save_wann_out(path, genome, params)

    conns, act = read_release_matrix(path)
    # bias, 2 inputs, 2 hidden (topological: 6 before 5), 2 outputs last
    assert conns.shape == (7, 7)
    assert act.tolist() == [1, 1, 1, 5, 3, 6, 8]  # tanh, sin, sigmoid, abs
    assert np.isnan(conns).sum() == 1
    assert np.all(np.tril(np.nan_to_num(conns, nan=1.0)) == 0)  # feed-forward

    x = np.random.default_rng(6).normal(size=(16, 2))
    module, variables = compile(genome)
    ours = forward64(module, {**variables, "params": params}, x)
    np.testing.assert_allclose(reference_forward(path, x, 2, 2), ours, atol=1e-9)

    loaded, stored = load_wann_network(path, 2, 2, stored_weights=True)
    module2, variables2 = compile(loaded)
    np.testing.assert_allclose(
        forward64(module2, {**variables2, "params": stored}, x), ours, atol=1e-9
    )
    for weight in (-2.0, 0.5):
        m1, v1 = compile(genome, shared_weight=weight)
        m2, v2 = compile(loaded, shared_weight=weight)
        np.testing.assert_allclose(
            forward64(m2, v2, x), forward64(m1, v1, x), atol=1e-9
        )


def test_save_wann_out_without_params_writes_unit_weights(tmp_path):
    path = tmp_path / "net.out"
    save_wann_out(path, example_genome())
    conns, _ = read_release_matrix(path)
    assert sorted(np.unique(conns[~np.isnan(conns)]).tolist()) == [0.0, 1.0]
    assert int((conns == 1.0).sum()) == 6


def test_save_wann_out_refuses_to_overwrite(tmp_path):
    path = tmp_path / "net.out"
    path.write_text("keep me")
    with pytest.raises(FileExistsError, match="net.out"):
        save_wann_out(path, example_genome())
    assert path.read_text() == "keep me"
    save_wann_out(path, example_genome(), overwrite=True)
    assert load_wann_network(path, 2, 2)[0].edges()  # readable now
    assert sorted(os.listdir(tmp_path)) == ["net.out"]


def test_save_wann_out_rejects_what_the_release_cannot_express(tmp_path):
    path = tmp_path / "net.out"
    genome = example_genome()
    zero = np.ones(genome.max_conns, np.float32)
    zero[0] = 0.0
    with pytest.raises(ValueError, match=r"\[0\] is 0 on an enabled connection"):
        save_wann_out(path, genome, {"conn_weights": zero})
    nan = np.ones(genome.max_conns, np.float32)
    nan[2] = np.nan
    with pytest.raises(ValueError, match=r"\[2\]"):
        save_wann_out(path, genome, {"conn_weights": nan})
    # An edge out of an output into a hidden node cannot sit in outputs-last order.
    from_output = Genome.from_edges(1, 1, [(1, 2), (2, 3)])
    with pytest.raises(InvalidGenomeError, match=r"slot 1 \(2->3\) leaves output"):
        save_wann_out(path, from_output)
    assert os.listdir(tmp_path) == []


def test_save_wann_out_names_a_node_whose_activation_has_no_release_id(tmp_path):
    name = "softsign_for_network_io_tests"
    if name not in activations.activation_names():
        activations.register_activation(name, lambda x: x / (1.0 + jnp.abs(x)))
    genome = Genome.from_edges(1, 1, [(1, 3), (3, 2)], activations={3: name})
    with pytest.raises(InvalidGenomeError, match=rf"Node 3 uses activation '{name}'"):
        save_wann_out(tmp_path / "net.out", genome)
    assert os.listdir(tmp_path) == []


def test_load_wann_out_returns_the_genome_alone():
    genome = load_wann_out(SWING_OUT, 5, 1)
    assert isinstance(genome, Genome)
    same, _ = load_wann_network(SWING_OUT, 5, 1)
    assert genome.edges() == same.edges()
