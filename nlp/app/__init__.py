"""App layer: the command line, the review app server, the demo and the Streamlit UI."""
