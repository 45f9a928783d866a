"""MLflow "models from code" entry point: the logged model is this file, not a pickle.

MLflow executes it at load time; ``set_model`` names the pyfunc to use. Nothing is unpickled,
so a model logged by one version of the code cannot smuggle objects into another.
"""

import mlflow

from models.packaging import PDPyfunc

mlflow.models.set_model(PDPyfunc())
