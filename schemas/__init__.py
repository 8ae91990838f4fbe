"""The input contract (``contract``) and the pandera schemas (``extracts``) of the department extracts."""
