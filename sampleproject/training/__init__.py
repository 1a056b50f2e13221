"""Training of the Zoo classifier: ``sampleproject train`` runs :func:`job.train`.

One module per step, in the order the job runs them:

- :mod:`.config`: the training configuration (``config/train.toml``), validated;
- :mod:`.data`: the data set, read and validated against :mod:`sampleproject.schema`;
- :mod:`.model`: the scikit-learn classifier;
- :mod:`.evaluation`: stratified cross-validation, and the confusion-matrix figure;
- :mod:`.gate`: the model quality gate;
- :mod:`.export`: the ONNX export and its parity check;
- :mod:`.metadata`: the metadata file and the atomic writing of the model folder;
- :mod:`.tracking`: MLflow (parameters, metrics, figure, model, registry);
- :mod:`.job`: the job that ties them together.

This package imports scikit-learn, MLflow and friends (the ``train`` extra). Nothing outside
it imports them at start-up, so the installed runtime never needs them: the one module the
commands import first, :mod:`.prerequisites`, checks that they are installed. Beside the
job, :mod:`.promotion` moves the registry's champion alias, under :mod:`.champion_lock`.
"""
