"""Specification of wannflax.export: torch and ONNX networks equal to the Flax one.

Equality is checked on 100 random genomes (all eleven activations, fan-in of
three to five, deep chains, dead nodes, output -> output edges, hidden nodes
without inputs, disabled edges, shuffled slots with padding between them) on a
batch of 16 inputs in [-2, 2]. Tolerance: 1e-5 absolute for outputs up to 1 in
magnitude, 1e-5 relative above (``assert_matches``), in float32.

To keep the run short, the Flax side evaluates each group of genomes of one
shape as one vmapped program, and the ONNX and torch.export checks export all
100 networks side by side as one bundle module through the same conversion
functions that ``export_to_onnx`` and ``export_to_pytorch`` use. torch's
ONNX exporter is slow (~0.3 s per genome), so the default run checks ONNX on
every fifth genome and the ``slow`` run on all 100.
"""

import json
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wannflax import activations, compile, export
from wannflax.genome import Genome
from wannflax.module import WANN, make_module

torch = pytest.importorskip("torch")

from wannflax.export import onnx_export, torch_export  # noqa: E402

ALL_ACTIVATIONS = activations.PAPER_ACTIVATIONS
CONN_FIELDS = ("conn_source", "conn_target", "conn_enabled", "conn_valid")
# (num_inputs, num_outputs, max_nodes) of the four genome shapes, 25 each.
SHAPES = ((1, 1, 14), (3, 2, 18), (5, 4, 24), (2, 3, 20))
GENOMES_PER_SHAPE = 25


def assert_matches(actual, expected, tol=1e-5):
    """|actual - expected| <= tol * max(1, |expected|), elementwise."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    bound = tol * np.maximum(1.0, np.abs(expected))
    error = np.abs(actual - expected)
    worst = np.unravel_index(np.argmax(error - bound), error.shape)
    assert np.all(error <= bound), (
        f"max excess at {worst}: {actual[worst]} vs {expected[worst]}"
    )


def rich_random_genome(rng, num_inputs, num_outputs, max_nodes):
    """A random feed-forward genome meant to stress the export.

    Outputs and hidden nodes get a random evaluation order (so ids are not
    topological and outputs may feed outputs). One chain of 3 to 8 nodes runs
    through it; each node takes 0 (10%), 1-2 (50%) or 3-5 (40%) sources from
    the bias, the inputs and earlier nodes; 15% of edges are disabled;
    activations are drawn from all eleven for hidden and output nodes. Nodes
    late in the order often reach no output (dead). Connection slots are
    shuffled, padding slots included.
    """
    num_fixed = 1 + num_inputs + num_outputs
    num_hidden = int(rng.integers(2, max_nodes - num_fixed + 1))
    later = rng.permutation(np.arange(num_inputs + 1, num_fixed + num_hidden)).tolist()
    order = list(range(num_inputs + 1)) + later
    edges = set()
    chain_length = int(rng.integers(3, min(8, len(later)) + 1))
    previous = int(rng.integers(0, num_inputs + 1))
    for position in sorted(rng.choice(len(later), chain_length, replace=False)):
        edges.add((previous, later[position]))
        previous = later[position]
    for position, node in enumerate(later):
        available = order[: num_inputs + 1 + position]
        draw = rng.random()
        if draw < 0.1:
            fan_in = 0
        elif draw < 0.6:
            fan_in = int(rng.integers(1, 3))
        else:
            fan_in = int(rng.integers(3, 6))
        for source in rng.choice(available, min(fan_in, len(available)), False):
            edges.add((int(source), node))
    edges = sorted(edges)
    triples = [(s, t, bool(rng.random() > 0.15)) for s, t in edges]
    largest = max([num_fixed - 1] + [max(s, t) for s, t in edges])
    acts = {
        n: ALL_ACTIVATIONS[int(rng.integers(len(ALL_ACTIVATIONS)))]
        for n in later
        if n <= largest
    }
    max_conns = 6 * (max_nodes - num_inputs - 1) + 8
    genome = Genome.from_edges(
        num_inputs, num_outputs, triples, acts, max_nodes=max_nodes, max_conns=max_conns
    )
    permutation = rng.permutation(max_conns)
    genome = genome.replace(
        **{name: getattr(genome, name)[permutation] for name in CONN_FIELDS}
    )
    genome.validate()
    return genome


def random_weights(rng, genome):
    """Weights in [-1.5, 1.5]; NaN in some disabled and padding slots.

    Flax masks inactive slots, so their values must not matter to the export
    either. (Slots feeding dead nodes stay finite: Flax's dense product would
    turn a NaN there into 0 * NaN in every output.)
    """
    weights = rng.uniform(-1.5, 1.5, genome.max_conns).astype(np.float32)
    inactive = ~np.asarray(genome.active_conns())
    weights[inactive & (rng.random(genome.max_conns) < 0.5)] = np.nan
    return {"conn_weights": jnp.asarray(weights)}


@pytest.fixture(scope="module")
def cases():
    """100 (genome, params, x, flax outputs, torch module) cases."""
    rng = np.random.default_rng(20240611)
    result = []
    for num_inputs, num_outputs, max_nodes in SHAPES:
        genomes = [
            rich_random_genome(rng, num_inputs, num_outputs, max_nodes)
            for _ in range(GENOMES_PER_SHAPE)
        ]
        params = [random_weights(rng, g) for g in genomes]
        x = rng.uniform(-2.0, 2.0, (16, num_inputs)).astype(np.float32)
        # One program for the shape (depth computed inside jit, all activations),
        # called per genome: it computes what compile()'s module computes.
        # (Not vmapped: a batched product sums in another order, and some of
        # these deep sin/cos chains amplify that rounding to ~5e-5.)
        module = make_module(genomes[0])

        @jax.jit
        def apply(genome_arrays, p, module=module, x=x):
            return module.apply({"params": p, "genome": genome_arrays}, x)

        outputs = [np.asarray(apply(g.arrays(), p)) for g, p in zip(genomes, params)]
        for genome, p, out in zip(genomes, params, outputs, strict=True):
            result.append((genome, p, x, out, export.to_torch(genome, p)))
    return result


def run_torch(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


# -- the random genomes cover what they claim -----------------------------------


def test_the_random_genomes_cover_the_hard_cases(cases):
    used, fan_in_3, dead, out_to_out, no_input, depth_5, disabled = (
        set(),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    for genome, params, *_ in cases:
        plan = export.plan_export(genome, params)
        arrays = jax.device_get(genome.arrays())
        kept = set(plan.nodes)
        first_output = genome.num_inputs + 1
        outputs = range(first_output, first_output + genome.num_outputs)
        used |= {
            activations.activation_name(arrays["node_activation"][n]) for n in kept
        }
        fan_in_3 += any(layer.sources.shape[1] >= 3 for layer in plan.layers)
        valid_hidden = {
            int(n)
            for n in np.flatnonzero(arrays["node_valid"])
            if n >= genome.num_fixed_nodes
        }
        dead += bool(valid_hidden - kept)
        kept_edges = [
            (int(arrays["conn_source"][s]), int(arrays["conn_target"][s]))
            for s in plan.conn_slots
        ]
        out_to_out += any(s in outputs and t in outputs for s, t in kept_edges)
        targets = {t for _, t in kept_edges}
        no_input += any(n not in targets for n in kept - set(outputs))
        depth_5 += len(plan.layers) >= 5
        disabled += bool(np.any(arrays["conn_valid"] & ~arrays["conn_enabled"]))
    assert len(cases) == 100
    assert used == set(ALL_ACTIVATIONS)
    assert min(fan_in_3, dead, out_to_out, no_input, depth_5, disabled) >= 10, (
        fan_in_3,
        dead,
        out_to_out,
        no_input,
        depth_5,
        disabled,
    )


# -- numerical equality ------------------------------------------------------------


def test_torch_equals_flax_on_100_random_genomes(cases):
    for index, (_, _, x, expected, module) in enumerate(cases):
        try:
            assert_matches(run_torch(module, x), expected)
        except AssertionError as error:
            raise AssertionError(f"genome {index}: {error}") from None


def test_compile_agrees_with_the_batched_flax_reference(cases):
    # The reference above is the vmapped all-activation module; compile() (static
    # depth, only the used activations) gives the same, so torch matches both.
    for genome, params, x, expected, module in cases[::50]:
        flax_module, variables = compile(genome)
        out = flax_module.apply({**variables, "params": params}, x)
        np.testing.assert_array_equal(np.asarray(out), expected)
        assert_matches(run_torch(module, x), np.asarray(out))


def test_exported_weights_are_parameters_of_the_kept_connections_only():
    # 1 -> 5 -> 3 (out); 5 -> 6 is dead (6 reaches no output); 2 -> 4 disabled.
    genome = Genome.from_edges(
        2, 2, [(1, 5), (5, 3), (5, 6), (2, 4, False), (0, 4)], {5: "tanh"}
    )
    _, variables = compile(genome, 0.5)
    module = export.to_torch(genome, variables)
    parameters = dict(module.named_parameters())
    assert list(parameters) == ["conn_weights"]
    assert parameters["conn_weights"].requires_grad
    assert module.conn_slots.tolist() == [0, 1, 4]
    assert set(module.state_dict()) == {"conn_weights", "conn_slots"}


def test_a_hidden_node_without_inputs_outputs_act_of_zero():
    # Node 3 (cos, no incoming) feeds the output: cos(0) = 1, so out = 2 * 1 + x.
    genome = Genome.from_edges(1, 1, [(3, 2), (1, 2)], {3: "cos"})
    module, variables = compile(genome, 1.0)
    variables["params"]["conn_weights"] = jnp.array([2.0, 1.0])
    x = np.array([[0.5], [-1.0]], np.float32)
    expected = np.asarray(module.apply(variables, x))
    np.testing.assert_allclose(expected, [[2.5], [1.0]], atol=1e-6)
    assert_matches(run_torch(export.to_torch(genome, variables), x), expected)


def test_large_outputs_match_relatively():
    # A square chain: x^(2^4) * w^... reaches ~1e8, where 1e-5 relative is the
    # meaningful tolerance (float32 has ~7 digits).
    genome = Genome.from_edges(
        1, 1, [(1, 3), (3, 4), (4, 5), (5, 2)], {n: "square" for n in (2, 3, 4, 5)}
    )
    module, variables = compile(genome, 1.3)
    x = np.linspace(-2, 2, 16, dtype=np.float32)[:, None]
    expected = np.asarray(module.apply(variables, x))
    assert np.abs(expected).max() > 1e6
    assert_matches(run_torch(export.to_torch(genome, variables), x), expected)


def test_a_registered_activation_with_a_torch_version_is_exported():
    name = "export_test_softsign"
    if name not in activations.ACTIVATIONS:
        activations.register_activation(
            name, lambda v: v / (1 + jnp.abs(v)), torch_fn=lambda v: v / (1 + v.abs())
        )
    genome = Genome.from_edges(2, 1, [(1, 4), (2, 4), (0, 4), (4, 3)], {4: name})
    module, variables = compile(genome, -1.5)
    x = np.random.default_rng(1).uniform(-2, 2, (16, 2)).astype(np.float32)
    expected = np.asarray(module.apply(variables, x))
    assert_matches(run_torch(export.to_torch(genome, variables), x), expected)


@pytest.mark.parametrize("stride", [5, pytest.param(1, marks=pytest.mark.slow)])
def test_onnx_equals_flax_on_the_random_genomes(cases, stride):
    # torch's ONNX exporter needs ~0.3 s per genome here (and more per genome
    # in larger bundles), so the default run checks every fifth genome and the
    # slow run all 100, in bundles of 25.
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    chosen = cases[::stride]
    for first in range(0, len(chosen), 25):
        bundle, x, expected = _bundle(chosen[first : first + 25])
        model = onnx_export._onnx_bytes(bundle, x.shape[1])
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        (out,) = session.run(None, {"x": x})
        _assert_bundle_matches(out, expected, first * stride, stride)
        # The batch size is free.
        (few,) = session.run(None, {"x": x[:3]})
        _assert_bundle_matches(few, [e[:3] for e in expected], first * stride, stride)


def test_torch_export_program_equals_flax_on_100_random_genomes(cases):
    bundle, x, expected = _bundle(cases)
    program = torch_export._export_program(bundle, x.shape[1])
    with torch.no_grad():
        out = program.module()(torch.from_numpy(x)).numpy()
    _assert_bundle_matches(out, expected)


def _bundle(cases):
    """All 100 exported modules side by side: inputs and outputs concatenated."""
    widths = [case[2].shape[1] for case in cases]

    class Bundle(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.parts = torch.nn.ModuleList([case[4] for case in cases])

        def forward(self, x):
            pieces = torch.split(x, widths, dim=-1)
            return torch.cat(
                [part(p) for part, p in zip(self.parts, pieces, strict=True)], dim=-1
            )

    x = np.concatenate([case[2] for case in cases], axis=-1)
    return Bundle(), x, [case[3] for case in cases]


def _assert_bundle_matches(out, expected, first=0, stride=1):
    """Compares each genome's columns; ``first``/``stride`` name the genomes."""
    start = 0
    for index, want in enumerate(expected):
        width = want.shape[-1]
        try:
            assert_matches(out[:, start : start + width], want)
        except AssertionError as error:
            raise AssertionError(f"genome {first + index * stride}: {error}") from None
        start += width
    assert start == out.shape[-1]


# -- training in torch and back into Flax -------------------------------------------


def test_fine_tuning_in_torch_lowers_the_loss_and_loads_back_into_flax(cases):
    genome, params, _, _, _ = next(
        c for c in cases if len(c[4].conn_weights) >= 8 and c[4].num_layers >= 3
    )
    flax_module, variables = compile(genome)
    variables = {**variables, "params": params}
    module = export.to_torch(genome, params)
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.uniform(-2, 2, (64, genome.num_inputs)).astype(np.float32))
    target = torch.sin(x.sum(-1, keepdim=True)).repeat(1, genome.num_outputs)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        loss = torch.mean((module(x) - target) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses

    tuned = export.params_from_state_dict(genome, module.state_dict(), params)
    assert tuned["conn_weights"].shape == (genome.max_conns,)
    with torch.no_grad():
        torch_out = module(x).numpy()
    flax_out = flax_module.apply({**variables, "params": tuned}, x.numpy())
    assert_matches(flax_out, torch_out)
    # Without the original params the dropped slots are 0: same outputs.
    zeros = export.params_from_state_dict(genome, module, None)
    assert_matches(
        flax_module.apply({**variables, "params": zeros}, x.numpy()), torch_out
    )
    # Slots the export dropped keep their original values (NaN stays NaN).
    dropped = np.setdiff1d(np.arange(genome.max_conns), module.conn_slots.numpy())
    np.testing.assert_array_equal(
        np.asarray(tuned["conn_weights"])[dropped],
        np.asarray(params["conn_weights"])[dropped],
    )


def test_a_state_dict_of_another_genome_is_refused(cases):
    (g1, p1, *_), (g2, *_) = cases[0], cases[1]
    state = export.to_torch(g1, p1).state_dict()
    state["conn_slots"] = state["conn_slots"].clone()
    inactive = int(np.flatnonzero(~np.asarray(g2.active_conns()))[0])
    state["conn_slots"][0] = inactive
    with pytest.raises(export.ExportError, match=f"slot {inactive}.*another genome"):
        export.params_from_state_dict(g2, state)
    with pytest.raises(export.ExportError, match="lacks"):
        export.params_from_state_dict(g1, {"weights": state["conn_weights"]})


# -- the saved artifact ---------------------------------------------------------------

FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    import torch
    for program, weights, data in json.loads(sys.argv[1]):
        model = torch.export.load(program).module()
        model.load_state_dict(torch.load(weights, weights_only=True))
        case = torch.load(data, weights_only=True)
        with torch.no_grad():
            out = model(case["x"])
        bound = 1e-5 * torch.clamp(case["expected"].abs(), min=1.0)
        assert bool(((out - case["expected"]).abs() <= bound).all()), (out, case)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(5):
            loss = (model(case["x"]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[-1] < losses[0], losses
    assert "wannflax" not in sys.modules
    print("fresh ok")
    """
)


def test_the_artifact_loads_trains_and_runs_in_a_process_without_wannflax(
    cases, tmp_path
):
    jobs = []
    for index in (3, 40, 77):
        genome, params, x, expected, _ = cases[index]
        written = export.export_to_pytorch(genome, params, tmp_path / f"net{index}.pt2")
        assert written.program.exists() and written.state_dict.exists()
        data = tmp_path / f"case{index}.pt"
        torch.save(
            {
                "x": torch.from_numpy(x),
                "expected": torch.from_numpy(np.array(expected)),
            },
            data,
        )
        jobs.append([str(written.program), str(written.state_dict), str(data)])
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, json.dumps(jobs)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "fresh ok" in result.stdout


def test_the_artifact_records_the_genome(tmp_path, cases):
    genome, params, *_ = cases[5]
    written = export.export_to_pytorch(genome, params, tmp_path / "net.pt2")
    extra = {torch_export.METADATA_FILE: ""}
    torch.export.load(written.program, extra_files=extra)
    meta = json.loads(extra[torch_export.METADATA_FILE])
    assert meta["format"] == "wannflax.torch_export"
    assert Genome.from_dict(meta["genome"]).edges() == genome.edges()
    assert meta["conn_slots"] == export.plan_export(genome, params).conn_slots.tolist()


def test_the_saved_state_dict_loads_back_into_flax(tmp_path, cases):
    genome, params, x, expected, _ = cases[30]
    written = export.export_to_pytorch(genome, params, tmp_path / "net.pt2")
    state = torch.load(written.state_dict, weights_only=True)
    loaded = export.params_from_state_dict(genome, state)
    flax_module, variables = compile(genome)
    assert_matches(flax_module.apply({**variables, "params": loaded}, x), expected)
    program = torch.export.load(written.program).module()
    # The loaded program's own state_dict maps back too, and unchanged weights
    # come back bit for bit (NaN in dropped slots included).
    again = export.params_from_state_dict(genome, program, params)
    np.testing.assert_array_equal(
        np.asarray(again["conn_weights"]), np.asarray(params["conn_weights"])
    )


def test_a_network_without_connections_exports_its_constant_outputs(tmp_path):
    # Outputs gaussian(0) = 1 and sigmoid(0) = 0.5 whatever the input.
    genome = Genome.from_edges(
        2, 2, [(1, 3, False)], {3: "gaussian", 4: "sigmoid"}, max_conns=3
    )
    _, variables = compile(genome)
    x = np.ones((4, 2), np.float32)
    module = export.to_torch(genome, variables)
    assert module.conn_weights.shape == (0,)
    np.testing.assert_allclose(run_torch(module, x), [[1.0, 0.5]] * 4)
    # torch.export.save cannot store the empty weight vector: a clear error.
    with pytest.raises(export.ExportError, match="no weights"):
        export.export_to_pytorch(genome, variables, tmp_path / "net.pt2")
    assert not list(tmp_path.iterdir())


def test_wannflax_imports_without_importing_torch():
    code = (
        "import sys, wannflax, wannflax.export; "
        "assert 'torch' not in sys.modules and 'onnx' not in sys.modules; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]


# -- bad input: clear errors, nothing written -------------------------------------------


def _small():
    genome = Genome.from_edges(
        2, 1, [(1, 4), (2, 4), (4, 3), (0, 5), (5, 6)], {4: "tanh"}, max_conns=8
    )
    return genome, compile(genome, 0.5)[1]


def _writers(tmp_path):
    yield (
        "torch",
        lambda g, p, **kw: export.export_to_pytorch(g, p, tmp_path / "net.pt2", **kw),
    )
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return
    yield (
        "onnx",
        lambda g, p, **kw: export.export_to_onnx(g, p, tmp_path / "net.onnx", **kw),
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_kept_weight_is_named_and_nothing_is_written(tmp_path, bad):
    genome, variables = _small()
    weights = np.asarray(variables["params"]["conn_weights"]).copy()
    weights[2] = bad  # slot 2 is 4 -> 3
    params = {"conn_weights": jnp.asarray(weights)}
    with pytest.raises(export.ExportError, match=r"slot 2 \(4->3\).*non-finite"):
        export.to_torch(genome, params)
    for name, write in _writers(tmp_path):
        with pytest.raises(export.ExportError, match=r"slot 2 \(4->3\)"):
            write(genome, params)
        assert not list(tmp_path.iterdir()), name


def test_non_finite_weights_on_dropped_connections_do_not_matter():
    genome, variables = _small()
    weights = np.asarray(variables["params"]["conn_weights"]).copy()
    weights[4] = np.nan  # 5 -> 6: node 6 reaches no output
    weights[6] = np.inf  # padding
    module = export.to_torch(genome, {"conn_weights": jnp.asarray(weights)})
    assert module.conn_slots.tolist() == [0, 1, 2]


def test_params_of_another_capacity_are_refused(tmp_path):
    genome, _ = _small()
    params = {"conn_weights": jnp.ones(genome.max_conns + 1)}
    with pytest.raises(export.ExportError, match="different capacity"):
        export.to_torch(genome, params)
    for name, write in _writers(tmp_path):
        with pytest.raises(export.ExportError, match="max_conns=8"):
            write(genome, params)
        assert not list(tmp_path.iterdir()), name


def test_an_activation_without_a_torch_version_is_named(tmp_path):
    name = "export_test_no_torch"
    if name not in activations.ACTIVATIONS:
        activations.register_activation(name, lambda v: v / (1 + jnp.abs(v)))
    genome = Genome.from_edges(1, 1, [(1, 3), (3, 2), (1, 4)], {3: name, 4: name})
    _, variables = compile(genome)
    with pytest.raises(export.ExportError, match=f"Node 3 uses activation '{name}'"):
        export.to_torch(genome, variables)
    for label, write in _writers(tmp_path):
        with pytest.raises(export.ExportError, match="no torch version"):
            write(genome, variables)
        assert not list(tmp_path.iterdir()), label
    # Only kept nodes need one: node 4 is dead.
    dead_only = Genome.from_edges(1, 1, [(1, 2), (1, 3)], {3: name})
    export.to_torch(dead_only, compile(dead_only)[1])


def test_a_module_class_with_its_own_aggregation_is_refused():
    class MaxAggregate(WANN):
        def aggregate(self, values, weights):
            return jnp.max(values[..., :, None] * weights, axis=-2)

    genome, variables = _small()
    with pytest.raises(NotImplementedError, match="MaxAggregate overrides aggregate"):
        export.to_torch(genome, variables, module_class=MaxAggregate)


def test_existing_files_are_not_overwritten_unless_asked(tmp_path):
    genome, variables = _small()
    for name, write in _writers(tmp_path):
        path = tmp_path / ("net.pt2" if name == "torch" else "net.onnx")
        path.write_bytes(b"keep me")
        with pytest.raises(FileExistsError, match=str(path)):
            write(genome, variables)
        assert path.read_bytes() == b"keep me"
        write(genome, variables, overwrite=True)
        assert path.read_bytes() != b"keep me"
    # An existing state_dict file alone also stops the torch export, before the
    # program is written.
    other = tmp_path / "other.pt2"
    export.state_dict_path(other).write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="other.state_dict.pt"):
        export.export_to_pytorch(genome, variables, other)
    assert not other.exists()


def test_onnx_without_the_extra_names_it(monkeypatch, tmp_path):
    genome, variables = _small()
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails
    with pytest.raises(ImportError, match=r"wannflax\[onnx\]"):
        export.export_to_onnx(genome, variables, tmp_path / "net.onnx")
    assert not list(tmp_path.iterdir())


def test_export_to_onnx_writes_a_model_that_onnxruntime_runs(tmp_path, cases):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    genome, params, x, expected, _ = cases[60]
    path = export.export_to_onnx(genome, params, tmp_path / "net.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x"]
    (out,) = session.run(None, {"x": x})
    assert_matches(out, expected)
