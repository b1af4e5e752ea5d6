"""Population forward throughput of each evaluation strategy, against the peak.

python benchmarks/forward.py                     # default grid, a few minutes
python benchmarks/forward.py --full              # pop 64..8192, nodes 32..512,
                                                 # batch 100..10000
python benchmarks/forward.py --strategies=depth_sorted,node_sequential \
    --pops=256 --nodes=128 --batches=1000 --json=/tmp/forward.json

One process measures the machine's dense float32 matmul peak (a jitted
square matmul) and then, for every grid point and strategy, the steady time
of ``evaluation.population_outputs`` (best and median of --repeats calls,
wall clock and process CPU time), its compile time, and its memory: the
compiled program's temporary buffers and the process's peak resident size.

Work is counted two ways:
  useful: 2 x enabled connections x genomes x weights x samples;
  padded: the multiply-adds of the dense (or gathered) products each
    strategy actually runs, replaying its rounding of widths and depths per
    chunk (activations are not counted).
Both are divided by the time; the padded rate is also given as a percentage
of the measured peak.

Genomes are grown by ``synthetic.synthetic_population``: evolved-looking
(connections only into deeper nodes, as the add-connection mutation
requires), filling the node and connection capacity. Capacity max_nodes = n
has 6n connections; its problem has 64 inputs and 10 outputs (the digits
problem) when n >= 128, else n/4 inputs and 2 outputs. The digits setting
(pop 256, 6 weights, 1000 samples, max_nodes 128) is in the default grid.
With --searched=N the genomes are instead a digits search's population
after N generations (the default search settings), timed on the search's
own batch. Run it on an idle machine: the load average is printed beside
every figure.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
from common import digits_search_config

from wannflax import activations, evaluation, graph, synthetic
from wannflax.module import make_module
from wannflax.problems import make_supervised
from wannflax.search import ArchitectureSearch

_STRATEGIES = flags.DEFINE_list(
    "strategies",
    ["node_sequential", "layered_dense", "depth_sorted", "sparse"],
    "Strategies to time (names in wannflax.evaluation.EVALUATIONS).",
)
_POPS = flags.DEFINE_list("pops", ["64", "256", "1024"], "Population sizes.")
_NODES = flags.DEFINE_list("nodes", ["32", "128"], "max_nodes values.")
_BATCHES = flags.DEFINE_list("batches", ["100", "1000"], "Samples per batch.")
_FULL = flags.DEFINE_bool(
    "full",
    False,
    "Whole grid: pops 64..8192, max_nodes 32..512, batches 100..10000.",
)
_WEIGHTS = flags.DEFINE_integer("weights", 6, "Shared weights K.")
_CHUNK = flags.DEFINE_integer(
    "chunk", -1, "Genomes per chunk: -1 auto (cache-sized), 0 whole population."
)
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed calls per measurement.")
_SHAPE = flags.DEFINE_enum(
    "shape", "evolved", ["evolved", "deep"], "Genome shape (see synthetic_population)."
)
_SEARCHED = flags.DEFINE_integer(
    "searched",
    0,
    "If > 0: instead of synthetic genomes, time the population of a digits "
    "search (default search settings, max_nodes 128) after this many "
    "generations, on its own batch; --nodes must be 128.",
)
_MAX_SECONDS = flags.DEFINE_float(
    "max_seconds",
    60.0,
    "Skip a strategy's larger grid points once one call took longer than this.",
)
_JSON = flags.DEFINE_string(
    "json",
    os.path.join(tempfile.gettempdir(), "wannflax_forward.json"),
    "Where to write the rows.",
)

_FULL_GRID = (
    [64, 256, 1024, 4096, 8192],
    [32, 64, 128, 256, 512],
    [100, 1000, 10000],
)


def problem_shape(max_nodes: int) -> tuple[int, int]:
    """(num_inputs, num_outputs) of the synthetic problem for a capacity."""
    return (64, 10) if max_nodes >= 128 else (max_nodes // 4, 2)


def measure_peak(size: int = 2048, repeats: int = 5) -> float:
    """Best dense float32 matmul rate of this process, in GFLOP/s."""
    a = jax.random.normal(jax.random.PRNGKey(0), (size, size), jnp.float32)
    matmul = jax.jit(lambda m: m @ m)
    jax.block_until_ready(matmul(a))
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(matmul(a))
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def _chunks(values: np.ndarray, chunk: int) -> list[np.ndarray]:
    size = values.shape[0]
    if not chunk or chunk >= size:
        return [values]
    padded = np.concatenate([values, np.repeat(values[:1], -size % chunk, axis=0)])
    return list(padded.reshape(-1, chunk, *values.shape[1:]))


def _bucket(sizes, needed):
    sizes = np.asarray(sizes)
    return int(sizes[min(np.searchsorted(sizes, needed), len(sizes) - 1)])


def padded_flops(
    strategy: str, population, num_weights: int, batch: int, chunk: int
) -> float:
    """Multiply-adds x 2 of the products ``strategy`` runs (see the module doc)."""
    first = population.num_inputs + 1
    width = population.max_nodes - first
    num_outputs = population.num_outputs
    columns = num_weights * batch
    depths = np.asarray(jax.vmap(graph.node_depths)(population))[:, first:]
    valid = np.asarray(population.node_valid)[:, first:]
    key = np.where(valid, depths, 0)
    active = np.asarray(population.active_conns())
    between = active & (np.asarray(population.conn_source) >= first)
    if strategy == "depth_sorted":
        sizes = evaluation._size_ladder(width)
        plan = np.asarray(evaluation._depth_counts(population, width))
        window_tail = (_bucket(sizes, int(plan[0])), _bucket(sizes, int(plan[1])))
        sort_keys = np.asarray(evaluation._sort_keys(population, width))
        sort_key_chunks = iter(_chunks(sort_keys, chunk))
    total = 0.0
    for key_chunk, between_chunk in zip(
        _chunks(key, chunk), _chunks(between, chunk), strict=True
    ):
        size = key_chunk.shape[0]
        depth = max(int(key_chunk.max()), 1)
        # The input sums, over every column evaluated (depth_sorted: fewer).
        inputs = size * 2.0 * batch * first * width
        if strategy == "node_sequential":
            steps = int((key_chunk > 0).sum(axis=1).max())
            total += size * steps * 2.0 * width * columns
        elif strategy == "layered_dense":
            total += size * max(depth - 2, 0) * 2.0 * columns * width * width
            total += size * 2.0 * columns * width * num_outputs
        elif strategy == "depth_sorted":
            # Window and tail follow the whole population (its plan); the
            # row loop this chunk's deep rows before the sinks.
            window, tail = window_tail
            sort_keys_chunk = next(sort_key_chunks)
            deep = int((sort_keys_chunk >= 2).sum(axis=1).max())
            sinks = int((sort_keys_chunk == width + 1).sum(axis=1).min())
            inputs = size * 2.0 * batch * first * window
            total += size * 2.0 * columns * (window - tail) * tail  # from the head
            total += size * max(deep - sinks, 0) * 2.0 * columns * tail  # the loop
            total += size * 2.0 * columns * tail * min(num_outputs, tail)  # sinks
        elif strategy == "sparse":
            counts = evaluation._connection_buckets(population.max_conns)
            gathered = _bucket(counts, int(between_chunk.sum(axis=1).max()))
            total += size * (depth - 1) * 2.0 * gathered * columns
        else:
            return float("nan")
        total += inputs
    return total


def searched_population(pop_size: int, batch: int, generations: int):
    """A digits search's population after ``generations``, and one batch."""
    problem = make_supervised("digits", batch_size=batch)
    search = ArchitectureSearch(problem, digits_search_config(pop_size=pop_size))
    search.run(generations, log_every=0)
    x, _ = problem.sample_batch(jax.random.PRNGKey(1))
    return search.state.population, x


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_strategy(module, population, x, weights, strategy, chunk, repeats):
    """Compile seconds, wall and CPU seconds per call, and temporary bytes."""
    forward = jax.jit(
        lambda p: evaluation.population_outputs(
            module, p, x, weights, strategy, chunk_size=chunk
        )
    )
    start = time.perf_counter()
    compiled = forward.lower(population).compile()
    compile_seconds = time.perf_counter() - start
    memory = compiled.memory_analysis()
    temp_bytes = getattr(memory, "temp_size_in_bytes", None)
    jax.block_until_ready(compiled(population))
    walls, cpus = [], []
    for _ in range(repeats):
        cpu, wall = _cpu_seconds(), time.perf_counter()
        jax.block_until_ready(compiled(population))
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu_seconds() - cpu)
    return compile_seconds, walls, cpus, temp_bytes


def main(_):
    pops, nodes, batches = (
        _FULL_GRID
        if _FULL.value
        else (
            [int(v) for v in _POPS.value],
            [int(v) for v in _NODES.value],
            [int(v) for v in _BATCHES.value],
        )
    )
    peak = measure_peak()
    print(
        f"dense fp32 matmul peak {peak:.1f} GFLOP/s | devices {jax.devices()} | "
        f"load {os.getloadavg()}"
    )
    header = (
        f"{'strategy':16s} {'pop':>5s} {'nodes':>5s} {'batch':>6s} {'ms':>9s} "
        f"{'ms_med':>9s} {'cpu_ms':>9s} {'useful':>8s} {'padded':>8s} {'%peak':>6s} "
        f"{'compile':>8s} {'temp_MB':>8s} {'rss_MB':>7s} {'load1':>5s}"
    )
    print(header)
    rows, too_slow = [], set()
    shared_weights = jnp.asarray(
        np.linspace(-2.0, 2.0, _WEIGHTS.value) if _WEIGHTS.value > 1 else [1.0],
        jnp.float32,
    )
    if _SEARCHED.value and nodes != [128]:
        raise app.UsageError(f"--searched needs --nodes=128, got {nodes}.")
    for max_nodes, batch, pop in itertools.product(nodes, batches, pops):
        num_inputs, num_outputs = problem_shape(max_nodes)
        names = tuple(
            dict.fromkeys(["linear", "abs", *activations.CLASSIFICATION_POOL])
        )
        if _SEARCHED.value:
            population, x = searched_population(pop, batch, _SEARCHED.value)
        else:
            population = synthetic.synthetic_population(
                0,
                pop,
                num_inputs,
                num_outputs,
                max_nodes,
                6 * max_nodes,
                shape=_SHAPE.value,
                output_activation="abs",
            )
            x = jax.random.uniform(jax.random.PRNGKey(1), (batch, num_inputs))
        module = make_module(population.index(0), names)
        connections = float(np.asarray(population.num_connections()).sum())
        useful = 2.0 * connections * len(shared_weights) * batch
        for strategy in _STRATEGIES.value:
            if (strategy, max_nodes) in too_slow:
                continue
            compile_seconds, walls, cpus, temp_bytes = time_strategy(
                module,
                population,
                x,
                shared_weights,
                strategy,
                _CHUNK.value,
                _REPEATS.value,
            )
            best = min(walls)
            chunk = _CHUNK.value
            if chunk == -1:
                chunk = evaluation.auto_chunk_size(
                    pop, len(shared_weights), batch, max_nodes - num_inputs - 1
                )
            padded = padded_flops(
                strategy, population, len(shared_weights), batch, chunk
            )
            row = {
                "strategy": strategy,
                "pop_size": pop,
                "max_nodes": max_nodes,
                "max_conns": 6 * max_nodes,
                "batch": batch,
                "weights": len(shared_weights),
                "chunk": chunk,
                "shape": f"searched {_SEARCHED.value}"
                if _SEARCHED.value
                else _SHAPE.value,
                "mean_connections": connections / pop,
                "depth_max": int(
                    np.asarray(jax.vmap(graph.num_layers)(population)).max()
                ),
                "seconds_best": best,
                "seconds_median": float(np.median(walls)),
                "cpu_seconds_best": min(cpus),
                "useful_gflops": useful / best / 1e9,
                "padded_gflops": padded / best / 1e9,
                "percent_of_peak": 100.0 * padded / best / 1e9 / peak,
                "peak_gflops": peak,
                "compile_seconds": compile_seconds,
                "temp_bytes": temp_bytes,
                "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                * 1024,
                "load_average": os.getloadavg(),
            }
            rows.append(row)
            print(
                f"{strategy:16s} {pop:5d} {max_nodes:5d} {batch:6d} "
                f"{best * 1e3:9.1f} {row['seconds_median'] * 1e3:9.1f} "
                f"{min(cpus) * 1e3:9.1f} {row['useful_gflops']:8.2f} "
                f"{row['padded_gflops']:8.2f} {row['percent_of_peak']:6.1f} "
                f"{compile_seconds:8.2f} "
                f"{(temp_bytes or 0) / 2**20:8.1f} {row['max_rss_bytes'] / 2**20:7.0f} "
                f"{os.getloadavg()[0]:5.2f}",
                flush=True,
            )
            if best > _MAX_SECONDS.value:
                too_slow.add((strategy, max_nodes))
    with open(_JSON.value, "w") as handle:
        json.dump({"peak_gflops": peak, "rows": rows}, handle, indent=1)
    print(f"wrote {len(rows)} rows to {_JSON.value}")


if __name__ == "__main__":
    app.run(main)
