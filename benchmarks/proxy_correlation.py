"""How well each zero-cost proxy, and the WANN fitness, predict trained accuracy.

python benchmarks/proxy_correlation.py --num_genomes=200 --epochs=20 --seed=0

Genomes on digits: half drawn from a random initial population and given a
few random structural mutations each, half taken from the populations of a
short WANN search at several generations (exact duplicates dropped). Each
genome is trained alike (Stage 2: shared weight tuned on the training set,
then adamw on mini-batches for ``--epochs`` epochs, all genomes in one vmapped
program, see ``wannflax.population_training``) and scored by its test
accuracy. Every proxy scores each untrained genome (all connections at weight
1) on one batch of 64 training samples. The baselines are the WANN fitness
the search ranks on: the mean over the six shared weights of minus the
cross-entropy on a 1000-sample batch, and the mean accuracy over the six
weights on the whole training set.

For every signal the table gives Spearman's rho and Kendall's tau-b against
the test accuracy over all genomes, rho within each half, the mean rho within
one generation's population (what a search ranks), and the rho of the hybrid
score 0.5 r(fitness) + 0.5 r(signal) (r: normalised rank), beside the
published |rho| on NAS-Bench-201 CIFAR-10. Undefined proxy scores rank lowest,
as in the search. Prints a markdown table and writes JSON to ``--output``.
"""

from __future__ import annotations

import json
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging
from common import digits_search_config, digits_trainer_config

from wannflax import graph, mutation, proxies
from wannflax.correlation import average_ranks, kendall_tau_b, spearman
from wannflax.genome import Genome
from wannflax.population_training import (
    population_metric,
    population_module,
    train_population,
)
from wannflax.problems import make_supervised
from wannflax.search import ArchitectureSearch, SearchConfig, initial_population

_NUM_GENOMES = flags.DEFINE_integer("num_genomes", 200, "Genomes in the study.")
_EPOCHS = flags.DEFINE_integer("epochs", 20, "Stage 2 epochs per genome.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of everything random.")
_POP = flags.DEFINE_integer("pop_size", 64, "Population of the WANN search.")
_GENERATIONS = flags.DEFINE_integer(
    "search_generations", 60, "Generations of the WANN search."
)
_SNAPSHOTS = flags.DEFINE_integer(
    "snapshots", 4, "Generations (evenly spaced) the evolved genomes come from."
)
_MAX_MUTATIONS = flags.DEFINE_integer(
    "max_mutations", 8, "Random genomes get 1..max_mutations random mutations."
)
_MAX_NODES = flags.DEFINE_integer("max_nodes", 96, "Node capacity.")
_MAX_CONNS = flags.DEFINE_integer("max_connections", 640, "Connection capacity.")
_PROXY_BATCH = flags.DEFINE_integer("proxy_batch_size", 64, "Proxy batch size.")
_OUTPUT = flags.DEFINE_string(
    "output", "proxy_correlation.json", "Where to write the JSON results."
)

# |Spearman rho| on NAS-Bench-201 CIFAR-10 (zero-cost proxy papers; AZ-NAS for
# its four-proxy combination). CNN cells, not WANN topologies.
PUBLISHED_RHO = {
    "grad_norm": 0.59,
    "snip": 0.60,
    "grasp": 0.51,
    "fisher": 0.36,
    "synflow": 0.74,
    "jacob_cov": 0.73,
    "az_log_rank(AZ-NAS four)": 0.91,
}

# Proxy combinations scored by az_log_rank, as the search would combine them.
COMBINATIONS = {
    "az_log_rank(synflow, snip, jacob_cov)": ("synflow", "snip", "jacob_cov"),
    "az_log_rank(synflow, jacob_cov)": ("synflow", "jacob_cov"),
    "az_log_rank(AZ-NAS four)": (
        "az_expressivity",
        "az_progressivity",
        "az_trainability",
        "complexity",
    ),
}


def search_config(pop_size: int) -> SearchConfig:
    """The digits search settings of the study (and of the experiment)."""
    return digits_search_config(
        pop_size=pop_size,
        max_nodes=_MAX_NODES.value,
        max_connections=_MAX_CONNS.value,
        seed=_SEED.value,
    )


def stack(genomes: list[Genome]) -> Genome:
    """One population from several (leading axes concatenated)."""
    return jax.tree.map(lambda *leaves: np.concatenate(leaves), *genomes)


def take(population: Genome, indices) -> Genome:
    return jax.tree.map(lambda leaf: np.asarray(leaf)[np.asarray(indices)], population)


def random_genomes(count: int, key) -> Genome:
    """Initial-population genomes, each after 1..max_mutations random mutations."""
    config = search_config(count)
    init_key, count_key, mutate_key = jax.random.split(key, 3)
    population = initial_population(init_key, config, 64, 10)
    rounds = _MAX_MUTATIONS.value
    counts = jax.random.randint(count_key, (count,), 1, rounds + 1)
    probabilities = jnp.asarray(config.mutation_probabilities())
    pool = mutation.pool_ids_for(config.activation_options)

    @jax.jit
    def mutate_round(population, round_index, key):
        result = jax.vmap(mutation.mutate, in_axes=(0, 0, None, None))(
            population, jax.random.split(key, count), probabilities, pool
        )
        keep = round_index < counts
        return jax.tree.map(
            lambda new, old: jnp.where(
                keep.reshape(keep.shape + (1,) * (new.ndim - 1)), new, old
            ),
            result.genome,
            population,
        )

    for index, round_key in enumerate(jax.random.split(mutate_key, rounds)):
        population = mutate_round(population, index, round_key)
    return jax.device_get(population)


def evolved_genomes(problem, count: int) -> tuple[Genome, np.ndarray, float]:
    """Genomes from a WANN search's populations at evenly spaced generations.

    Returns the genomes, the generation each came from, and the search's
    wall time.
    """
    search = ArchitectureSearch(problem, search_config(_POP.value))
    marks = np.linspace(0, _GENERATIONS.value, _SNAPSHOTS.value + 1)[1:].astype(int)
    rng = np.random.default_rng(_SEED.value)
    per_snapshot = -(-count // len(marks))
    chosen, origins, seen = [], [], set()
    start = time.perf_counter()
    done = 0
    for mark in marks:
        search.run(int(mark) - done, log_every=0)
        done = int(mark)
        population = jax.device_get(search.state.population)
        picked = 0
        for index in rng.permutation(_POP.value):
            genome = take(population, [index])
            fingerprint = b"".join(
                np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(genome)
            )
            if fingerprint in seen:
                continue
            seen.add(fingerprint)
            chosen.append(genome)
            origins.append(done)
            picked += 1
            if picked == per_snapshot:
                break
    seconds = time.perf_counter() - start
    keep = np.arange(len(chosen))[:count]
    return stack([chosen[i] for i in keep]), np.asarray(origins)[keep], seconds


def wann_fitness(population: Genome, problem, key) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the paper's shared weights of -CE (1000-sample batch) and of
    training accuracy (whole training set), per genome."""
    module = population_module(population)
    weights = jnp.asarray((-2.0, -1.0, -0.5, 0.5, 1.0, 2.0), jnp.float32)
    x_batch, y_batch = problem.sample_batch(key)

    def one(genome_arrays):
        variables = {"genome": genome_arrays}
        batch_out = module.apply(variables, x_batch, weights, method=module.sweep)
        fitness = jax.vmap(problem.fitness, in_axes=(0, None))(batch_out, y_batch)
        train_out = module.apply(
            variables, problem.x_train, weights, method=module.sweep
        )
        accuracy = jax.vmap(problem.accuracy, in_axes=(0, None))(
            train_out, problem.y_train
        )
        fitness = jnp.where(jnp.isfinite(fitness), fitness, -jnp.inf)
        return fitness.mean(), accuracy.mean()

    fitness, accuracy = jax.jit(lambda a: jax.lax.map(one, a, batch_size=25))(
        population.arrays()
    )
    return np.asarray(fitness, np.float64), np.asarray(accuracy, np.float64)


def normalised_ranks(values: np.ndarray) -> np.ndarray:
    return (average_ranks(values) - 1.0) / max(values.size - 1, 1)


def az_log_rank(scores: list[np.ndarray]) -> np.ndarray:
    """sum ln(rank / n), the aggregation the search uses by default."""
    return np.sum([np.log(average_ranks(s) / s.size) for s in scores], axis=0)


def correlations(signal, accuracy, fitness, halves, origins) -> dict:
    """The table row of one signal."""
    signal = np.where(np.isnan(signal), -np.inf, signal)
    hybrid = 0.5 * normalised_ranks(fitness) + 0.5 * normalised_ranks(signal)
    evolved = halves == "evolved"
    within = [
        spearman(signal[origins == g], accuracy[origins == g])
        for g in np.unique(origins[evolved])
    ]
    return {
        "spearman": spearman(signal, accuracy),
        "kendall_tau_b": kendall_tau_b(signal, accuracy),
        "spearman_random": spearman(signal[~evolved], accuracy[~evolved]),
        "spearman_evolved": spearman(signal[evolved], accuracy[evolved]),
        "spearman_within_generation": float(np.nanmean(within)),
        "hybrid_spearman": spearman(hybrid, accuracy),
        "hybrid_spearman_evolved": spearman(hybrid[evolved], accuracy[evolved]),
        "undefined": int(np.sum(~np.isfinite(signal))),
    }


def markdown(rows: dict) -> str:
    header = (
        "| signal | rho | tau-b | rho random | rho evolved | rho within gen. "
        "| hybrid rho | hybrid rho evolved | undefined | NB201 abs(rho) |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )
    lines = []
    for name, row in rows.items():
        published = PUBLISHED_RHO.get(name)
        cells = [
            f"{row[k]:+.3f}"
            for k in (
                "spearman",
                "kendall_tau_b",
                "spearman_random",
                "spearman_evolved",
                "spearman_within_generation",
                "hybrid_spearman",
                "hybrid_spearman_evolved",
            )
        ]
        lines.append(
            f"| {name} | {' | '.join(cells)} | {row['undefined']} | "
            f"{'' if published is None else f'{published:.2f}'} |"
        )
    return header + "\n".join(lines)


def main(_):
    started = time.perf_counter()
    problem = make_supervised("digits", batch_size=1000)
    key = jax.random.PRNGKey(_SEED.value)
    random_key, fitness_key, proxy_key, batch_key = jax.random.split(key, 4)
    num_random = _NUM_GENOMES.value // 2
    num_evolved = _NUM_GENOMES.value - num_random

    random_part = random_genomes(num_random, random_key)
    evolved_part, evolved_origin, search_seconds = evolved_genomes(problem, num_evolved)
    population = stack([random_part, evolved_part])
    count = int(population.conn_valid.shape[0])
    halves = np.array(["random"] * num_random + ["evolved"] * (count - num_random))
    origins = np.concatenate([np.zeros(num_random, int), evolved_origin])

    timings = {"search": search_seconds}
    logging.info("%d genomes drawn; search %.1f s", count, search_seconds)
    start = time.perf_counter()
    fitness, fitness_accuracy = wann_fitness(population, problem, fitness_key)
    timings["wann_fitness"] = time.perf_counter() - start

    start = time.perf_counter()
    x, y = problem.sample_batch(batch_key)
    x, y = x[: _PROXY_BATCH.value], y[: _PROXY_BATCH.value]
    module = population_module(population)
    variables = proxies.population_variables(population, 1.0)
    names = proxies.PROXIES.names()
    scores = {}
    for name in names:
        start_proxy = time.perf_counter()
        score = proxies.compute_population(name, module, variables, x, y, proxy_key)
        scores[name] = np.asarray(score[name], np.float64)
        timings[f"proxy {name}"] = time.perf_counter() - start_proxy
        logging.info("proxy %s: %.1f s", name, timings[f"proxy {name}"])
    timings["proxies"] = time.perf_counter() - start

    start = time.perf_counter()
    settings = digits_trainer_config(_SEED.value)
    accuracy = np.zeros(count)
    # Shallow genomes train in their own program so the deepest genome's
    # step count is paid only by its depth group.
    layer_counts = np.asarray(jax.jit(jax.vmap(graph.num_layers))(population))
    groups = np.digitize(layer_counts, [3, 9])
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        part = take(population, members)
        trained_module, conn_weights, _ = train_population(
            part, problem, settings, _EPOCHS.value
        )
        accuracy[members] = np.asarray(
            population_metric(
                trained_module,
                part,
                conn_weights,
                problem,
                problem.x_test,
                problem.y_test,
            )
        )
    timings["training"] = time.perf_counter() - start
    logging.info("training: %.1f s", timings["training"])

    rows = {
        "WANN fitness (mean -CE over 6 weights)": correlations(
            fitness, accuracy, fitness, halves, origins
        ),
        "WANN mean accuracy over 6 weights": correlations(
            fitness_accuracy, accuracy, fitness, halves, origins
        ),
    }
    for name in names:
        rows[name] = correlations(scores[name], accuracy, fitness, halves, origins)
    for label, members in COMBINATIONS.items():
        combined = az_log_rank([scores[m] for m in members])
        rows[label] = correlations(combined, accuracy, fitness, halves, origins)

    timings["total"] = time.perf_counter() - started
    result = {
        "settings": {
            "num_genomes": count,
            "num_random": num_random,
            "epochs": _EPOCHS.value,
            "seed": _SEED.value,
            "search_pop_size": _POP.value,
            "search_generations": _GENERATIONS.value,
            "evolved_generations": sorted({int(g) for g in evolved_origin}),
            "max_nodes": _MAX_NODES.value,
            "max_connections": _MAX_CONNS.value,
            "proxy_batch_size": _PROXY_BATCH.value,
            "stage2": "shared weight tuned, adamw lr 0.01 wd 0.001 batch 64",
            "machine": platform.node(),
            "devices": [str(d) for d in jax.devices()],
        },
        "test_accuracy": {
            "mean_random": float(accuracy[halves == "random"].mean()),
            "mean_evolved": float(accuracy[halves == "evolved"].mean()),
            "min": float(accuracy.min()),
            "max": float(accuracy.max()),
        },
        "mean_connections": {
            half: float(
                np.asarray(population.conn_valid & population.conn_enabled)[
                    halves == half
                ]
                .sum(axis=1)
                .mean()
            )
            for half in ("random", "evolved")
        },
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "correlations": rows,
    }
    with open(_OUTPUT.value, "w") as file:
        json.dump(result, file, indent=2)
    print(markdown(rows))
    print(
        json.dumps({k: v for k, v in result.items() if k != "correlations"}, indent=2)
    )


if __name__ == "__main__":
    app.run(main)
