"""The Streamlit robustness-map dashboard (read-only on the study database)."""
