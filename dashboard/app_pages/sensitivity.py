"""Sensitivity: which hyperparameters decide success, and does learning rate interact with size?

Importance: Optuna's evaluators (PED-ANOVA by default: closed form, fast at 10k trials;
Watanabe et al. 2023) on the trials' success rates, per model. Interaction: the two-way
decomposition of success over the lr x size grid (`dashboard.stats.two_way_anova`), to check
Greff et al. (2017): "learning rate is the most important hyperparameter ... the interaction
between learning rate and network size is quite small".
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import analysis, data, detail_charts, importance, ui
from dashboard.queries import LR, MODEL

MIN_TRIALS = 4
MIN_RANK_TRIALS = 10  # fewer trials in a scope: importances shown as numbers, not a ranking
MIN_SOLVED = 5  # fewer solved seeds behind a verdict: a small-sample warning goes with it

cur = ui.current()
st.title("Sensitivity")

try:
    values = data.param_values(cur.url, cur.study_id)
except data.QueryError as e:
    ui.query_error(e)
    st.stop()
n_done = int(cur.study["n_complete"]) + int(cur.study["n_pruned"])
if n_done < MIN_TRIALS:
    st.info(
        f"Study `{cur.name}` has {n_done} finished trial{'s' if n_done != 1 else ''}; importance "
        f"and interaction need at least {MIN_TRIALS} (and a swept grid)."
    )
    st.stop()
swept = analysis.swept(values)

st.header("Hyperparameter importance for success")
evaluators = importance.available_evaluators()
c1, c2, c3 = st.columns(3)
evaluator = c1.selectbox(
    "evaluator",
    list(evaluators.keys()),
    format_func=lambda k: evaluators[k],
    key="sens_evaluator",
    help="fANOVA and mean decrease impurity need scikit-learn, which is not installed."
    if len(evaluators) == 1
    else None,
)
quantile = c2.number_input(
    "PED-ANOVA top quantile",
    0.01,
    0.5,
    0.1,
    0.05,
    key="sens_quantile",
    help="Importance for reaching the top γ of trials (target_quantile).",
)
by_model = c3.toggle(
    "one scope per model",
    value=True,
    key="sens_by_model",
    help="Off: one scope over all models, with model as a parameter.",
)


@st.cache_data(ttl=data.TTL_S, show_spinner="Computing importances…")
def importances(
    url: str, study_id: int, evaluator: str, quantile: float, by_model: bool
) -> tuple[pd.DataFrame, list[str]]:
    trials, params = data.trials_with_params(url, study_id)
    try:
        space = importance.space_of(*data.stored_space(url, study_id))
    except ValueError as e:
        return pd.DataFrame(columns=["scope", "param", "importance", "n_trials"]), [str(e)]
    return importance.param_importances(trials, params, space, evaluator, quantile, by_model)


def render() -> None:
    notes: list[str] = []
    try:
        imp, notes = importances(cur.url, cur.study_id, str(evaluator), float(quantile), by_model)
    except data.QueryError as e:
        ui.query_error(e)
        imp = None
    except Exception as e:  # an evaluator refusing a tiny or degenerate study
        st.warning(f"Importance could not be computed: {type(e).__name__}: {e}")
        imp = None
    if imp is not None and imp.empty:
        st.info("No scope has trials that differ in both parameters and success: nothing to rank.")
    elif imp is not None:
        ranked = imp[imp.groupby("scope")["param"].transform("count") > 1]
        if not ranked.empty:
            ui.figure(
                detail_charts.importance_bars(ranked),
                f"{cur.name}-importance",
                key="imp_figure",
                title=analysis.figure_title("Importance for success", cur.study),
            )
        for scope, sub in imp.groupby("scope", sort=True):
            top = sub.sort_values("importance", ascending=False).iloc[0]
            n = int(top["n_trials"])
            if len(sub) == 1:
                st.markdown(
                    f"**{scope}**: only `{top['param']}` varies among its {n} trials, so its "
                    "importance is 1 by construction: no ranking to read."
                )
            elif n < MIN_RANK_TRIALS:
                st.markdown(
                    f"**{scope}**: {n} trials are too few to rank parameters (at least "
                    f"{MIN_RANK_TRIALS}); the numbers are shown, no claim is made."
                )
            else:
                st.markdown(
                    f"**{scope}**: most important `{top['param']}` ({top['importance']:.2f}, "
                    f"{n} trials)"
                )
        ui.table(
            imp,
            f"{cur.name}-importance",
            key="imp_table",
            column_config={"importance": st.column_config.NumberColumn(format="%.3f")},
        )
    for note in notes:
        st.caption(f"Note from the evaluator: {note}")

    st.header("Learning rate × size interaction")
    numeric = [n for n in swept if n != MODEL]
    if LR not in numeric:
        st.info("The study does not sweep the learning rate (`lr`): no interaction to check.")
        return
    task_names = data.task_param_names(cur.study.get("spec_toml"))
    task_names.add(str(cur.study.get("lag_param") or ""))
    size_names: tuple[str, ...] = ("blocks", "cells_per_block", "hidden", "match_weights")
    size_names += ("channels", "levels", "width", "layers")  # TCN, Transformer
    sizes: list[str] = [n for n in size_names if n in numeric]
    # the task's parameters (its lag) describe the problem, not the net: never a "size"
    sizes += [n for n in numeric if n not in sizes and n != LR and n not in task_names]
    if not sizes:
        st.info("The study sweeps no size parameter (blocks, cells_per_block, hidden).")
        return
    size = st.selectbox("size parameter", sizes, key="sens_size")
    dims = (
        (MODEL, ()),
        analysis.choose_dim(LR, values),
        analysis.choose_dim(size, values),
    )
    try:
        cells = data.aggregate(cur.url, cur.study_id, dims)
    except data.QueryError as e:
        ui.query_error(e)
        return
    anova = analysis.interaction_table(cells, LR, size)
    if anova.empty or "lr_share" not in anova:
        st.info(f"No model has a complete lr × {size} grid (at least 2 × 2) with varying success.")
        if not anova.empty:
            ui.table(anova, f"{cur.name}-interaction", key="anova_table")
        return
    st.caption(
        "Shares of the variance of the cell success rates over the grid (success pooled over the "
        "other parameters): SS_lr = J·Σ a_i², SS_size = I·Σ b_j², SS_int = Σ r_ij², with "
        "m_ij = μ + a_i + b_j + r_ij. The black horizontal bar across each column marks how much "
        "interaction the seeds' binomial noise alone would produce."
    )
    ok = anova.dropna(subset=["lr_share"])
    ui.figure(
        detail_charts.interaction_bars(ok, size),
        f"{cur.name}-interaction",
        key="anova_figure",
        title=analysis.figure_title(f"Learning rate × {size}", cur.study),
    )
    for r in ok.itertuples(index=False):
        lr_first = r.lr_share > r.size_share
        small = r.interaction_share < max(r.lr_share, r.size_share)
        floor = f" (noise alone: ~{r.noise_floor:.0%})" if pd.notna(r.noise_floor) else ""
        st.markdown(
            f"**{r.model}** ({r.grid}): learning rate {r.lr_share:.0%}, {size} {r.size_share:.0%}, "
            f"interaction {r.interaction_share:.0%}{floor}. Learning rate matters most: "
            f"{'yes' if lr_first else 'no'}; interaction smaller than the main effect: "
            f"{'yes' if small else 'no'}."
        )
        if r.n_solved < MIN_SOLVED:
            st.warning(
                f"{r.model}: small sample: these shares rest on {r.n_solved} solved of "
                f"{r.n_seeds} seeds; one more or one fewer solved seed can flip the verdicts."
            )
    ui.table(anova, f"{cur.name}-interaction", key="anova_table")


ui.live(cur, render)
