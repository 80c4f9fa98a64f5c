"""Personas and their avatars: samples in every modality, training runs across providers, a database.

``from polyface import Studio``; see :mod:`polyface.persona.studio`.
"""
