"""analysis — what a network is and does, without drawing: shape arithmetic (``shapes``), the
per-layer table (``summary``), the graph traced as it runs (``graph``), which feature maps the units
of a dense block read (``connections``), accuracy (``evaluate``) and predictions with the confusion
matrix (``predictions``)."""
from .connections import Connections, dense_connections
from .evaluate import evaluate_accuracy
from .graph import Edge, Graph, Node, trace_graph
from .predictions import Predictions, confusion_matrix, predict
from .shapes import conv_output_size, min_input_size, num_params, receptive_field
from .summary import LayerRow, ModelSummary, summary

__all__ = ["Connections", "Edge", "Graph", "LayerRow", "ModelSummary", "Node", "Predictions", "confusion_matrix",
           "conv_output_size", "dense_connections", "evaluate_accuracy", "min_input_size", "num_params", "predict",
           "receptive_field", "summary", "trace_graph"]
