"""Topics stage: what people write about, guided by the codebook (the only package importing bertopic)."""
from .metrics import Stability
from .model import LemmaAnalyzer, Topic, TopicResult, fit_topics, topic_label
from .project import (TopicsView, accept_emergent, fit_project_topics, load_project_topics,
                      load_topics, project_fingerprint, save_topics, topics_command, topics_dir,
                      view_topics)

__all__ = ["Topic", "TopicResult", "Stability", "fit_topics", "LemmaAnalyzer", "topic_label",
           "TopicsView", "accept_emergent", "fit_project_topics", "load_project_topics",
           "load_topics", "project_fingerprint", "save_topics", "topics_command", "topics_dir",
           "view_topics"]
