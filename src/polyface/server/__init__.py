"""The polyface server: REST API, an OpenAI-compatible persona gateway, and the avatar studio page."""
