"""Streaming metric objects with exactly the reference's semantics."""

from keras_heads.metrics.auc import AUC
from keras_heads.metrics.confusion import BinaryAccuracy
from keras_heads.metrics.confusion import Precision
from keras_heads.metrics.confusion import Recall
from keras_heads.metrics.histogram import Counts
from keras_heads.metrics.histogram import ScoreHistogram
from keras_heads.metrics.mean import Accuracy
from keras_heads.metrics.mean import AccuracyBaseline
from keras_heads.metrics.mean import Mean
from keras_heads.metrics.totals import HistogramTotals
from keras_heads.metrics.weights import broadcast_weights
