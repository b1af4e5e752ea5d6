"""Stage 2 by evolution strategies: ESTrainer on a short swing-up."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from evosax.algorithms.distribution_based import open_es
from flax import struct

from wannflax import Genome, UnknownNameError, compile
from wannflax.checkpoint import Checkpointer
from wannflax.es_training import STRATEGIES, ESTrainer, ESTrainerConfig
from wannflax.problems import swingup

# Five searched connections, one disabled connection and two padding slots.
GENOME = Genome.from_edges(
    5,
    1,
    [(1, 6), (3, 6), (4, 7), (5, 7), (7, 6), (2, 7, False)],
    activations={6: "tanh", 7: "tanh"},
    max_conns=8,
)
FIVE = ("OpenES", "CMA_ES", "SNES", "PGPE", "SimpleGA")


def _problem():
    return swingup.SwingUpProblem(
        episodes=1, params=swingup.SwingUpParams(max_steps=50)
    )


def _config(**overrides):
    settings = dict(population_size=8, shared_weight=0.5, sigma=0.2, seed=3)
    settings.update(overrides)
    return ESTrainerConfig(**settings)


def test_registry_has_the_five_strategies():
    for name in FIVE:
        assert name in STRATEGIES


def test_unknown_strategy_lists_the_choices():
    with pytest.raises(UnknownNameError, match="Unknown strategy 'OpenESS'.*CMA_ES"):
        ESTrainerConfig(strategy="OpenESS").validate()


@pytest.mark.parametrize(
    "field,value",
    [
        ("population_size", 1),
        ("population_size", 2.5),
        ("sigma", 0.0),
        ("sigma", float("nan")),
        ("learning_rate", -0.1),
        ("learning_rate", float("inf")),
        ("shared_weight", float("nan")),
        ("tuning_grid", [0.5, float("inf")]),
        ("seed", 1.5),
        ("strategy_kwargs", None),
    ],
)
def test_bad_config_values_are_named(field, value):
    with pytest.raises(ValueError, match=f"ESTrainerConfig.{field}"):
        ESTrainerConfig(**{field: value}).validate()


def test_antithetic_strategies_need_an_even_population():
    for name in ("OpenES", "PGPE"):
        with pytest.raises(ValueError, match="population_size must be even"):
            ESTrainerConfig(strategy=name, population_size=7).validate()
    ESTrainerConfig(strategy="CMA_ES", population_size=7).validate()


def test_empty_grid_without_a_shared_weight_is_refused():
    with pytest.raises(ValueError, match="tuning_grid is empty"):
        ESTrainerConfig(tuning_grid=[]).validate()


def test_unknown_strategy_arguments_are_named():
    with pytest.raises(ValueError, match="strategy_kwargs.*momentum"):
        ESTrainer(GENOME, _problem(), _config(strategy_kwargs={"momentum": 0.9}))
    with pytest.raises(ValueError, match="strategy_params.*mutation_rate"):
        ESTrainer(
            GENOME,
            _problem(),
            _config(strategy="SimpleGA", strategy_params={"mutation_rate": 0.5}),
        )


@pytest.mark.parametrize("strategy", FIVE)
def test_each_strategy_runs_and_keeps_the_raw_best(strategy):
    trainer = ESTrainer(GENOME, _problem(), _config(strategy=strategy))
    start_key = trainer.state.key
    seen = []
    trainer.fit(3, callback=seen.append, log_every=0)
    history = trainer.history
    assert seen == history
    assert [m["generation"] for m in history] == [0, 1, 2]
    best_ever = [m["best_ever_return"] for m in history]
    assert all(b >= a for a, b in zip(best_ever, best_ever[1:]))
    assert best_ever[-1] == max(m["best_return"] for m in history)
    assert all(m["best_return"] >= m["mean_return"] for m in history)
    assert float(trainer.state.best_return) == best_ever[-1]
    assert int(trainer.state.generation) == 3

    # The kept weights really score the kept return on their generation's
    # episodes (the generation key chain is split(key, 4): next, ask, eval, tell).
    best_generation = int(np.argmax([m["best_return"] for m in history]))
    key = start_key
    for _ in range(best_generation):
        key = jax.random.split(key, 4)[0]
    eval_key = jax.random.split(key, 4)[2]
    weights = trainer.get_weights()["conn_weights"]
    score = trainer.fitness({"conn_weights": jnp.asarray(weights)}, eval_key)
    np.testing.assert_allclose(float(score), best_ever[-1], rtol=1e-5)

    # Disabled and padding slots keep compile()'s values: 0.5 and 0.0.
    np.testing.assert_array_equal(weights[5:], [0.5, 0.0, 0.0])
    assert weights.shape == (8,) and weights.dtype == np.float32
    outputs = trainer.get_network()(np.zeros((4, 5), np.float32))
    assert outputs.shape == (4, 1)


def test_mean_weights_of_distribution_strategies_only():
    trainer = ESTrainer(GENOME, _problem(), _config(strategy="OpenES"))
    mean = trainer.get_mean_weights()["conn_weights"]
    np.testing.assert_array_equal(mean, trainer.initial_params["conn_weights"])
    trainer.fit(1, log_every=0)
    moved = trainer.get_mean_weights()["conn_weights"]
    assert not np.array_equal(moved[:5], mean[:5])
    np.testing.assert_array_equal(moved[5:], mean[5:])
    ga = ESTrainer(GENOME, _problem(), _config(strategy="SimpleGA"))
    with pytest.raises(ValueError, match="SimpleGA keeps a population"):
        ga.get_mean_weights()


def test_fitness_of_the_initial_mean_is_the_compiled_networks_return():
    problem = _problem()
    trainer = ESTrainer(GENOME, problem, _config(shared_weight=-0.7))
    module, variables = compile(GENOME, -0.7)

    def act(observation):
        return module.apply(variables, observation[None, :])[0]

    key = jax.random.PRNGKey(11)
    expected = float(jax.jit(problem.policy_fitness, static_argnums=0)(act, key))
    start = trainer.initial_params
    np.testing.assert_array_equal(
        start["conn_weights"], variables["params"]["conn_weights"]
    )
    assert float(jax.jit(trainer.fitness)(start, key)) == expected
    # The generation's vmapped path scores the mean the same.
    mean = jnp.full((2, trainer.num_dims), -0.7, jnp.float32)
    returns = jax.jit(trainer.population_returns)(mean, key)
    np.testing.assert_allclose(np.asarray(returns), [expected, expected], rtol=1e-6)


def test_tuning_picks_the_best_grid_weight_on_the_tuning_key():
    problem = _problem()
    grid = [-1.5, -0.5, 0.5, 1.5]
    trainer = ESTrainer(GENOME, problem, _config(shared_weight=None, tuning_grid=grid))
    returns = []
    for weight in grid:
        module, variables = compile(GENOME, weight)
        returns.append(
            float(
                problem.policy_fitness(
                    lambda o, m=module, v=variables: m.apply(v, o[None, :])[0],
                    trainer.tuning_key,
                )
            )
        )
    assert trainer.shared_weight == grid[int(np.argmax(returns))]
    weights = trainer.initial_params["conn_weights"]
    np.testing.assert_array_equal(weights[:6], [trainer.shared_weight] * 6)


@pytest.mark.parametrize("strategy", ["OpenES", "SimpleGA"])
def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(strategy, tmp_path):
    problem = _problem()
    straight = ESTrainer(GENOME, problem, _config(strategy=strategy))
    straight.fit(5, log_every=0)

    first = ESTrainer(GENOME, problem, _config(strategy=strategy))
    checkpointer = Checkpointer(str(tmp_path / "ckpt"))
    first.fit(3, log_every=0, checkpointer=checkpointer)
    resumed = ESTrainer(GENOME, problem, _config(strategy=strategy))
    assert resumed.restore(Checkpointer(str(tmp_path / "ckpt"))) == 3
    resumed.fit(2, log_every=0)

    assert resumed.history == straight.history
    for a, b in zip(
        jax.tree_util.tree_leaves(jax.device_get(resumed.state)),
        jax.tree_util.tree_leaves(jax.device_get(straight.state)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert resumed.state.key.dtype == jnp.uint32


@struct.dataclass
class _KeyedState(open_es.State):
    noise_key: jax.Array


class _KeyedOpenES(open_es.Open_ES):
    """OpenES drawing its noise from a typed key kept in its state."""

    def _init(self, key, params):
        state = super()._init(key, params)
        fields = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
        return _KeyedState(**fields, noise_key=jax.random.key(7))

    def _ask(self, key, state, params):
        return super()._ask(jax.random.key_data(state.noise_key), state, params)

    def _tell(self, key, population, fitness, state, params):
        state = super()._tell(key, population, fitness, state, params)
        return state.replace(noise_key=jax.random.split(state.noise_key)[0])


def test_typed_keys_in_a_strategy_state_are_stored_as_key_data(monkeypatch, tmp_path):
    monkeypatch.setitem(STRATEGIES._entries, "KeyedOpenES", _KeyedOpenES)
    problem = _problem()
    config = dict(strategy="KeyedOpenES")
    straight = ESTrainer(GENOME, problem, _config(**config))
    for leaf in jax.tree_util.tree_leaves(straight.state):
        assert not jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)
    straight.fit(2, log_every=0)
    first = ESTrainer(GENOME, problem, _config(**config))
    first.fit(1, log_every=0, checkpointer=Checkpointer(str(tmp_path)))
    resumed = ESTrainer(GENOME, problem, _config(**config))
    resumed.restore(Checkpointer(str(tmp_path)))
    resumed.fit(1, log_every=0)
    assert resumed.history == straight.history


def test_nonfinite_returns_are_counted_and_never_the_best():
    # Candidates whose first connection weight is above 0.5 "blow up": their
    # return is -inf, as an episode with a NaN observation scores; the others
    # score a finite swing-up return.
    problem = swingup.SwingUpProblem(
        episodes=1, params=swingup.SwingUpParams(max_steps=20)
    )
    trainer = ESTrainer(GENOME, problem, _config())
    finite_returns = trainer.population_returns

    def returns(population, key):
        first_weight = jax.vmap(trainer.conn_weights)(population)[:, 0]
        return jnp.where(first_weight > 0.5, -jnp.inf, finite_returns(population, key))

    trainer.population_returns = returns
    trainer._generation = jax.jit(trainer._run_generation)
    history = []
    trainer.fit(3, callback=history.append)
    assert sum(m["nonfinite"] for m in history) > 0
    assert all(np.isfinite(m["best_return"]) for m in history)
    assert all(np.isfinite(m["mean_return"]) for m in history)
    assert float(trainer.trained_params()["conn_weights"][0]) <= 0.5
