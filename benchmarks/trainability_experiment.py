"""Plain WANN champion vs trainability-aware champion, after equal Stage 2 training.

python benchmarks/trainability_experiment.py --seeds=0,1,2 --generations=100 \
    --strategies=hybrid,pareto --proxies=synflow --proxy_mix=0.5

On digits, for each seed, searches with the same settings, population,
generation count and seed: one ranks as the WANN paper does
(``proxy_strategy="none"``), each other one folds zero-cost proxies into the
ranking by one of ``--strategies``. Each search's champion (best mean fitness
over the shared weights ever seen) is then trained by the same WeightTrainer
settings and scored on the held-out test split. Prints a markdown table, the
paired differences to the plain WANN champion, and writes JSON to
``--output``.
"""

from __future__ import annotations

import json
import time

import jax
import numpy as np
from absl import app, flags
from common import digits_search_config, digits_trainer_config

from wannflax.module import compile as compile_genome
from wannflax.problems import make_supervised
from wannflax.search import ArchitectureSearch, SearchConfig
from wannflax.training import WeightTrainer, WeightTrainerConfig, tune_shared_weight

_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds, one pair of runs each.")
_POP = flags.DEFINE_integer("pop_size", 64, "Population size of both searches.")
_GENERATIONS = flags.DEFINE_integer("generations", 100, "Generations per search.")
_MAX_NODES = flags.DEFINE_integer("max_nodes", 96, "Node capacity.")
_MAX_CONNS = flags.DEFINE_integer("max_connections", 640, "Connection capacity.")
_BATCH = flags.DEFINE_integer("batch_size", 1000, "Samples per generation.")
_STRATEGIES = flags.DEFINE_list(
    "strategies", ["hybrid"], "Proxy strategies, one search arm each."
)
_PROXIES = flags.DEFINE_list("proxies", ["synflow"], "Proxies they use.")
_MIX = flags.DEFINE_float("proxy_mix", 0.5, "Hybrid / sequential proxy weight.")
_TOP = flags.DEFINE_float("proxy_top_fraction", 0.25, "Sequential top share.")
_AGGREGATION = flags.DEFINE_string(
    "proxy_aggregation", "az_log_rank", "How the proxies combine."
)
_EPOCHS = flags.DEFINE_integer("epochs", 100, "Stage 2 epochs per champion.")
_OUTPUT = flags.DEFINE_string(
    "output", "trainability_experiment.json", "Where to write the JSON results."
)


def search_config(seed: int, **proxy_settings) -> SearchConfig:
    """Both arms' search settings; only the proxy fields differ."""
    return digits_search_config(
        pop_size=_POP.value,
        max_nodes=_MAX_NODES.value,
        max_connections=_MAX_CONNS.value,
        seed=seed,
        **proxy_settings,
    )


def test_accuracy_untrained(champion, problem) -> float:
    """Test accuracy at the shared weight tuned on the training set."""
    weight, _ = tune_shared_weight(champion, problem, WeightTrainerConfig().tuning_grid)
    module, variables = compile_genome(champion, weight)
    outputs = module.apply(variables, problem.x_test)
    return float(problem.metric(outputs, problem.y_test))


def run_arm(problem, seed: int, proxy_settings: dict) -> dict:
    """One search and the Stage 2 training of its champion."""
    search = ArchitectureSearch(problem, search_config(seed, **proxy_settings))
    start = time.perf_counter()
    champion = search.run(_GENERATIONS.value, log_every=0)
    search_seconds = time.perf_counter() - start
    last = search.history[-1]

    start = time.perf_counter()
    settings = digits_trainer_config(seed)
    trainer = WeightTrainer(champion, problem, settings).fit(_EPOCHS.value, log_every=0)
    outputs = trainer.get_network()(problem.x_test)
    trained = float(problem.metric(outputs, problem.y_test))
    return {
        "champion_mean_fitness": last["champion_mean"],
        "champion_connections": int(last["champion_connections"]),
        "champion_hidden": int(last["champion_hidden"]),
        "test_accuracy_shared_weight": test_accuracy_untrained(champion, problem),
        "test_accuracy_trained": trained,
        "search_seconds": round(search_seconds, 1),
        "train_seconds": round(time.perf_counter() - start, 1),
        "traces": search.trace_count,
        "proxy_metrics": {k: v for k, v in last.items() if "proxy" in k},
    }


def markdown(rows: list[dict]) -> str:
    lines = [
        "| seed | arm | champion mean fitness | connections | hidden "
        "| test acc. shared w | test acc. trained | search s |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['seed']} | {row['arm']} | {row['champion_mean_fitness']:.4f} | "
            f"{row['champion_connections']} | {row['champion_hidden']} | "
            f"{row['test_accuracy_shared_weight']:.4f} | "
            f"{row['test_accuracy_trained']:.4f} | {row['search_seconds']} |"
        )
    for arm in dict.fromkeys(row["arm"] for row in rows):
        trained = np.array(
            [r["test_accuracy_trained"] for r in rows if r["arm"] == arm]
        )
        shared = np.array(
            [r["test_accuracy_shared_weight"] for r in rows if r["arm"] == arm]
        )
        lines.append(
            f"| mean ± sd | {arm} | | | | {shared.mean():.4f} ± {shared.std(ddof=1):.4f}"
            f" | {trained.mean():.4f} ± {trained.std(ddof=1):.4f} | |"
        )
    return "\n".join(lines)


def main(_):
    problem = make_supervised("digits", batch_size=_BATCH.value)
    aware = {
        "proxies": tuple(_PROXIES.value),
        "proxy_mix": _MIX.value,
        "proxy_top_fraction": _TOP.value,
        "proxy_aggregation": _AGGREGATION.value,
    }
    arms = {"plain WANN": {}}
    for strategy in _STRATEGIES.value:
        label = f"{strategy}({','.join(_PROXIES.value)})"
        arms[label] = {"proxy_strategy": strategy, **aware}
    rows = []
    for seed in (int(s) for s in _SEEDS.value):
        for arm, settings in arms.items():
            result = run_arm(problem, seed, settings)
            rows.append({"seed": seed, "arm": arm, **result})
            print(json.dumps(rows[-1]), flush=True)

    def trained(arm):
        return np.array([r["test_accuracy_trained"] for r in rows if r["arm"] == arm])

    plain = trained("plain WANN")
    summary = {}
    for arm in list(arms)[1:]:
        difference = trained(arm) - plain
        summary[arm] = {
            "paired_difference_trained_mean": float(np.mean(difference)),
            "paired_difference_trained_sd": float(np.std(difference, ddof=1))
            if len(plain) > 1
            else 0.0,
            "seeds_better_than_plain": int(np.sum(difference > 0)),
            "seeds_worse_than_plain": int(np.sum(difference < 0)),
            "seeds": len(plain),
        }
    settings = {
        "pop_size": _POP.value,
        "generations": _GENERATIONS.value,
        "max_nodes": _MAX_NODES.value,
        "max_connections": _MAX_CONNS.value,
        "batch_size": _BATCH.value,
        "aware": {"strategies": list(_STRATEGIES.value), **aware},
        "stage2": f"shared weight tuned, adamw lr 0.01 wd 0.001 batch 64, "
        f"{_EPOCHS.value} epochs",
        "devices": [str(d) for d in jax.devices()],
    }
    with open(_OUTPUT.value, "w") as file:
        json.dump(
            {"settings": settings, "runs": rows, "summary": summary}, file, indent=2
        )
    print(markdown(rows))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    app.run(main)
