"""Model backends behind one chat interface (see api.py); load them by spec with spec.load_model."""
