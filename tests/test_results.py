from hpo_compss.results import Ledger


def record(trial, value, repeats=2, status="complete", **extra):
    return {"trial": trial, "config_id": trial // repeats, "repeat": trial % repeats, "attempt": 1, "status": status,
            "config": {"id": trial // repeats}, "value": value, **extra}


def test_best_is_the_best_mean_of_the_configs_whose_repeats_all_ended():
    ledger = Ledger("min", repeats=2)
    ledger.add(record(0, 1.0))   # config 0: 1.0 so far, its mean is not known yet
    assert ledger.best is None
    ledger.add(record(2, 2.0))
    ledger.add(record(3, 2.0))   # config 1: mean 2.0
    assert ledger.best.config_id == 1
    ledger.add(record(1, 5.0))   # config 0: mean 3.0, worse than config 1
    assert ledger.best.config_id == 1 and ledger.best.mean == 2.0
    ledger.add(record(4, 0.5))
    ledger.add(record(5, 1.5))   # config 2: mean 1.0
    assert ledger.best.config_id == 2 and ledger.best.mean == 1.0


def test_a_config_is_done_once_every_repeat_ended_and_retries_do_not_count():
    ledger = Ledger("max", repeats=2)
    assert ledger.add(record(0, 1.0)) is None
    assert ledger.add(record(1, None, status="failed", retry=True)) is None
    assert ledger.count("retrying") == 1
    done = ledger.add(record(1, 3.0))
    assert done is not None and done.mean == 2.0 and ledger.count("retrying") == 0
    assert ledger.status()["n_complete"] == 2 and ledger.status()["best"]["std"] > 0


def test_on_ties_the_best_is_the_lowest_config_whatever_order_they_finished_in():
    for order in ([2, 0, 1], [1, 2, 0], [0, 1, 2]):
        ledger = Ledger("min", repeats=1)
        for trial in order:
            ledger.add(record(trial, 0.5 if trial else 0.9, repeats=1))
        assert ledger.best.config_id == 1, order
