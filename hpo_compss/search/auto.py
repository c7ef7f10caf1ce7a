"""``"algorithm": "auto"``: the searcher that suits the study, chosen from its space and budget.

- **grid** when every parameter has finitely many values and the whole grid fits the trial budget:
  trying every config is then the best any searcher can do.
- **tpe** from the start when a sub-space has more than ``GP_MAX_DIMS`` dimensions or the space
  more than ``GP_MAX_BRANCHES`` exclusive branches: a GP's kernel over many dimensions needs more
  results than a study has, and each branch would need a GP of its own.
- otherwise **gp** for the first ``GP_CONFIGS`` configs, then **tpe**: a GP finds the most with few
  results, but its fit grows as the cube of their number, while TPE stays at a few milliseconds per
  config; TPE starts from every result the GP's configs gave. OptunaHub's AutoSampler makes the same
  move from GPSampler to TPESampler after a few hundred trials.

The choice depends on the space, the budget and the config id only, so a resumed study chooses as
the first run did.
"""
from __future__ import annotations

from .base import Searcher, Suggestion
from .gp import GPSearch
from .grid import GridSearch
from .tpe import TPESearch

GP_CONFIGS = 250
GP_MAX_DIMS = 16
GP_MAX_BRANCHES = 8


class AutoSearch(Searcher):
    name = "auto"

    def configure(self) -> None:
        self.batch = self.option("batch", int, 0, 0, 100_000)
        model_options = {"batch": self.batch} if self.batch else {}
        self.grid: GridSearch | None = None
        #: the searchers in the order they take over, each with the first config id it proposes
        self.plan: list[tuple[int, Searcher]] = []
        subspaces = self.space.subspaces
        dims = max(sub.dims for sub in subspaces)
        if all(domain.finite for sub in subspaces for domain in sub.leaves.values()):
            grid = GridSearch(self.space, self.seed, {})
            if self.budget is None or grid.size <= self.budget:
                self.grid, self.plan = grid, [(0, grid)]
                self.batch = 0  # a grid ignores results: its configs never depend on the order they end in
                self.choice = f"grid: all {grid.size} configs fit the budget"
                return
        if dims > GP_MAX_DIMS or len(subspaces) > GP_MAX_BRANCHES:
            why = (f"{_count(dims, 'dimension')} (more than {GP_MAX_DIMS})" if dims > GP_MAX_DIMS
                   else f"{_count(len(subspaces), 'branch')} (more than {GP_MAX_BRANCHES})")
            self.plan = [(0, TPESearch(self.space, self.seed, model_options, self.mode))]
            self.choice = f"tpe: {why}, too many for a GP"
        else:
            self.plan = [(0, GPSearch(self.space, self.seed, model_options, self.mode))]
            self.choice = f"gp ({_count(dims, 'dimension')}, {_count(len(subspaces), 'branch')}: few enough for a GP)"
            if self.budget is None or self.budget > GP_CONFIGS:
                self.plan.append((GP_CONFIGS, TPESearch(self.space, self.seed, model_options, self.mode)))
                self.choice += f" for the first {GP_CONFIGS} configs, then tpe, which stays fast with many results"
        self.adaptive = True

    def describe(self) -> str:
        return f"algorithm auto chose {self.choice}{self.batching()}"

    @property
    def size(self) -> int | None:
        return self.grid.size if self.grid is not None else None

    def _searchers(self) -> list[Searcher]:
        return [searcher for _, searcher in self.plan]

    def _for(self, config_id: int) -> Searcher:
        return [searcher for first, searcher in self.plan if first <= config_id][-1]

    def ask(self, config_id: int, budget: float | None = None, subspace: str | None = None) -> Suggestion:
        """The config of the searcher in charge of ``config_id``; the others note it as pending."""
        chosen = self._for(config_id)
        suggestion = chosen.ask(config_id, budget, subspace)
        for other in self._searchers():
            if other is not chosen:
                other.restore(config_id, suggestion)
        return suggestion

    def tell(self, config_id: int, suggestion: Suggestion, value: float | None, budget: float | None = None) -> None:
        for searcher in self._searchers():
            searcher.tell(config_id, suggestion, value, budget)

    def restore(self, config_id: int, suggestion: Suggestion) -> bool:
        return all([searcher.restore(config_id, suggestion) for searcher in self._searchers()])


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "es" if noun.endswith("ch") else "s")
