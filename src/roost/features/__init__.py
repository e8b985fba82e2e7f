"""Features: the parts of Roost built on the core's ports (gateway, Telegram, scheduler,
delegation, and third-party ones), each declaring what it contributes.

``contract``: ``Feature`` and ``HttpRoute``; ``methods``: what a WebSocket method is
(``Method``, ``Params``, ``CallContext``, ``MethodError``), so a feature writes its
methods without importing the gateway.
"""

from roost.features.contract import Feature, FeatureFactory, HttpRoute

__all__ = ["Feature", "FeatureFactory", "HttpRoute", "contract", "methods"]
