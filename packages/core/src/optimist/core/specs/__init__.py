"""Specs: the one text form for every model and every data set a command or an application can take.

``resolve_model("zoo:fashion-mnist/small-cnn/standard")``, ``resolve_model("torchvision:resnet18?num_classes=10")``,
``resolve_data("fashion-mnist?n=200")``, ``resolve_data("imagefolder:/photos?size=32")``: see
:mod:`optimist.core.specs.models` and :mod:`optimist.core.specs.data` for every kind and option.

>>> from optimist.core.specs import resolve_data
>>> resolve_data("digits?n=20").images.shape
torch.Size([20, 1, 8, 8])
"""

from optimist.core.specs.data import kinds as data_kinds
from optimist.core.specs.data import resolve_data
from optimist.core.specs.models import resolve_model

__all__ = ["data_kinds", "resolve_data", "resolve_model"]
