"""Training for the local provider, one module per modality: text, voice, audio, image, video."""
