"""App: one module per page of the review app (each runs its render() as a Streamlit page)."""
