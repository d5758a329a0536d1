"""App: the review app's pages, state and widgets (the only package importing streamlit)."""
