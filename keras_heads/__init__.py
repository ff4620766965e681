"""keras-heads: TensorFlow Estimator's heads on Keras 3.

A head sits on a network's logits and owns one objective: its loss (example
weights, reductions, custom losses, regularization), its predictions
(probabilities, class ids, class names), its evaluation metrics and its
serving signatures.
"""

from keras_heads.backend import SparseTensorValue
from keras_heads.columns import NumericColumn
from keras_heads.columns import numeric_column
from keras_heads.heads.base import Head
from keras_heads.heads.binary_class import BinaryClassHead
from keras_heads.heads.multi_class import MultiClassHead
from keras_heads.heads.multi_head import MultiHead
from keras_heads.heads.multi_label import MultiLabelHead
from keras_heads.heads.regression import LogisticRegressionHead
from keras_heads.heads.regression import PoissonRegressionHead
from keras_heads.heads.regression import RegressionHead
from keras_heads.heads.sequential import SequentialHeadWrapper
from keras_heads.keys import MetricKeys
from keras_heads.keys import ModeKeys
from keras_heads.keys import PredictionKeys
from keras_heads.keys import SignatureKeys
from keras_heads.model.head_model import HeadModel
from keras_heads.ops.reduction import Reduction
from keras_heads.spec import ClassificationOutput
from keras_heads.spec import EstimatorSpec
from keras_heads.spec import ExportOutput
from keras_heads.spec import PredictOutput
from keras_heads.spec import RegressionOutput

__version__ = "0.1.0"

__all__ = [
    "BinaryClassHead",
    "ClassificationOutput",
    "EstimatorSpec",
    "ExportOutput",
    "Head",
    "HeadModel",
    "LogisticRegressionHead",
    "MetricKeys",
    "ModeKeys",
    "MultiClassHead",
    "MultiHead",
    "MultiLabelHead",
    "NumericColumn",
    "PoissonRegressionHead",
    "PredictOutput",
    "PredictionKeys",
    "Reduction",
    "RegressionHead",
    "RegressionOutput",
    "SequentialHeadWrapper",
    "SignatureKeys",
    "SparseTensorValue",
    "numeric_column",
]
