"""What every field of the experiment configs (``configs/*.py``) means.

This table is the one source of the configs reference: ``python -m
wannflax.docs`` renders it, with each field's type, defaults and the values
the bundled configs give it, into ``docs/configs.md``, and
``tests/test_docs.py`` checks that it names every field some config has and
no field that none has. Where a field names registered components, the
entry points at the registry (``choices``) and the generator lists its names
as registered when it runs, so the reference never falls behind a registry.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class FieldDoc:
    """The documentation of one config field.

    Attributes:
      group: the heading it is listed under (a key of ``GROUPS``).
      meaning: what the field controls, its units and valid range (Markdown).
      choices: where the valid names live, as ``"module:attribute"`` paths
        of registries, tuples or mappings read at generation time; empty
        when the field is not a name.
      type: the value's type when the configs' values alone would mislead
        (an empty list, a field that also takes another type); empty: the
        type of the values in the configs.
    """

    group: str
    meaning: str
    choices: tuple[str, ...] = ()
    type: str = ""


# Headings of the reference, in order: (title, a sentence of introduction).
GROUPS = {
    "run": ("Run", "Seed, problem kind, logging, checkpoints and pictures."),
    "devices": ("Devices", "How the population is split over devices and hosts."),
    "supervised": (
        'Supervised problems (`problem = "supervised"`)',
        "The data set, the loss and the batch every genome is scored on.",
    ),
    "control": (
        'Control problems (`problem = "rl"`)',
        "The environment and its episodes.",
    ),
    "search": (
        "Stage 1: architecture search (`config.search`)",
        "Every field but `generations` is a field of `wannflax.SearchConfig`.",
    ),
    "train": (
        "Stage 2: weight training (`config.train`)",
        "Fields of `wannflax.WeightTrainerConfig` for supervised problems and of "
        "`wannflax.ESTrainerConfig` for control, plus the step count and the "
        "checkpoint cadence.",
    ),
}

FIELDS: dict[str, FieldDoc] = {
    # -- run ---------------------------------------------------------------
    "seed": FieldDoc(
        "run",
        "PRNG seed of the whole run: the initial population, mutations, "
        "selection and each generation's batch or episodes in Stage 1 (unless "
        "`config.search.seed` is set); in Stage 2 the batch order, or for control "
        "the tuning episodes and ES sampling (unless `config.train.seed` is "
        "set). Control "
        "runs draw their test episodes from `seed + 1`. The train/test split of "
        "a bundled data set has its own seed (a dataset argument, e.g. "
        '`"digits(seed=1)"`). Any integer; the same seed and config give the '
        "same run.",
    ),
    "problem": FieldDoc(
        "run",
        'The kind of task. `"rl"` is a control task: the network is a policy '
        "scored by episode returns (see the control fields) and Stage 2 is an "
        "evolution strategy. Any other value names a registered problem "
        "builder, called with the dataset, loss and batch size; Stage 2 is "
        "then gradient training with an optax optimizer.",
        choices=("wannflax.problems:PROBLEMS",),
    ),
    "log_every": FieldDoc(
        "run",
        "Generations between absl log lines of the search (the line shows best "
        "mean and max fitness, the champion's size and generations per second); "
        "the last generation always logs; 0 never logs. Ignored while a "
        "progress bar is drawn (`progress`), which shows every generation.",
    ),
    "log_every_epochs": FieldDoc(
        "run",
        "Stage 2 steps (epochs, or ES generations for control) between absl "
        "log lines; the last step always logs; 0 never logs. Ignored under a "
        "progress bar.",
    ),
    "checkpoint_every": FieldDoc(
        "run",
        "Search generations between orbax checkpoints under "
        "`<workdir>/checkpoints/search` (population, key, generation counter, "
        "champion, history); the last generation is always saved; 0 saves only "
        "at the end. A relaunched run resumes from the latest checkpoint.",
    ),
    "progress": FieldDoc(
        "run",
        'How a run shows its progress: `"auto"` draws a progress bar per stage '
        'when stderr is a terminal and writes log lines otherwise; `"bar"` and '
        '`"log"` force one.',
        choices=("wannflax.progress:PROGRESS_MODES",),
    ),
    "tensorboard": FieldDoc(
        "run",
        "When True, one TensorBoard scalar per metric and generation / epoch "
        "under `<workdir>/tensorboard/search` and `.../train` (written by "
        "process 0 only).",
    ),
    "plots": FieldDoc(
        "run",
        "When True, the run draws `network.png`, `search.png`, `report.png` and "
        "`training.png` into the workdir after `report.json`; a picture that "
        "fails is logged as a warning.",
    ),
    # -- devices -------------------------------------------------------------
    "mesh": FieldDoc(
        "devices",
        'The device mesh. `"auto"`: with more than one device, every device on '
        "the population axis; with one device, no mesh (the plain program). "
        'Otherwise axis sizes as `"population=4,data=2"`, one of them may be '
        "-1 (the devices the others leave); the product must equal the device "
        "count.",
        choices=("wannflax.sharding:MESH_AXES",),
    ),
    "pad_population": FieldDoc(
        "devices",
        "What happens when `search.pop_size` (or, for control, "
        "`train.population_size`) does not split evenly over the population "
        "axis: False refuses it, naming the nearest valid sizes; True rounds it "
        "up to the next multiple.",
    ),
    "distributed": FieldDoc(
        "devices",
        "Whether to join a multi-host run (`jax.distributed.initialize`) before "
        'any other JAX call: `"auto"` joins when `JAX_COORDINATOR_ADDRESS` or '
        "`COORDINATOR_ADDRESS` is set; True always (coordinator, process count "
        "and id from `JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES`, "
        "`JAX_PROCESS_ID`, else detected from SLURM, Open MPI or Cloud TPU); "
        "False never. A command-line override keeps the field a string, so "
        '`--config.distributed=True` arrives as `"True"`: the strings `"true"` '
        'and `"false"`, in any case, mean True and False; any other value is '
        "refused before any work.",
        type="str | bool",
    ),
    # -- supervised ------------------------------------------------------------
    "dataset": FieldDoc(
        "supervised",
        "The data set, a registered name or a spec with keyword arguments, "
        'e.g. `"digits(test_fraction=0.3, seed=1)"` or '
        "`\"mnist(path='/data/mnist', size=16)\"` (MNIST is read from local "
        "files, never downloaded). The test split, when the data set has one, "
        "is what `report.json` is measured on.",
        choices=("wannflax.datasets:DATASETS",),
    ),
    "loss": FieldDoc(
        "supervised",
        "The per-sample loss; a genome's fitness is minus its mean loss on the "
        "generation's batch, and Stage 2 minimises it. `cross_entropy` takes "
        "integer class labels (metric: accuracy), `binary_cross_entropy` 0/1 "
        "targets (accuracy), `mse` real targets (mean squared error).",
        choices=("wannflax.problems:LOSSES",),
    ),
    "batch_size": FieldDoc(
        "supervised",
        "Training samples drawn (without replacement) for each search "
        "generation; every genome and shared weight of that generation is "
        "scored on the same batch. Capped at the training set size; a positive "
        "integer. Stage 2 has its own `train.batch_size`.",
    ),
    # -- control -------------------------------------------------------------
    "environment": FieldDoc(
        "control",
        'The environment: `"swingup"` (the paper\'s cart-pole swing-up in '
        'JAX), a brax environment as `"brax/<name>"`, or any gymnax id '
        "(observations flattened).",
        choices=("wannflax.problems:ENVIRONMENTS", "gymnax:registered_envs"),
    ),
    "episodes": FieldDoc(
        "control",
        "Episodes per fitness evaluation in both stages: a genome's fitness "
        "under one shared weight (and an ES candidate's) is its mean return "
        "over this many episodes; all genomes and weights of a generation play "
        "the same episode seeds. A positive integer.",
    ),
    "test_episodes": FieldDoc(
        "control",
        "Episodes per row of the final return table in `report.json` (each "
        "shared weight, a random weight, the tuned weight, the trained "
        "weights), seeded from `seed + 1`.",
    ),
    "action_mapping": FieldDoc(
        "control",
        'How network outputs become actions. `"auto"`: argmax over one output '
        "per action for discrete spaces, outputs clipped to the bounds for "
        'continuous ones. Otherwise one the space takes: `"sample"` (an action '
        "drawn from the softmax of the outputs) for discrete spaces, "
        '`"tanh"` (tanh of the outputs stretched onto the bounds) for '
        "continuous ones.",
        choices=("wannflax.problems:ACTION_MAPPINGS",),
    ),
    "max_steps": FieldDoc(
        "control",
        "Steps per episode (time steps of the environment): an episode ends at "
        "its first `done` or after this many steps. Unset, brax uses 1000, the "
        "swing-up the paper's 1000 and gymnax the environment's own limit. A "
        "positive integer.",
    ),
    "backend": FieldDoc(
        "control",
        "The brax physics pipeline (brax environments only; the swing-up and "
        "gymnax environments take no backend: a run that sets one fails before "
        "any work).",
        choices=("wannflax.problems.brax_env:BACKENDS",),
    ),
    # -- search ----------------------------------------------------------------
    "search.generations": FieldDoc(
        "search",
        "Generations of the architecture search (at least 1). A resumed run "
        "runs the ones its checkpoint lacks.",
    ),
    "search.pop_size": FieldDoc(
        "search",
        "Genomes per generation (at least 2). With several devices it must be "
        "a multiple of the population axis (see `pad_population`).",
    ),
    "search.max_nodes": FieldDoc(
        "search",
        "Node capacity of every genome: bias, inputs, outputs and hidden nodes "
        "together. At least `1 + inputs + outputs`; the rest is room for hidden "
        "nodes (an add-node mutation that finds no free slot is skipped and "
        "counted). Memory and time grow with it.",
    ),
    "search.max_connections": FieldDoc(
        "search",
        "Connection capacity of every genome (slots, enabled or not). Must hold "
        "at least 1.5 times the connections the initial population expects "
        "(`prob_init_enable * (inputs + 1) * outputs`) and at least 4.",
    ),
    "search.activation_options": FieldDoc(
        "search",
        "The activations a new hidden node, or a change-activation mutation, "
        "draws from (non-empty list of registered names; list-valued: set it in "
        "a config file).",
        choices=("wannflax.activations:ACTIVATIONS",),
    ),
    "search.weight_values": FieldDoc(
        "search",
        "The shared weights every genome is evaluated under; its fitness is "
        "the mean (and max) over them. Non-empty list of finite numbers "
        "(list-valued: set it in a config file); the report also scores the "
        "champion at each of them.",
        type="list[float]",
    ),
    "search.prob_init_enable": FieldDoc(
        "search",
        "Probability, in [0, 1], that each bias/input -> output connection is "
        "present in a genome of the initial population (which has no hidden "
        "nodes).",
    ),
    "search.prob_add_connection": FieldDoc(
        "search",
        "Roulette weight of the add-connection mutation (a node linked to one "
        "in a later layer). The four `prob_*` mutation weights are normalised "
        "by their sum; each must be finite and non-negative, their sum "
        "positive.",
    ),
    "search.prob_add_node": FieldDoc(
        "search",
        "Roulette weight of the add-node mutation (an enabled connection split "
        "by a new hidden node with an activation from `activation_options`).",
    ),
    "search.prob_enable": FieldDoc(
        "search",
        "Roulette weight of the enable mutation (a disabled connection re-enabled).",
    ),
    "search.prob_change_activation": FieldDoc(
        "search",
        "Roulette weight of the change-activation mutation (a hidden node given "
        "another activation from `activation_options`).",
    ),
    "search.mutations_per_child": FieldDoc(
        "search",
        "Structural mutations applied to each child, one after another (the "
        "paper: 1); at least 1.",
    ),
    "search.cull_ratio": FieldDoc(
        "search",
        "Fraction, in [0, 1], of the worst-ranked genomes that cannot be "
        "tournament contestants (floor of `pop_size * cull_ratio`).",
    ),
    "search.elite_ratio": FieldDoc(
        "search",
        "Fraction, in [0, 1], of the best-ranked genomes copied unchanged into "
        "the next generation (floor of `pop_size * elite_ratio`); the rest are "
        "mutated tournament winners. Elites plus culled must stay below "
        "`pop_size`.",
    ),
    "search.tournament_size": FieldDoc(
        "search",
        "Contestants per tournament: each child's parent is the best-ranked of "
        "this many genomes drawn at random from the genomes not culled; at least 1. "
        "Larger is greedier.",
    ),
    "search.prob_mean_connections": FieldDoc(
        "search",
        "Probability, in [0, 1], that a generation is ranked on (mean fitness, "
        "1 / connections) rather than (mean fitness, max fitness) over the "
        "shared weights; drawn anew each generation. The paper uses 0.8; 0 "
        "always ranks on (mean, max).",
    ),
    "search.ranking": FieldDoc(
        "search",
        "How the objectives order the population: `nsga2` sorts into "
        "non-dominated fronts, then by crowding distance (Deb et al., 2002); "
        "`mean` ranks on the first objective (mean fitness) alone.",
        choices=("wannflax.ranking:RANKINGS",),
    ),
    "search.evaluation": FieldDoc(
        "search",
        "The population forward pass; every strategy gives the same outputs up "
        'to float32 rounding, only speed and memory differ. `"auto"` takes the '
        "one `wannflax.evaluation.auto_strategy` picks for the capacity.",
        choices=("wannflax.evaluation:EVALUATIONS",),
    ),
    "search.population_chunk": FieldDoc(
        "search",
        "Genomes evaluated per `lax.map` step: a positive count, 0 for the "
        "whole population at once, or -1 for the largest chunk whose node "
        "values fit a cache-sized budget (`wannflax.evaluation.auto_chunk_size`)"
        ". Affects speed and memory only.",
    ),
    "search.output_activation": FieldDoc(
        "search",
        "Activation of the output nodes, never mutated. The WANN release keeps "
        "outputs `linear`; `abs` makes a network and its sign flip under "
        "`w -> -w` score alike (see the comment in `configs/default.py`).",
        choices=("wannflax.activations:ACTIVATIONS",),
    ),
    "search.proxy_strategy": FieldDoc(
        "search",
        "How zero-cost proxies enter the ranking (`wannflax.trainability`): "
        "`none` leaves the WANN ranking as it is and computes no proxy; "
        "`hybrid` mixes the normalised ranks of mean fitness and of the "
        "aggregated proxy score (weight `proxy_mix`); `sequential` lets the "
        "proxies reorder only the top `proxy_top_fraction` by mean fitness; "
        "`pareto` adds the proxy score as a third NSGA-II objective. Anything "
        "but `none` needs a supervised problem.",
        choices=("wannflax.trainability:STRATEGIES",),
    ),
    "search.proxies": FieldDoc(
        "search",
        "The proxies the strategy scores every genome with (non-empty list of "
        "distinct registered names; list-valued: set it in a config file). "
        "`snip`, `grasp`, `fisher`, `grad_norm` and `plain` need integer class "
        "labels.",
        choices=("wannflax.proxies:PROXIES",),
    ),
    "search.proxy_weights": FieldDoc(
        "search",
        "Weight of each proxy in the aggregation, in the order of `proxies`: "
        "empty for equal weights, else one finite, non-negative number per "
        "proxy, not all zero (list-valued: set it in a config file).",
        type="list[float]",
    ),
    "search.proxy_aggregation": FieldDoc(
        "search",
        "How the proxies' scores combine into one (rank based, so proxies on "
        "unrelated scales combine).",
        choices=("wannflax.proxies:AGGREGATIONS",),
    ),
    "search.proxy_mix": FieldDoc(
        "search",
        "For `hybrid` and `sequential`: weight, in [0, 1], of the proxy rank "
        "against the mean-fitness rank. Under `hybrid`, 0 computes and logs the "
        "proxies but ranks exactly as `none` (a control run).",
    ),
    "search.proxy_top_fraction": FieldDoc(
        "search",
        "For `sequential`: the share, in (0, 1], of the population (best mean "
        "fitness first) that the proxies score and reorder.",
    ),
    "search.proxy_batch_size": FieldDoc(
        "search",
        "Samples the proxies see: the first this many of the generation's "
        "batch, so at most `batch_size`; a positive integer.",
    ),
    # -- train ---------------------------------------------------------------
    "train.optimizer": FieldDoc(
        "train",
        "Supervised Stage 2: the optax optimizer that trains the individual "
        "connection weights, a registered name (optimizers without a "
        "`weight_decay` argument get decoupled decay chained in front). A control "
        "config may set it too: the mean-update optimizer of the strategies "
        "that take one (see the fields no bundled config sets).",
        choices=("wannflax.optimizers:OPTIMIZERS",),
    ),
    "train.learning_rate": FieldDoc(
        "train",
        "Supervised Stage 2: the optimizer's step size; positive and finite. "
        "For control, that of the ES mean-update optimizer.",
    ),
    "train.weight_decay": FieldDoc(
        "train",
        "Supervised Stage 2: decoupled weight decay; non-negative and finite, "
        "0 for none.",
    ),
    "train.batch_size": FieldDoc(
        "train",
        "Supervised Stage 2: samples per optimizer update (capped at the "
        "training set size); at least 1.",
    ),
    "train.epochs": FieldDoc(
        "train",
        "Supervised Stage 2: passes over the training set (0 keeps the tuned "
        "shared weight everywhere).",
    ),
    "train.checkpoint_every": FieldDoc(
        "train",
        "Stage 2 steps (epochs, or ES generations for control) between orbax "
        "checkpoints under `<workdir>/checkpoints/train`; the last step is "
        "always saved; 0 saves only at the end.",
    ),
    "train.strategy": FieldDoc(
        "train",
        "Control Stage 2: the evosax evolution strategy that searches the "
        "per-connection weights, starting from the tuned shared weight and "
        "keeping the best return ever seen.",
        choices=("wannflax.es_training:STRATEGIES",),
    ),
    "train.population_size": FieldDoc(
        "train",
        "Control Stage 2: candidate weight vectors per ES generation, each "
        "scored over `episodes` episodes; at least 2 and even for OpenES and "
        "PGPE (antithetic pairs). With several devices a multiple of the "
        "population axis.",
    ),
    "train.generations": FieldDoc(
        "train",
        "Control Stage 2: ES generations (0 keeps the tuned shared weight everywhere).",
    ),
}
