"""kefu: a live-chat customer-service system (pykka actors, Tornado, Redis)."""

__version__ = "0.1.0"
