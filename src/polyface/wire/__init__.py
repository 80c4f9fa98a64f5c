"""Wire formats shared by several vendors. Pure translation: dicts in, typed models out; no I/O."""
