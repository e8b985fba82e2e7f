"""Features: the parts of Roost built on the core's ports (gateway, Telegram, scheduler,
delegation, and third-party ones), each declaring what it contributes."""

from roost.features.contract import Feature, FeatureFactory, HttpRoute

__all__ = ["Feature", "FeatureFactory", "HttpRoute"]
