"""The public face: the scikit-learn estimators (``estimator``), model directories
(``persistence``), prediction tables and scores (``prediction``), explanations (``explanation``, ``attribution``, ``html_report``)
and ONNX export (``onnx_export``)."""
