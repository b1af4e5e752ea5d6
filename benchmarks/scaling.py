"""Time per generation on 1 and 2 devices, and the parallel efficiency.

python benchmarks/scaling.py
python benchmarks/scaling.py --devices=1,2,4 --pop_size=256 --generations=10

Each device count runs in its own process (XLA reads the host device count
once, at start-up): on a CPU the devices are
``--xla_force_host_platform_device_count`` slices of the same cores, so two
devices on a 2-core machine measure how well the population splits over the
two real cores. The population is sharded over every device
(``wannflax.sharding.make_mesh()``); one device runs the unsharded path.
Efficiency = (time on 1 device / time on n devices) / n.
"""

import json
import os
import subprocess
import sys

from absl import app, flags

_DEVICES = flags.DEFINE_list("devices", ["1", "2"], "Device counts to time.")
_POP = flags.DEFINE_integer("pop_size", 256, "Population size.")
_BATCH = flags.DEFINE_integer("batch_size", 1000, "Samples per generation.")
_GENERATIONS = flags.DEFINE_integer("generations", 10, "Timed generations.")
_WARMUP = flags.DEFINE_integer(
    "warmup_generations", 20, "Untimed generations first (genomes grow)."
)
_JSON = flags.DEFINE_string("json", "", "Write the table here as JSON.")

_WORKER = r"""
import json, sys, time
import jax
from wannflax import sharding
from wannflax.problems import make_supervised
from wannflax.search import ArchitectureSearch, SearchConfig

pop, batch, generations, warmup = map(int, sys.argv[1:5])
problem = make_supervised("digits", batch_size=batch)
config = SearchConfig(pop_size=pop, max_nodes=128, max_connections=768,
                      prob_init_enable=0.5, output_activation="abs",
                      tournament_size=32)
mesh = sharding.make_mesh() if jax.device_count() > 1 else None
search = ArchitectureSearch(problem, config, mesh=mesh)
start = time.perf_counter()
search.step()
compile_seconds = time.perf_counter() - start
search.run(warmup, log_every=0)
start = time.perf_counter()
search.run(generations, log_every=0)
seconds = (time.perf_counter() - start) / generations
print(json.dumps({"devices": jax.device_count(), "seconds_per_generation": seconds,
                  "first_generation_seconds": compile_seconds,
                  "champion_connections": search.history[-1]["champion_connections"]}))
"""


def _time(devices: int) -> dict:
    environment = dict(os.environ)
    environment["XLA_FLAGS"] = (
        environment.get("XLA_FLAGS", "")
        + f" --xla_force_host_platform_device_count={devices}"
    )
    arguments = [_POP.value, _BATCH.value, _GENERATIONS.value, _WARMUP.value]
    result = subprocess.run(
        [sys.executable, "-c", _WORKER, *map(str, arguments)],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(_):
    rows = [_time(int(count)) for count in _DEVICES.value]
    base = rows[0]["seconds_per_generation"] * rows[0]["devices"]
    print(f"{'devices':>8} {'s/generation':>13} {'speed-up':>9} {'efficiency':>11}")
    for row in rows:
        speedup = base / row["seconds_per_generation"]
        row["speedup"] = speedup
        row["efficiency"] = speedup / row["devices"]
        print(
            f"{row['devices']:>8} {row['seconds_per_generation']:>13.3f} "
            f"{speedup:>9.2f} {row['efficiency']:>11.2f}"
        )
    payload = {
        "pop_size": _POP.value,
        "batch_size": _BATCH.value,
        "generations": _GENERATIONS.value,
        "warmup_generations": _WARMUP.value,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "rows": rows,
    }
    print(json.dumps(payload, indent=2))
    if _JSON.value:
        with open(_JSON.value, "w") as handle:
            json.dump(payload, handle, indent=2)


if __name__ == "__main__":
    app.run(main)
