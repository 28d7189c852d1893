"""SyncTalk Web portrait toolchain: video -> prepared training set."""

__version__ = "0.1.0"
