"""Topics stage: what people write about, guided by the codebook (the only package importing
bertopic). A project's topics are fitted, saved and accepted by nlp.pipeline."""
from .metrics import Stability
from .model import LemmaAnalyzer, Topic, TopicResult, fit_topics, topic_label
from .persist import load_topics, save_topics
from .view import TopicsView, view_topics

__all__ = ["Topic", "TopicResult", "Stability", "fit_topics", "LemmaAnalyzer", "topic_label",
           "TopicsView", "load_topics", "save_topics", "view_topics"]
