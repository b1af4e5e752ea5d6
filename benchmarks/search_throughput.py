"""Generations per second and network evaluations per second of the search.

python benchmarks/search_throughput.py --pop_size=256 --batch_size=1000
python benchmarks/search_throughput.py --warmup_generations=400
python benchmarks/search_throughput.py --evaluation=node_sequential --population_chunk=0

Digits with the default config's search settings, six shared weights,
1000-sample batches by default. Network
evaluations = genomes x weights x samples per generation. The first
generation (compilation) is timed separately and excluded from the rate.
"""

import json
import time

import jax
from absl import app, flags
from common import digits_search_config

from wannflax import evaluation
from wannflax.problems import make_supervised
from wannflax.search import ArchitectureSearch

_POP = flags.DEFINE_integer("pop_size", 256, "Population size.")
_BATCH = flags.DEFINE_integer("batch_size", 1000, "Samples per generation.")
_MAX_NODES = flags.DEFINE_integer("max_nodes", 128, "Node capacity.")
_MAX_CONNS = flags.DEFINE_integer("max_connections", 768, "Connection capacity.")
_GENERATIONS = flags.DEFINE_integer("generations", 30, "Timed generations.")
_DATASET = flags.DEFINE_string("dataset", "digits", "Dataset name.")
_EVALUATION = flags.DEFINE_string(
    "evaluation", "auto", "Population forward (wannflax.evaluation.EVALUATIONS)."
)
_CHUNK = flags.DEFINE_integer(
    "population_chunk", -1, "Genomes per chunk: -1 auto, 0 the whole population."
)
_WARMUP = flags.DEFINE_integer(
    "warmup_generations",
    0,
    "Untimed generations before timing: later generations hold larger genomes.",
)


def main(_):
    problem = make_supervised(_DATASET.value, batch_size=_BATCH.value)
    config = digits_search_config(
        pop_size=_POP.value,
        max_nodes=_MAX_NODES.value,
        max_connections=_MAX_CONNS.value,
        evaluation=_EVALUATION.value,
        population_chunk=_CHUNK.value,
    )
    search = ArchitectureSearch(problem, config)
    start = time.perf_counter()
    search.step()
    compile_seconds = time.perf_counter() - start

    search.run(_WARMUP.value, log_every=0)
    start = time.perf_counter()
    search.run(_GENERATIONS.value, log_every=0)
    seconds = time.perf_counter() - start

    rate = _GENERATIONS.value / seconds
    evaluations = config.pop_size * len(config.weight_values) * problem.batch_size
    result = {
        "dataset": _DATASET.value,
        "pop_size": config.pop_size,
        "weights": len(config.weight_values),
        "batch_size": problem.batch_size,
        "max_nodes": config.max_nodes,
        "max_connections": config.max_connections,
        "evaluation": config.evaluation,
        "evaluation_strategy": (
            evaluation.auto_strategy(config.max_nodes, config.max_connections)
            if config.evaluation == evaluation.AUTO
            else config.evaluation
        ),
        "population_chunk": config.population_chunk,
        "devices": [str(d) for d in jax.devices()],
        "first_generation_seconds": round(compile_seconds, 2),
        "warmup_generations": _WARMUP.value,
        "generations_per_second": round(rate, 3),
        "network_evaluations_per_second": round(rate * evaluations),
        "traces": search.trace_count,
        "final_champion_connections": search.history[-1]["champion_connections"],
        "final_champion_hidden": search.history[-1]["champion_hidden"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    app.run(main)
