"""The numbers behind the robustness map: pure functions on counts and grids, no Streamlit, no SQL.

* :func:`wilson_interval`: the Wilson score 95% interval of a success fraction k/n. A cell with
  4 seeds that all solved reads 4/4 = 1.0 but its interval is [0.51, 1.0]: the map shows the
  fraction, the hover shows how little 4 seeds can say.
* :func:`neighbourhood_success`: success pooled over a cell and its grid neighbours, the
  "flat basin, not thin peak" reading of robustness asked for in optuna#2374.
* :func:`robust_optimum`: the most robust configuration: the highest lower Wilson bound of
  the neighbourhood's pooled success, none below a floor (`ROBUST_RULE` says it in a sentence).
* :func:`robust_fraction`: the share of the swept grid at or above a success threshold.
* :func:`two_way_anova`: how much of the variation of success over an lr x size grid the two
  main effects explain and how much is interaction (Greff et al. 2017, Sec. V-D / Fig. 6).

Grids are 2-D float arrays indexed ``[y, x]`` (rows = y-axis values, columns = x-axis values, both
in ascending order), with NaN where the study has no completed trial.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
"""Two-sided 95% standard normal quantile."""


def wilson_interval(
    k: np.ndarray | float, n: np.ndarray | float, z: float = Z95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score 95% interval for k successes out of n trials (elementwise; NaN where
    n == 0): ``(k + z^2/2) / (n + z^2) -+ z / (n + z^2) * sqrt(k (n - k) / n + z^2 / 4)``.

    The closed form, vectorised: the same bounds as ``scipy.stats.binomtest(k, n)
    .proportion_ci(method="wilson")`` (a test holds them to it), which computes one interval per
    call and cost a 2,000-cell map 2 s.

    Example:
        >>> lo, hi = wilson_interval(4, 4)
        >>> round(float(lo), 3), round(float(hi), 3)
        (0.51, 1.0)
        >>> lo, hi = wilson_interval(0, 10)
        >>> round(float(lo), 3), round(float(hi), 3)
        (0.0, 0.278)
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN counts, n == 0: NaN
        ok = n > 0
        z2 = z * z
        centre = (k + z2 / 2) / (n + z2)
        half = z / (n + z2) * np.sqrt(np.maximum(k * (n - k) / n, 0.0) + z2 / 4)
        low = np.where(ok, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(ok, np.clip(centre + half, 0.0, 1.0), np.nan)
    return np.asarray(low), np.asarray(high)


def neighbourhood_success(solved: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Success pooled over each cell and its up to 8 grid neighbours (a 3x3 window of indices).

    Pooling sums solved and seeds over the window, so it is the seed-weighted mean of the
    window's success rates (the plain mean when every cell has the same number of seeds). Cells
    the study did not run (seeds == 0 or NaN) add nothing; an empty cell stays NaN.

    Example:
        >>> s = np.array([[4.0, 4.0, 0.0]])
        >>> n = np.array([[4.0, 4.0, 4.0]])
        >>> neighbourhood_success(s, n).round(3).tolist()
        [[1.0, 0.667, 0.5]]
    """
    sum_s, sum_n = neighbourhood_counts(solved, seeds)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = sum_s / sum_n
    return np.where(np.nan_to_num(np.asarray(seeds, dtype=float)) > 0, out, np.nan)


ROBUST_FLOOR = 0.5
"""The most robust configuration must have a neighbourhood whose 95% lower Wilson bound on
success reaches this (a majority of the seeds around it solve, with 95% confidence), and a
success of its own at least this; otherwise there is none."""

ROBUST_RULE = (
    "Most robust = the cell whose neighbourhood (the cell and its up to 8 grid neighbours, seeds "
    "pooled) has the highest 95% lower Wilson bound on success, so a corner with few neighbours "
    "or a cell of few seeds needs more evidence; none is named unless that bound and the cell's "
    "own success reach {floor:.2f}."
)
"""One sentence for the page (format with floor=ROBUST_FLOOR)."""


def neighbourhood_counts(solved: np.ndarray, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(solved, seeds) summed over each cell's 3x3 window of indices (missing cells add 0)."""
    solved = np.nan_to_num(np.asarray(solved, dtype=float))
    seeds = np.nan_to_num(np.asarray(seeds, dtype=float))
    ps, pn = np.pad(solved, 1), np.pad(seeds, 1)
    rows, cols = seeds.shape
    sum_s = sum(ps[dy : dy + rows, dx : dx + cols] for dy in range(3) for dx in range(3))
    sum_n = sum(pn[dy : dy + rows, dx : dx + cols] for dy in range(3) for dx in range(3))
    return np.asarray(sum_s, dtype=float), np.asarray(sum_n, dtype=float)


def robust_optimum(
    solved: np.ndarray, seeds: np.ndarray, floor: float = ROBUST_FLOOR
) -> tuple[tuple[int, int] | None, np.ndarray]:
    """The most robust cell (row, col) and the grid of scores it maximises (see ROBUST_RULE).

    Score = lower Wilson 95% bound of the neighbourhood's pooled solved / seeds. Eligible cells
    ran (seeds > 0) and have their own success >= ``floor``; the best eligible score must reach
    ``floor``, else the answer is None (a grid where almost nothing solved has no robust optimum).
    Ties go to the cell with the higher own lower bound, then to the first in row-major order.

    Example: a corner at 4/4 beside 4/4 neighbours loses to the centre of a 3x3 plateau at 4/4,
    since the centre's neighbourhood pools 36 seeds and the corner's 16.
        >>> k = np.array([[4, 4, 0, 0], [4, 4, 4, 4], [0, 4, 4, 4], [0, 4, 4, 4]], dtype=float)
        >>> robust_optimum(k, np.full_like(k, 4.0))[0]
        (2, 2)
    """
    solved = np.asarray(solved, dtype=float)
    seeds = np.asarray(seeds, dtype=float)
    k, n = neighbourhood_counts(solved, seeds)
    ran = np.nan_to_num(seeds) > 0
    low, _ = wilson_interval(np.where(ran, k, 0.0), np.where(ran, n, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(ran, np.nan_to_num(solved) / seeds, np.nan)
    own_low, _ = wilson_interval(np.where(ran, np.nan_to_num(solved), 0), np.where(ran, seeds, 0))
    eligible = ran & (np.nan_to_num(own) >= floor - 1e-12)
    score = np.where(eligible, low, np.nan)
    best = argmax_2d(score, tie_break=own_low)
    if best is None or score[best] < floor - 1e-12:
        return None, low
    return best, low


def robust_fraction(success: np.ndarray, threshold: float) -> tuple[int, int]:
    """(cells with success >= threshold, cells the study ran) over a grid; NaN cells not counted.

    Example:
        >>> robust_fraction(np.array([[1.0, 0.9], [0.5, np.nan]]), 0.9)
        (2, 3)
    """
    success = np.asarray(success, dtype=float)
    ran = ~np.isnan(success)
    return int(np.sum(success[ran] >= threshold - 1e-12)), int(ran.sum())


def argmax_2d(values: np.ndarray, tie_break: np.ndarray | None = None) -> tuple[int, int] | None:
    """(row, col) of the largest non-NaN value, or None. Ties go to the largest ``tie_break``
    value (e.g. the cell's own success when neighbourhoods tie, as on a 2x2 grid where every
    neighbourhood is the whole grid), then to the first in row-major order."""
    values = np.asarray(values, dtype=float)
    if values.size == 0 or np.all(np.isnan(values)):
        return None
    top = np.nanmax(values)
    tied = np.where(np.isnan(values), False, values >= top - 1e-12)
    if tie_break is not None:
        tb = np.where(tied, np.nan_to_num(np.asarray(tie_break, dtype=float), nan=-np.inf), -np.inf)
        tied &= tb >= tb.max() - 1e-12
    r, c = np.unravel_index(int(np.argmax(tied)), values.shape)
    return int(r), int(c)


@dataclass(frozen=True)
class Anova2:
    """Two-way decomposition of a complete grid of cell means (no replication term)."""

    rows: int
    cols: int
    total: float
    """Sum of squares of the cell means about the grand mean."""
    row_effect: float
    """Share of ``total`` explained by the row factor's main effect (0..1)."""
    col_effect: float
    """Share explained by the column factor's main effect."""
    interaction: float
    """Share left to the interaction (1 - row_effect - col_effect)."""
    noise_floor: float | None = None
    """Expected interaction share from binomial noise alone (None when counts are unknown)."""


def two_way_anova(means: np.ndarray, seeds: np.ndarray | None = None) -> Anova2 | None:
    """Decompose a complete I x J grid of cell means m_ij into main effects and interaction.

    With grand mean mu, row effects a_i = mean_j m_ij - mu, column effects b_j = mean_i m_ij - mu
    and interaction r_ij = m_ij - mu - a_i - b_j:

        SS_total = sum_ij (m_ij - mu)^2 = J sum_i a_i^2 + I sum_j b_j^2 + sum_ij r_ij^2

    and the shares are SS_rows/SS_total, SS_cols/SS_total, SS_int/SS_total. This is the
    functional-ANOVA decomposition of the map's success function on the grid with a uniform
    measure, the quantity fANOVA estimates for a pair of hyperparameters (Hutter et al. 2014).

    With ``seeds`` (cell sample sizes), ``noise_floor`` estimates the share of SS_total that pure
    binomial noise would put into the interaction term if there were no true interaction:
    E[SS_int | no interaction] = (I-1)(J-1)/(IJ) * sum_ij m_ij(1-m_ij)/n_ij. An interaction share
    near the floor is indistinguishable from sampling noise.

    Returns None for a grid smaller than 2 x 2, with NaN cells, or with no variation at all.
    """
    m = np.asarray(means, dtype=float)
    if m.ndim != 2 or m.shape[0] < 2 or m.shape[1] < 2 or np.isnan(m).any():
        return None
    I, J = m.shape
    mu = m.mean()
    a = m.mean(axis=1) - mu
    b = m.mean(axis=0) - mu
    r = m - mu - a[:, None] - b[None, :]
    ss_total = float(((m - mu) ** 2).sum())
    if ss_total <= 1e-15:
        return None
    ss_rows = float(J * (a**2).sum())
    ss_cols = float(I * (b**2).sum())
    ss_int = float((r**2).sum())
    floor = None
    if seeds is not None:
        n = np.asarray(seeds, dtype=float)
        var = np.where(n > 0, m * (1 - m) / np.maximum(n, 1), 0.0)
        floor = min(1.0, float((I - 1) * (J - 1) / (I * J) * var.sum()) / ss_total)
    return Anova2(I, J, ss_total, ss_rows / ss_total, ss_cols / ss_total, ss_int / ss_total, floor)


def complete_subgrid(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boolean row and column masks of a NaN-free subgrid, found by greedily dropping the row or
    column with the most NaNs until none are left (a grid the study ran fully is kept whole)."""
    g = np.asarray(grid, dtype=float)
    rows = np.ones(g.shape[0], dtype=bool)
    cols = np.ones(g.shape[1], dtype=bool)
    while rows.any() and cols.any():
        sub = np.isnan(g[np.ix_(rows, cols)])
        if not sub.any():
            break
        row_nan = sub.sum(axis=1) / max(sub.shape[1], 1)
        col_nan = sub.sum(axis=0) / max(sub.shape[0], 1)
        if row_nan.max() >= col_nan.max():
            rows[np.flatnonzero(rows)[int(row_nan.argmax())]] = False
        else:
            cols[np.flatnonzero(cols)[int(col_nan.argmax())]] = False
    return rows, cols


def median_index(scores: list[float]) -> int:
    """Index of the configuration whose score is the (lower) median of ``scores``."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    return order[(len(order) - 1) // 2]
